/*
 * coffer -- the command-line client (DESIGN §1). Verbs land with the
 * control plane issue.
 */
#include <stdio.h>
#include <string.h>

#include "base/version.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("coffer %s\n", COFFER_VERSION);
        return 0;
    }
    fprintf(stderr,
            "usage: coffer --version\n(no commands yet: they arrive with the control plane)\n");
    return argc > 1 ? 2 : 0;
}

/*
 * keyvaultd -- the key vault service (DESIGN §1, §7). Not built yet: the
 * key vault issue delivers it. Until then it refuses to start, loudly.
 */
#include <stdio.h>
#include <string.h>

#include "base/version.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("keyvaultd %s\n", COFFER_VERSION);
        return 0;
    }
    fprintf(stderr, "keyvaultd: not implemented yet\n");
    return 2;
}

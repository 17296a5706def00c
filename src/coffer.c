/*
 * coffer -- the command-line client of cofferd and keyvaultd (DESIGN §1),
 * verbs modelled on az acr / az identity / az keyvault. Everything lives in
 * src/cli/ (cli_main); this main only sets up libcurl around it.
 */
#include <curl/curl.h>
#include <stdio.h>

#include "base/wipemem.h"
#include "cli/cli.h"

int main(int argc, char **argv)
{
    if (cf_wipe_install() != 0) { /* tokens and keys in transit: base/wipemem.h */
        fputs("ERROR: (ClientError) cannot initialize libcurl\n", stderr);
        return 1;
    }
    int code = cli_main(argc, argv, stdout, stderr);
    curl_global_cleanup();
    if (fflush(stdout) != 0 && code == 0)
        code = 1;
    return code;
}

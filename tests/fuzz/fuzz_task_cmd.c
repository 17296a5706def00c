/*
 * fuzz_task_cmd.c -- tasks_cmd_check (registry/tasks.h) on arbitrary
 * bytes: the word splitter with its quotes, purge's arguments (durations,
 * --keep, the POSIX EREs of --filter compiled by regcomp) and import's
 * (the source reference, the target image), both as a quick run's and as
 * a stored task's command.
 * Invariants: an accepted command has a kind, purge or import; a refusal
 * says why; a command accepted as a task's is accepted as a quick run's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/tasks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= META_TASK_CMD_MAX)
        return 0;
    char cmd[META_TASK_CMD_MAX];
    memcpy(cmd, data, size);
    cmd[size] = '\0';
    if (strlen(cmd) != size)
        return 0; /* a NUL inside: the API takes C strings (JSON text) */
    const char *kind = NULL;
    cf_err e = {0};
    cf_code quick = tasks_cmd_check(cmd, &kind, 0, &e);
    if (quick == CF_OK &&
        (kind == NULL || (strcmp(kind, "purge") != 0 && strcmp(kind, "import") != 0)))
        abort();
    if (quick != CF_OK && e.msg[0] == '\0')
        abort();
    cf_code stored = tasks_cmd_check(cmd, NULL, 1, NULL);
    if (stored == CF_OK && quick != CF_OK)
        abort();
    return 0;
}

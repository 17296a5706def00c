/*
 * fuzz_armid.c -- arm_path_parse on arbitrary bytes (no NUL assumed).
 * Invariants: every accepted path has a valid subscription id (unless it
 * is the subscription list) and group name (when it names one), and a
 * resource re-formats to an id that parses to the same parts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/armid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arm_path p;
    if (arm_path_parse(&p, (const char *)data, size) != 0)
        return 0;
    if (p.kind != ARM_SUBSCRIPTIONS && !arm_uuid_valid(p.sub))
        abort();
    if (p.group[0] && !arm_group_name_valid(p.group))
        abort();
    if (p.kind == ARM_RESOURCE) {
        char id[4 * ARM_SEG_MAX];
        arm_path q;
        if (arm_id_format(id, sizeof(id), p.sub, p.group, p.ns, p.type, p.name) != 0 ||
            arm_path_parse(&q, id, strlen(id)) != 0 || q.kind != ARM_RESOURCE ||
            strcmp(q.name, p.name) != 0 || strcmp(q.group, p.group) != 0 || q.rest[0] != '\0')
            abort();
    }
    return 0;
}

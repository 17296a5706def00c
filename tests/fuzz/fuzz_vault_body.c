/*
 * fuzz_vault_body.c -- libFuzzer target for keyvaultd's request bodies: the
 * same bytes go through every body parser of the keys and management APIs
 * (create, import, update, key operation, verify, rotation policy, access
 * policies, network rules). Each must either accept or refuse with CF_EINVAL/CF_ETOOBIG,
 * never crash, leak or read out of bounds. Seeds: tests/fuzz/corpus/vault_body/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "vault/netacl.h"
#include "vault/policy.h"
#include "vault/req.h"
#include "vault/rotation.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    cf_err e = {0};

    vault_create_req cr;
    (void)vault_req_create(&cr, text, size, &e);
    vault_create_req_free(&cr);

    vault_import_req ir;
    cf_err_clear(&e);
    (void)vault_req_import(&ir, text, size, &e);
    vault_import_req_free(&ir);

    vault_update_req ur;
    cf_err_clear(&e);
    (void)vault_req_update(&ur, text, size, &e);
    vault_update_req_free(&ur);

    for (int verify = 0; verify < 2; verify++) {
        vault_op_req op;
        cf_err_clear(&e);
        (void)vault_req_op(&op, text, size, verify, &e);
        vault_op_req_free(&op);
    }

    json_t *j = json_loadb(text, size, 0, NULL);
    if (j) {
        json_t *out = NULL;
        if (vault_rotation_normalize(&out, j, 1, NULL) == CF_OK) {
            (void)vault_rotation_decide(out, 1000, 5000, 4000);
            (void)vault_rotation_expiry(out);
            json_decref(out);
        }
        const json_t *acls = json_object_get(json_object_get(j, "properties"), "networkAcls");
        out = NULL;
        if (vault_netacl_apply(&out, NULL, acls ? acls : j, NULL) == CF_OK) {
            json_t *again = NULL;
            if (vault_netacl_apply(&again, out, acls ? acls : j, NULL) == CF_OK) {
                (void)vault_netacl_allows(again, "10.1.2.3", 0);
                (void)vault_netacl_allows(again, "::ffff:192.0.2.1", 1);
                json_decref(again);
            }
            json_decref(out);
        }
        const json_t *aps = json_object_get(json_object_get(j, "properties"), "accessPolicies");
        out = NULL;
        if (vault_policy_normalize(&out, aps ? aps : j, NULL) == CF_OK) {
            json_t *merged = NULL;
            if (vault_policy_apply(&merged, out, out, VAULT_POLICY_ADD, NULL) == CF_OK) {
                (void)vault_policy_allows(merged, "o", "a", "get");
                json_decref(merged);
            }
            json_decref(out);
        }
        json_decref(j);
    }
    return 0;
}

/*
 * fuzz_template.c -- a whole deployment template from arbitrary bytes:
 * tpl_parse, tpl_bind (no parameters given: defaults only), then every resource
 * evaluated in deployment order with reference() answering alternately a
 * known object and "not known yet", the outputs, the parameters view.
 * Invariants: no crash, no leak, an error always has a message, and the
 * order is a permutation in which every resource comes after its
 * dependencies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/template.h"

static int ref_cb(void *cls, long index, const char *id, int full, json_t **out, cli_err *e)
{
    int *n = cls;
    (void)index;
    (void)full;
    (void)e;
    *out = (*n)++ % 2 ? NULL
                      : json_pack("{s:s,s:s,s:s,s:s}", "id", id, "clientId", "c", "principalId",
                                  "p", "keyUri", "https://v.vault.localhost/keys/k");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int calls = 0;
    tpl_site site = {
        "00000000-0000-0000-0000-000000000000", "sub", "t", "rg", "eastus", ref_cb, &calls};
    tpl *t = NULL;
    cli_err e = {0};
    json_t *text = json_pack("{}");
    if (tpl_parse(&t, (const char *)data, size, &e) != 0 ||
        tpl_bind(t, NULL, text, &site, &e) != 0) {
        if (e.msg[0] == '\0')
            abort();
        goto out;
    }
    size_t n = tpl_resource_count(t), nd;
    const size_t *order = tpl_order(t);
    unsigned char *done = calloc(n + 1, 1);
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        if (i >= n || done[i])
            abort();
        const size_t *deps = tpl_resource_deps(t, i, &nd);
        for (size_t d = 0; d < nd; d++)
            if (!done[deps[d]])
                abort();
        done[i] = 1;
        json_t *b = NULL, *u = NULL;
        cli_err re = {0};
        if (tpl_resource_eval(t, i, &b, &u, &re) != 0 && re.msg[0] == '\0')
            abort();
        json_decref(b);
        json_decref(u);
    }
    free(done);
    json_t *o = NULL;
    cli_err oe = {0};
    if (tpl_outputs(t, &o, &oe) != 0 && oe.msg[0] == '\0')
        abort();
    json_decref(o);
    json_decref(tpl_parameters(t));
out:
    json_decref(text);
    tpl_free(t);
    return 0;
}

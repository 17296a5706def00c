/*
 * keyshape.h -- keys printed the way az prints them.
 *
 * keyvaultd speaks the Azure Key Vault protocol exactly, so its KeyBundle
 * says "key_ops", "nbf", "exp" and Unix times. az keyvault key show does
 * not print the wire: the Python SDK parses it into objects and the CLI
 * prints those (azure-cli keyvault/_transformers.py transform_key_output
 * and transform_key_list_output, then knack's JSON with sorted keys):
 *
 *   {"attributes":{"created":"2026-11-29T08:43:52+00:00","enabled":true,
 *     "expires":null,"exportable":false,"hsmPlatform":null,"notBefore":null,
 *     "recoverableDays":90,"recoveryLevel":"Recoverable","updated":"…"},
 *    "key":{"crv":null,"d":null,…,"e":"AQAB","k":null,"keyOps":[…],
 *     "kid":"…","kty":"RSA","n":"<standard base64>",…,"y":null},
 *    "managed":null,"releasePolicy":null,"tags":null}
 *
 * A deleted key adds deletedDate, recoveryId and scheduledPurgeDate (times
 * as above); a list item is {attributes, kid, managed, name,
 * releasePolicy, tags} (+ the deleted fields). coffer's CLI prints the
 * same, so scripts written for az (`--query key.keyOps`) work unchanged;
 * the wire stays Azure's.
 */
#ifndef CF_CLI_KEYSHAPE_H
#define CF_CLI_KEYSHAPE_H

#include <jansson.h>

/* A KeyBundle or DeletedKeyBundle from the wire -> az's shape (new
 * reference; NULL when out of memory). */
json_t *cli_key_az(const json_t *bundle);
/* A KeyItem or DeletedKeyItem -> az's list item. */
json_t *cli_key_item_az(const json_t *item);

#endif

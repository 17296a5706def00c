// cmk-tutorial: the reference's tutorial parts 3 and 4 ("Rotate and revoke a
// customer-managed key", "Troubleshoot a customer-managed key";
// /work/shared/reference/acr-cmk.md §2-§3), typed with `coffer` for `az`
// against the real keyvaultd and cofferd, checking at each step what the
// reference's docs say a user sees. Resource groups, ARM ids and RBAC are
// left out (issue 20); everything else is the tutorial's:
//   §1.1  set up: identity, vault with purge protection, access policy,
//         key, registry with the version-less key id
//   §2.4  revoke with delete-policy (a wrong object id is refused, nothing
//         revoked), restore with set-policy; delete the key, recover it
//   §2.2  rotate-key --identity with a principal id: a client id or
//         resource id was expected
//   §3.1  removing the identity the key uses is refused
//   §3.2  a vault firewall added later blocks the registry (the cause in
//         `acr encryption check`); trusted services (cofferd) or the
//         registry's address let it through again
//   §3.4  the vault deleted: the registry locks with the cause; the vault
//         cannot be purged (purge protection) nor its name reused;
//         `keyvault recover` and the next check give everything back
// Key checks run only when asked (`acr encryption check`), as a user
// watching the tutorial would; each restore pulls the same bytes.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCmkStack } from './lib/cmk.mjs';
import { cofferRunner } from './lib/cli.mjs';
import { buildImage, put } from './lib/images.mjs';
import { assertOciError } from './lib/oci.mjs';

describe('cmk-tutorial', { timeout: 180000 }, () => {
  let s, env, layout, keyId, principal, clientId;
  const REG = 'tutorialreg';
  const KV = 'tutkv';
  const { ok, fails } = cofferRunner(() => env);
  const tsv = (args) => ok([...args, '-o', 'tsv']).out.replace(/\n$/, '');
  // `coffer acr encryption check`: one key check now; its keyVaultProperties
  const check = () => ok(['acr', 'encryption', 'check', '-n', REG]).json.keyVaultProperties;

  async function assertServes(what) {
    const p = check();
    assert.equal(p.keyStatus, 'available', `${what}: ${p.lastError}`);
    assert.equal(p.lastError, null, what);
    await s.waitServes(layout, REG, what);
    await s.pullSame(layout, REG, `${what}: the same bytes pull`);
  }

  // The check locks the registry; lastError (what `encryption check` shows)
  // and the data plane's 403 both carry the cause.
  async function assertLocked(what, cause) {
    const p = check();
    assert.equal(p.keyStatus, 'unavailable', `${what}: keyStatus`);
    assert.match(p.lastError, cause, `${what}: lastError names the cause`);
    const r = await s.rawReads(layout, REG);
    assertOciError(r.manifest, 403, 'DENIED', `${what}: manifest read`);
    const msg = r.manifest.json().errors[0].message;
    assert.ok(msg.includes(p.lastError), `${what}: the data plane quotes lastError: ${msg}`);
    return p;
  }

  before(async () => {
    s = await startCmkStack({ keyCheckInterval: 3600 });
    env = {
      PATH: process.env.PATH,
      HOME: s.dataDir,
      COFFER_URL: s.mgmtUrl,
      COFFER_TOKEN: s.adminToken,
      COFFER_VAULT_URL: s.kv.url,
      COFFER_VAULT_TOKEN: s.kv.adminToken,
      COFFER_VAULT_CA: s.caPath,
    };
    // part 2 (§1.1), step by step
    principal = tsv(['identity', 'create', '-n', 'tutmi', '--query', 'principalId']);
    clientId = tsv(['identity', 'show', '-n', 'tutmi', '--query', 'clientId']);
    const identityId = tsv(['identity', 'show', '-n', 'tutmi', '--query', 'id']);
    ok(['keyvault', 'create', '-n', KV, '--enable-purge-protection', '--retention-days', '7']);
    ok(['keyvault', 'set-policy', '-n', KV, '--object-id', principal, '--key-permissions', 'get', 'unwrapKey', 'wrapKey']);
    ok(['keyvault', 'key', 'create', '-n', 'tutkey', '--vault-name', KV]);
    const versioned = tsv(['keyvault', 'key', 'show', '-n', 'tutkey', '--vault-name', KV, '--query', 'key.kid']);
    keyId = versioned.replace(/\/[^/]*$/, ''); // sed -e "s/\/[^/]*$//"
    ok(['acr', 'create', '-n', REG, '--identity', identityId, '--key-encryption-key', keyId, '--sku', 'Premium']);
    const enc = ok(['acr', 'encryption', 'show', '-n', REG]).json;
    assert.equal(enc.status, 'enabled');
    assert.equal(enc.keyVaultProperties.keyIdentifier, keyId);
    assert.equal(enc.keyVaultProperties.versionedKeyIdentifier, versioned);
    assert.equal(enc.keyVaultProperties.identity, clientId);
    layout = await buildImage({ tag: 'v1', layers: [(x) => { put(x, 'etc/motd', 'the tutorial\n'); }] });
    await s.push(layout, REG);
    await assertServes('after creation');
  });
  after(async () => { await s?.stop(); });

  test('§2.4 revoke: delete-policy with a wrong object id fails and revokes nothing', async () => {
    // the 2022 text passed the key's id as --object-id
    const f = fails(['keyvault', 'delete-policy', '-n', KV, '--object-id', keyId], 'AccessPolicyNotFound');
    assert.match(f.err, /No matching policies found/);
    await assertServes('after a delete-policy that matched nothing');
  });

  test('§2.4 revoke with delete-policy, restore with set-policy', async () => {
    ok(['keyvault', 'delete-policy', '-n', KV, '--object-id', principal]);
    await assertLocked('access policy removed', /refused unwrapKey.*403 Forbidden: The user, group or application .* does not have keys unwrapKey permission/);
    ok(['keyvault', 'set-policy', '-n', KV, '--object-id', principal, '--key-permissions', 'get', 'unwrapKey', 'wrapKey']);
    await assertServes('access policy restored');
  });

  test('§2.4 revoke by deleting the key; §3.4 recover it', async () => {
    ok(['keyvault', 'key', 'delete', '--vault-name', KV, '-n', 'tutkey']);
    await assertLocked('key deleted', /404 KeyNotFound/);
    assert.deepEqual(tsv(['keyvault', 'key', 'list-deleted', '--vault-name', KV, '--query', '[].name']).split('\n'), ['tutkey']);
    ok(['keyvault', 'key', 'recover', '--vault-name', KV, '-n', 'tutkey']);
    await assertServes('key recovered');
  });

  test('§2.2 rotate-key --identity with a principal id: a client id or resource id was expected', async () => {
    const f = fails(['acr', 'encryption', 'rotate-key', '-n', REG, '--identity', principal], 'IdentityRequired');
    assert.match(f.err, new RegExp(`'${principal}' is the principal \\(object\\) id of identity 'tutmi': keyVaultProperties.identity expected a client id or resource id \\(its client id is ${clientId}, its resource id /identities/tutmi\\)`));
    assert.equal(tsv(['acr', 'encryption', 'show', '-n', REG, '--query', 'keyVaultProperties.identity']), clientId, 'unchanged');
  });

  test('§3.1 the identity the key uses cannot be removed', () => {
    const f = fails(['acr', 'identity', 'remove', '-n', REG, '--identities', 'tutmi'], 'IdentityInUse');
    assert.match(f.err, new RegExp(`Identity '${clientId}' is used to access the customer-managed key of registry '${REG}'`));
    assert.match(f.err, /rotate-key/, 'says the way out');
  });

  test('§3.2 a vault firewall added later blocks the registry; trusted services or its address let it through', async () => {
    const r = ok(['keyvault', 'update', '-n', KV, '--default-action', 'Deny', '--bypass', 'None']);
    assert.deepEqual(r.json.properties.networkAcls, { bypass: 'None', defaultAction: 'Deny', ipRules: [], virtualNetworkRules: [] });
    const p = await assertLocked('firewall: Deny, no bypass', /^The key vault's firewall refused unwrapKey on \S+ for identity \S+ \(403 ForbiddenByFirewall\)/);
    assert.match(p.lastError, /coffer keyvault network-rule add/);
    assert.match(p.lastError, /Client address is not authorized and caller is not a trusted service\. +Client address: 127\.0\.0\.1/);
    // the tutorial's fix (§2.6): allow trusted services; cofferd is one
    ok(['keyvault', 'update', '-n', KV, '--bypass', 'AzureServices']);
    await assertServes('firewall: trusted services bypass it');
    // or allow the registry's address
    ok(['keyvault', 'update', '-n', KV, '--bypass', 'None']);
    await assertLocked('firewall: no bypass again', /ForbiddenByFirewall/);
    ok(['keyvault', 'network-rule', 'add', '-n', KV, '--ip-address', '127.0.0.1']);
    assert.deepEqual(JSON.parse(ok(['keyvault', 'network-rule', 'list', '-n', KV, '--query', 'ipRules']).out), [{ value: '127.0.0.1/32' }]);
    await assertServes('firewall: the registry\'s address allowed');
    ok(['keyvault', 'network-rule', 'remove', '-n', KV, '--ip-address', '127.0.0.1']);
    ok(['keyvault', 'update', '-n', KV, '--default-action', 'Allow']);
    await assertServes('firewall: off again');
  });

  test('§3.4 the vault deleted: locked with the cause; recover gives everything back', async () => {
    ok(['keyvault', 'delete', '-n', KV]);
    const p = await assertLocked('vault deleted', new RegExp(`404 VaultNotFound: The vault '${KV}' is soft-deleted \\(deleted at \\S+, purged at \\S+\\): recover it with \`coffer keyvault recover -n ${KV}\``));
    assert.ok(p.lastError.length <= 511);
    assert.deepEqual(tsv(['keyvault', 'list-deleted', '--query', '[].name']).split('\n'), [KV]);
    const shown = ok(['keyvault', 'show-deleted', '-n', KV]).json;
    assert.equal(shown.properties.purgeProtectionEnabled, true);
    assert.ok(shown.properties.scheduledPurgeDate > shown.properties.deletionDate);
    // purge protection: no purge before the scheduled date; the name is held
    const pf = fails(['keyvault', 'purge', '-n', KV], 'MethodNotAllowed');
    assert.match(pf.err, /Operation 'DeletedVaultPurge' is not allowed/);
    fails(['keyvault', 'create', '-n', KV], 'ConflictError');
    fails(['keyvault', 'show', '-n', KV], 'ResourceNotFound');
    const rec = ok(['keyvault', 'recover', '-n', KV]).json;
    assert.equal(rec.name, KV);
    assert.deepEqual(rec.properties.accessPolicies.map((x) => x.objectId), [principal], 'policies come back with it');
    assert.equal(ok(['keyvault', 'list-deleted']).out, '[]\n');
    await assertServes('vault recovered');
  });
});

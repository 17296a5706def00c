// cli-keyvault.test.mjs -- the coffer CLI against the real keyvaultd: vaults
// (purge protection, retention), access policies (set-policy replaces one
// identity's key permissions, delete-policy removes it), keys (RSA, RSA-HSM
// in a SoftHSM2 token, EC; show, versions, rotate, set-attributes, soft
// delete / recover / purge, paged lists), --query/-o tsv, the config file,
// TLS trust through the vault's CA file, and the error contract: stderr
// `ERROR: (<Code>) <message>` with exit 1, usage errors with exit 2, no
// token ever printed. Vaults live in resource groups, which are cofferd's:
// a cofferd runs beside keyvaultd, the group `clikv` is made with the CLI
// and set as the default group (COFFER_DEFAULTS_GROUP), as a user does with
// `az configure --defaults group=`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freshDir, startDaemon } from './lib/daemons.mjs';
import { readFileSync } from 'node:fs';
import { cofferRunner } from './lib/cli.mjs';
import { startKeyvaultd, createSoftHsm } from './lib/vault.mjs';
import { armId, DEFAULT_SUB } from './lib/arm.mjs';

let kv, hsm, home, env, cofferd, cofferDir;
const { coffer, ok, fails } = cofferRunner(() => env);

before(async () => {
  hsm = createSoftHsm();
  kv = await startKeyvaultd({ hsm });
  home = freshDir('coffer-cli-home-');
  env = { PATH: process.env.PATH, HOME: home };
  cofferDir = freshDir('coffer-cli-kv-');
  cofferd = await startDaemon('cofferd', ['--data', cofferDir, '--listen', '127.0.0.1:0',
    '--mgmt-listen', '127.0.0.1:0'], { listeners: 2 });
  const line = (await cofferd.waitLog(/"msg":"listening".*"api":"management"/)).split('\n')
    .find((l) => /"msg":"listening"/.test(l) && /"api":"management"/.test(l));
  Object.assign(env, {
    COFFER_URL: `http://127.0.0.1:${JSON.parse(line).port}`,
    COFFER_TOKEN: readFileSync(join(cofferDir, 'admin.token'), 'utf8').trim(),
    COFFER_VAULT_URL: kv.url,
    COFFER_VAULT_TOKEN: kv.adminToken,
    COFFER_VAULT_CA: join(kv.dataDir, 'tls', 'cert.pem'),
  });
  ok(['group', 'create', '-n', 'clikv', '-l', 'local']);
  env.COFFER_DEFAULTS_GROUP = 'clikv';
});

after(async () => {
  await kv?.stop();
  await cofferd?.stop();
  if (cofferDir) rmSync(cofferDir, { recursive: true, force: true });
  if (home) rmSync(home, { recursive: true, force: true });
});

const KID = (vault, key) => new RegExp(`^https://${vault}\\.vault\\.localhost:${kv.port}/keys/${key}/[0-9a-f]{32}$`);

test('keyvault create with purge protection, show, list, update', () => {
  const r = ok(['keyvault', 'create', '-n', 'clivault', '--enable-purge-protection', '--retention-days', '7']);
  assert.equal(r.json.name, 'clivault');
  assert.equal(r.json.properties.enablePurgeProtection, true);
  assert.equal(r.json.properties.softDeleteRetentionInDays, 7);
  assert.equal(r.json.properties.vaultUri, `https://clivault.vault.localhost:${kv.port}/`);
  assert.equal(ok(['keyvault', 'show', '-n', 'clivault', '--query', 'properties.enablePurgeProtection', '-o', 'tsv']).out, 'true\n');
  // the default group's vaults; the default vault lives in the group "default"
  const names = ok(['keyvault', 'list', '--query', '[].name', '-o', 'tsv']).out.trim().split('\n');
  assert.deepEqual(names.sort(), ['clivault']);
  assert.equal(ok(['keyvault', 'list', '-g', 'default', '--query', '[].name', '-o', 'tsv']).out, 'default\n');
  // a vault without purge protection, then turned on with update
  ok(['keyvault', 'create', '-n', 'clisoft', '--retention-days', '7']);
  assert.equal(ok(['keyvault', 'show', '-n', 'clisoft', '--query', 'properties.enablePurgeProtection', '-o', 'tsv']).out, 'false\n');
  ok(['keyvault', 'create', '-n', 'cliupd']);
  const u = ok(['keyvault', 'update', '-n', 'cliupd', '--enable-purge-protection', 'true']);
  assert.equal(u.json.properties.enablePurgeProtection, true);
  // never off again: the vault's own refusal
  const f = fails(['keyvault', 'update', '-n', 'cliupd', '--enable-purge-protection', 'false'], 'Conflict');
  assert.match(f.err, /Purge protection cannot be disabled/);
  ok(['keyvault', 'delete', '-n', 'cliupd']);
  fails(['keyvault', 'show', '-n', 'cliupd'], 'ResourceNotFound');
});

test('set-policy sets exactly the permissions given; delete-policy removes the identity', () => {
  ok(['keyvault', 'create', '-n', 'clipol']);
  const a = '11111111-2222-3333-4444-555555555555';
  const b = '66666666-7777-8888-9999-000000000000';
  let r = ok(['keyvault', 'set-policy', '-n', 'clipol', '--object-id', a, '--key-permissions', 'get', 'wrapKey', 'unwrapKey']);
  assert.equal(r.json.name, 'clipol', 'prints the vault');
  let pols = r.json.properties.accessPolicies;
  assert.equal(pols.length, 1);
  assert.equal(pols[0].objectId, a);
  assert.deepEqual([...pols[0].permissions.keys].sort(), ['get', 'unwrapKey', 'wrapKey']);
  ok(['keyvault', 'set-policy', '-n', 'clipol', '--object-id', b, '--key-permissions', 'list']);
  r = ok(['keyvault', 'set-policy', '-n', 'clipol', '--object-id', a, '--key-permissions', 'get']);
  pols = r.json.properties.accessPolicies;
  assert.equal(pols.length, 2);
  assert.deepEqual(pols.find((p) => p.objectId === a).permissions.keys, ['get'], 'replaced, not merged');
  assert.deepEqual(pols.find((p) => p.objectId === b).permissions.keys, ['list'], 'other identity untouched');
  r = ok(['keyvault', 'delete-policy', '-n', 'clipol', '--object-id', a, '--query', 'properties.accessPolicies[].objectId', '-o', 'tsv']);
  assert.equal(r.out, `${b}\n`);
  fails(['keyvault', 'set-policy', '-n', 'clipol', '--object-id', a, '--key-permissions', 'fly'], 'BadParameter');
  fails(['keyvault', 'set-policy', '-n', 'nosuchvault', '--object-id', a, '--key-permissions', 'get'], 'ResourceNotFound');
});

// az keyvault delete-policy: "No matching policies found", exit 1. A
// revocation with a wrong object id must never look like it worked.
test('delete-policy of an object id without a policy fails and revokes nothing', async () => {
  ok(['keyvault', 'create', '-n', 'clirevoke']);
  const mi = '0a0a0a0a-1111-2222-3333-444444444444';
  const wrong = '0b0b0b0b-1111-2222-3333-444444444444';
  ok(['keyvault', 'set-policy', '-n', 'clirevoke', '--object-id', mi, '--key-permissions', 'get', 'wrapKey', 'unwrapKey']);
  const f = fails(['keyvault', 'delete-policy', '-n', 'clirevoke', '--object-id', wrong], 'AccessPolicyNotFound');
  assert.match(f.err, new RegExp(`No matching policies found: no access policy for object id '${wrong}' in vault 'clirevoke'`));
  assert.equal(ok(['keyvault', 'show', '-n', 'clirevoke', '--query', 'properties.accessPolicies[].objectId', '-o', 'tsv']).out,
    `${mi}\n`, 'the real policy is still there');
  // the management API under it refuses the same way, and changes nothing
  const r = await kv.request('/vaults/clirevoke/accessPolicies/remove', { method: 'PUT', admin: true,
    body: { properties: { accessPolicies: [{ objectId: mi }, { objectId: wrong }] } } });
  assert.equal(r.status, 404, r.text);
  assert.equal(r.json.error.code, 'AccessPolicyNotFound');
  assert.equal((await kv.admin.getVault('clirevoke')).properties.accessPolicies.length, 1, 'all or nothing');
  // the right object id revokes; a second time there is nothing left to match
  assert.equal(ok(['keyvault', 'delete-policy', '-n', 'clirevoke', '--object-id', mi.toUpperCase(),
    '--query', 'properties.accessPolicies', '-o', 'json']).json.length, 0);
  fails(['keyvault', 'delete-policy', '-n', 'clirevoke', '--object-id', mi], 'AccessPolicyNotFound');
});

test('key create RSA, RSA-HSM, EC; show by --query key.kid -o tsv', () => {
  ok(['keyvault', 'create', '-n', 'clikeys', '--enable-purge-protection']);
  const rsa = ok(['keyvault', 'key', 'create', '--vault-name', 'clikeys', '-n', 'rsa1', '--kty', 'RSA', '--size', '3072']);
  assert.match(rsa.json.key.kid, KID('clikeys', 'rsa1'));
  assert.equal(rsa.json.key.kty, 'RSA');
  assert.equal(Buffer.from(rsa.json.key.n, 'base64').length, 384);
  assert.equal(rsa.json.attributes.recoveryLevel.includes('Purgeable'), false, 'purge protection shows');
  assert.equal(rsa.json.key.d, null, 'no private member (az prints every JWK field, null when absent)');
  const shown = ok(['keyvault', 'key', 'show', '--vault-name', 'clikeys', '-n', 'rsa1', '--query', 'key.kid', '-o', 'tsv']);
  assert.equal(shown.out, `${rsa.json.key.kid}\n`);

  const h = ok(['keyvault', 'key', 'create', '--vault-name', 'clikeys', '-n', 'hsm1', '--kty', 'rsa-hsm',
    '--ops', 'wrapKey', 'unwrapKey']);
  assert.equal(h.json.key.kty, 'RSA-HSM');
  assert.deepEqual(h.json.key.keyOps, ['wrapKey', 'unwrapKey']);
  assert.match(h.json.key.kid, KID('clikeys', 'hsm1'));
});

// What az keyvault key show prints is not the REST wire: the Python SDK
// parses the KeyBundle and the CLI prints its objects (azure-cli
// keyvault/_transformers.py transform_key_output; knack sorts the keys).
// So az says key.keyOps, attributes.notBefore/expires and ISO times where
// the wire says key_ops, nbf/exp and Unix times; the wire stays Azure's.
test('key show prints what az prints: keyOps, ISO times, every JWK field; the wire keeps key_ops', async () => {
  const shown = ok(['keyvault', 'key', 'show', '--vault-name', 'clikeys', '-n', 'hsm1']).json;
  const wire = (await kv.request(`/keys/hsm1?api-version=7.4`, { admin: true, vault: 'clikeys' })).json;
  assert.deepEqual(Object.keys(shown), ['attributes', 'key', 'managed', 'releasePolicy', 'tags']);
  assert.deepEqual(Object.keys(shown.key), ['crv', 'd', 'dp', 'dq', 'e', 'k', 'keyOps', 'kid', 'kty', 'n', 'p', 'q', 'qi', 't', 'x', 'y']);
  assert.deepEqual(shown.key.keyOps, wire.key.key_ops);
  assert.equal(shown.key.key_ops, undefined);
  assert.deepEqual(wire.key.key_ops, ['wrapKey', 'unwrapKey'], 'the REST API says key_ops');
  assert.equal(wire.key.keyOps, undefined);
  assert.equal(shown.key.kid, wire.key.kid);
  assert.equal(shown.key.d, null);
  assert.equal(shown.key.n, Buffer.from(wire.key.n, 'base64url').toString('base64'), 'bytes in standard base64, as az');
  assert.equal(shown.key.e, 'AQAB');
  assert.deepEqual(Object.keys(shown.attributes), ['created', 'enabled', 'expires', 'exportable', 'hsmPlatform',
    'notBefore', 'recoverableDays', 'recoveryLevel', 'updated']);
  assert.equal(shown.attributes.created, new Date(wire.attributes.created * 1000).toISOString().replace('.000Z', '+00:00'));
  assert.equal(shown.attributes.expires, null);
  assert.equal(shown.attributes.recoveryLevel, wire.attributes.recoveryLevel);
  assert.equal(ok(['keyvault', 'key', 'show', '--vault-name', 'clikeys', '-n', 'hsm1', '--query', 'key.keyOps[-1]', '-o', 'tsv']).out, 'unwrapKey\n');
  // lists: az's items, with the key's name
  const items = ok(['keyvault', 'key', 'list', '--vault-name', 'clikeys']).json;
  const it = items.find((i) => i.name === 'hsm1');
  assert.deepEqual(Object.keys(it), ['attributes', 'kid', 'managed', 'name', 'releasePolicy', 'tags']);
  assert.equal(it.kid, `https://clikeys.vault.localhost:${kv.port}/keys/hsm1`);
});

// a JMESPath multi-select is not in the subset: refused, not guessed at
test('--query outside the subset is a usage error (exit 2) and creates nothing', () => {
  const r = coffer(['keyvault', 'key', 'create', '--vault-name', 'clikeys', '-n', 'ec2', '--kty', 'EC', '--query', 'key.[kty, crv]']);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /argument --query: invalid query/);
  assert.match(r.err, /usage: coffer keyvault key create/);
  fails(['keyvault', 'key', 'show', '--vault-name', 'clikeys', '-n', 'ec2'], 'KeyNotFound');
});

test('EC key and the default vault reached at vault_url', () => {
  const ec = ok(['keyvault', 'key', 'create', '--vault-name', 'clikeys', '-n', 'ec3', '--kty', 'EC', '--curve', 'P-384']);
  assert.equal(ec.json.key.kty, 'EC');
  assert.equal(ec.json.key.crv, 'P-384');
  const d = ok(['keyvault', 'key', 'create', '--vault-name', 'default', '-n', 'defkey', '--query', 'key.kid', '-o', 'tsv']);
  assert.match(d.out.trim(), new RegExp(`^${kv.url}/keys/defkey/[0-9a-f]{32}$`));
  // not in the other vault
  fails(['keyvault', 'key', 'show', '--vault-name', 'clikeys', '-n', 'defkey'], 'KeyNotFound');
});

test('rotate, list-versions, show --version, set-attributes', () => {
  const v1 = ok(['keyvault', 'key', 'create', '--vault-name', 'clikeys', '-n', 'rot', '--query', 'key.kid', '-o', 'tsv']).out.trim();
  const v2 = ok(['keyvault', 'key', 'rotate', '--vault-name', 'clikeys', '-n', 'rot', '--query', 'key.kid', '-o', 'tsv']).out.trim();
  assert.notEqual(v1, v2);
  assert.match(v2, KID('clikeys', 'rot'));
  const versions = ok(['keyvault', 'key', 'list-versions', '--vault-name', 'clikeys', '-n', 'rot', '--query', '[].kid', '-o', 'tsv']);
  assert.deepEqual(versions.out.trim().split('\n').sort(), [v1, v2].sort());
  assert.equal(ok(['keyvault', 'key', 'show', '--vault-name', 'clikeys', '-n', 'rot', '--query', 'key.kid', '-o', 'tsv']).out.trim(), v2);
  const ver1 = v1.split('/').pop();
  assert.equal(ok(['keyvault', 'key', 'show', '--vault-name', 'clikeys', '-n', 'rot', '--version', ver1, '--query', 'key.kid', '-o', 'tsv']).out.trim(), v1);

  const off = ok(['keyvault', 'key', 'set-attributes', '--vault-name', 'clikeys', '-n', 'rot', '--enabled', 'false']);
  assert.equal(off.json.attributes.enabled, false);
  assert.equal(off.json.key.kid, v2);
  assert.equal(ok(['keyvault', 'key', 'show', '--vault-name', 'clikeys', '-n', 'rot', '--query', 'attributes.enabled', '-o', 'tsv']).out, 'false\n');
  // the old version is still enabled; disable it by --version, enable the latest again
  ok(['keyvault', 'key', 'set-attributes', '--vault-name', 'clikeys', '-n', 'rot', '--version', ver1, '--enabled', 'false']);
  assert.equal(ok(['keyvault', 'key', 'show', '--vault-name', 'clikeys', '-n', 'rot', '--version', ver1, '--query', 'attributes.enabled', '-o', 'tsv']).out, 'false\n');
  ok(['keyvault', 'key', 'set-attributes', '--vault-name', 'clikeys', '-n', 'rot', '--enabled', 'true']);
  assert.equal(ok(['keyvault', 'key', 'show', '--vault-name', 'clikeys', '-n', 'rot', '--query', 'attributes.enabled', '-o', 'tsv']).out, 'true\n');
});

test('delete, list-deleted, recover; purge refused under purge protection, allowed without', () => {
  ok(['keyvault', 'key', 'create', '--vault-name', 'clikeys', '-n', 'gone', '--kty', 'EC']);
  const del = ok(['keyvault', 'key', 'delete', '--vault-name', 'clikeys', '-n', 'gone']);
  assert.equal(del.json.recoveryId, `https://clikeys.vault.localhost:${kv.port}/deletedkeys/gone`);
  assert.ok(del.json.scheduledPurgeDate > del.json.deletedDate);
  const f = fails(['keyvault', 'key', 'show', '--vault-name', 'clikeys', '-n', 'gone'], 'KeyNotFound');
  assert.match(f.err, /gone/);
  const deleted = ok(['keyvault', 'key', 'list-deleted', '--vault-name', 'clikeys', '--query', '[].recoveryId', '-o', 'tsv']);
  assert.deepEqual(deleted.out.trim().split('\n'), [del.json.recoveryId]);
  const p = fails(['keyvault', 'key', 'purge', '--vault-name', 'clikeys', '-n', 'gone'], 'Forbidden');
  assert.match(p.err, /purge protection/);
  const rec = ok(['keyvault', 'key', 'recover', '--vault-name', 'clikeys', '-n', 'gone', '--query', 'key.kty', '-o', 'tsv']);
  assert.equal(rec.out, 'EC\n');
  ok(['keyvault', 'key', 'show', '--vault-name', 'clikeys', '-n', 'gone']);
  assert.equal(ok(['keyvault', 'key', 'list-deleted', '--vault-name', 'clikeys']).out, '[]\n');

  ok(['keyvault', 'key', 'create', '--vault-name', 'clisoft', '-n', 'shred', '--kty', 'EC']);
  ok(['keyvault', 'key', 'delete', '--vault-name', 'clisoft', '-n', 'shred']);
  const purge = ok(['keyvault', 'key', 'purge', '--vault-name', 'clisoft', '-n', 'shred']);
  assert.equal(purge.out, '', 'purge prints nothing');
  fails(['keyvault', 'key', 'recover', '--vault-name', 'clisoft', '-n', 'shred'], 'KeyNotFound');
  // the name is free again
  ok(['keyvault', 'key', 'create', '--vault-name', 'clisoft', '-n', 'shred', '--kty', 'EC']);
});

// az keyvault delete / list-deleted / show-deleted / recover / purge: a
// deleted vault keeps everything in it until it is purged.
test('vault soft delete: delete, list-deleted, show-deleted, recover, purge', () => {
  ok(['keyvault', 'create', '-n', 'cligone', '--retention-days', '7']);
  ok(['keyvault', 'set-policy', '-n', 'cligone', '--object-id', 'someone', '--key-permissions', 'get']);
  const kid = ok(['keyvault', 'key', 'create', '--vault-name', 'cligone', '-n', 'inside', '--kty', 'EC', '--query', 'key.kid', '-o', 'tsv']).out.trim();
  assert.equal(ok(['keyvault', 'delete', '-n', 'cligone']).out, '', 'delete prints nothing, as az');
  fails(['keyvault', 'show', '-n', 'cligone'], 'ResourceNotFound');
  assert.ok(!ok(['keyvault', 'list', '--query', '[].name', '-o', 'tsv']).out.split('\n').includes('cligone'));
  const kf = fails(['keyvault', 'key', 'show', '--vault-name', 'cligone', '-n', 'inside'], 'VaultNotFound');
  assert.match(kf.err, /The vault 'cligone' is soft-deleted .*: recover it with `coffer keyvault recover -n cligone`/);
  assert.ok(ok(['keyvault', 'list-deleted', '--query', '[].name', '-o', 'tsv']).out.split('\n').includes('cligone'));
  const d = ok(['keyvault', 'show-deleted', '-n', 'cligone']).json;
  // ARM's DeletedVault: per subscription and location; vaultId is where it lived
  assert.equal(d.id, `/subscriptions/${DEFAULT_SUB}/providers/Microsoft.KeyVault/locations/local/deletedVaults/cligone`);
  assert.equal(d.properties.vaultId, armId('vault', 'cligone', 'clikv'));
  assert.equal(d.properties.location, 'local');
  assert.deepEqual(ok(['keyvault', 'show-deleted', '-n', 'cligone', '-l', 'local']).json, d);
  fails(['keyvault', 'show-deleted', '-n', 'cligone', '-l', 'elsewhere'], 'ResourceNotFound');
  assert.equal(d.properties.purgeProtectionEnabled, false);
  assert.equal((Date.parse(d.properties.scheduledPurgeDate) - Date.parse(d.properties.deletionDate)) / 86400000, 7);
  const c = fails(['keyvault', 'create', '-n', 'cligone'], 'ConflictError');
  assert.match(c.err, /already exists in deleted state/);
  fails(['keyvault', 'delete', '-n', 'cligone'], 'ResourceNotFound');
  // recover: the vault as it was, its policies and keys with it
  const r = ok(['keyvault', 'recover', '-n', 'cligone']).json;
  assert.deepEqual(r.properties.accessPolicies.map((x) => x.objectId), ['someone']);
  assert.equal(ok(['keyvault', 'key', 'show', '--vault-name', 'cligone', '-n', 'inside', '--query', 'key.kid', '-o', 'tsv']).out.trim(), kid);
  fails(['keyvault', 'recover', '-n', 'cligone'], 'ResourceNotFound');
  fails(['keyvault', 'show-deleted', '-n', 'cligone'], 'ResourceNotFound');
  // purge (no purge protection): gone for good, keys too; the name is free
  ok(['keyvault', 'delete', '-n', 'cligone']);
  assert.equal(ok(['keyvault', 'purge', '-n', 'cligone']).out, '', 'purge prints nothing');
  assert.ok(!ok(['keyvault', 'list-deleted', '--query', '[].name', '-o', 'tsv']).out.split('\n').includes('cligone'));
  fails(['keyvault', 'purge', '-n', 'cligone'], 'ResourceNotFound');
  ok(['keyvault', 'create', '-n', 'cligone']);
  fails(['keyvault', 'key', 'show', '--vault-name', 'cligone', '-n', 'inside'], 'KeyNotFound');
  assert.equal(ok(['keyvault', 'show', '-n', 'cligone', '--query', 'properties.accessPolicies', '-o', 'json']).json.length, 0);
  fails(['keyvault', 'delete', '-g', 'default', '-n', 'default'], 'Conflict'); // the vault at vault_url

  // a vault is recovered into the group it was deleted from, which must
  // exist: a group deleted with its vaults (soft-deleted) comes first
  ok(['group', 'create', '-n', 'clikvgone', '-l', 'local']);
  ok(['keyvault', 'create', '-g', 'clikvgone', '-n', 'cligone2']);
  ok(['group', 'delete', '-n', 'clikvgone', '--yes']);
  assert.equal(ok(['keyvault', 'show-deleted', '-n', 'cligone2', '--query', 'properties.vaultId', '-o', 'tsv']).out,
    `${armId('vault', 'cligone2', 'clikvgone')}\n`);
  fails(['keyvault', 'recover', '-n', 'cligone2'], 'ResourceGroupNotFound');
  fails(['keyvault', 'create', '-n', 'cligone2'], 'VaultAlreadyExists');
  ok(['group', 'create', '-n', 'clikvgone', '-l', 'local']);
  const back = ok(['keyvault', 'recover', '-n', 'cligone2']).json;
  assert.equal(back.id, armId('vault', 'cligone2', 'clikvgone'));
  assert.equal(back.resourceGroup, 'clikvgone');
});

// az keyvault network-rule add|list|remove, keyvault update --default-action
// --bypass; keyvaultd enforces them on the keys API (admin token included),
// never on the management API.
test('network rules: network-rule add/list/remove, update --default-action/--bypass, enforced on keys', () => {
  ok(['keyvault', 'create', '-n', 'clinet', '--default-action', 'allow', '--bypass', 'azureservices']);
  ok(['keyvault', 'key', 'create', '--vault-name', 'clinet', '-n', 'k', '--kty', 'EC']);
  assert.deepEqual(ok(['keyvault', 'network-rule', 'list', '-n', 'clinet']).json,
    { bypass: 'AzureServices', defaultAction: 'Allow', ipRules: [], virtualNetworkRules: [] });
  const u = ok(['keyvault', 'update', '-n', 'clinet', '--default-action', 'Deny', '--bypass', 'None']);
  assert.equal(u.json.properties.networkAcls.defaultAction, 'Deny');
  const f = fails(['keyvault', 'key', 'show', '--vault-name', 'clinet', '-n', 'k'], 'Forbidden');
  assert.match(f.err, /Client address is not authorized and caller is not a trusted service\. Client address: 127\.0\.0\.1 Caller: appid=admin;oid=admin;iss= Vault: clinet$/m, 'one line: CRLF as a space');
  const a = ok(['keyvault', 'network-rule', 'add', '-n', 'clinet', '--ip-address', '127.0.0.1', '10.1.0.0/16']);
  assert.equal(a.json.name, 'clinet', 'prints the vault');
  assert.equal(ok(['keyvault', 'network-rule', 'list', '-n', 'clinet', '--query', 'ipRules[].value', '-o', 'tsv']).out,
    '127.0.0.1/32\n10.1.0.0/16\n');
  ok(['keyvault', 'key', 'show', '--vault-name', 'clinet', '-n', 'k']);
  // adding one that is there changes nothing
  ok(['keyvault', 'network-rule', 'add', '-n', 'clinet', '--ip-address', '127.0.0.1/32']);
  assert.equal(ok(['keyvault', 'network-rule', 'list', '-n', 'clinet', '--query', 'ipRules[].value', '-o', 'tsv']).out,
    '127.0.0.1/32\n10.1.0.0/16\n');
  ok(['keyvault', 'network-rule', 'remove', '-n', 'clinet', '--ip-address', '127.0.0.1']);
  assert.equal(ok(['keyvault', 'network-rule', 'list', '-n', 'clinet', '--query', 'ipRules[].value', '-o', 'tsv']).out, '10.1.0.0/16\n');
  fails(['keyvault', 'key', 'show', '--vault-name', 'clinet', '-n', 'k'], 'Forbidden');
  // removing one that is not there: the vault, unchanged (az)
  assert.equal(ok(['keyvault', 'network-rule', 'remove', '-n', 'clinet', '--ip-address', '192.0.2.1']).json.name, 'clinet');
  const bad = fails(['keyvault', 'network-rule', 'add', '-n', 'clinet', '--ip-address', '10.0.0.1/8'], 'BadParameter');
  assert.match(bad.err, /host bits set/);
  const usage = coffer(['keyvault', 'update', '-n', 'clinet', '--default-action', 'Block']);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /argument --default-action: invalid choice: 'Block' \(choose from 'Allow', 'Deny'\)/);
  ok(['keyvault', 'update', '-n', 'clinet', '--default-action', 'Allow']);
  ok(['keyvault', 'key', 'show', '--vault-name', 'clinet', '-n', 'k']);
});

test('key list follows nextLink across pages', () => {
  ok(['keyvault', 'create', '-n', 'clipages']);
  const names = [];
  for (let i = 0; i < 28; i++) {
    const n = `k${String(i).padStart(2, '0')}`;
    names.push(n);
    ok(['keyvault', 'key', 'create', '--vault-name', 'clipages', '-n', n, '--kty', 'EC']);
  }
  const kids = ok(['keyvault', 'key', 'list', '--vault-name', 'clipages', '--query', '[].kid', '-o', 'tsv']).out.trim().split('\n');
  assert.equal(kids.length, 28, 'more than one page of 25');
  assert.deepEqual(kids.map((k) => k.split('/').pop()).sort(), names);
});

test('errors: exit 1, ERROR: (Code) message, no token printed', () => {
  const nf = fails(['keyvault', 'key', 'show', '--vault-name', 'clikeys', '-n', 'nosuchkey'], 'KeyNotFound');
  assert.match(nf.err, /nosuchkey/);
  fails(['keyvault', 'key', 'list', '--vault-name', 'nosuchvault'], 'VaultNotFound');
  const bad = 'not-the-admin-token-0123456789';
  const un = fails(['keyvault', 'key', 'show', '--vault-name', 'clikeys', '-n', 'rsa1'], 'Unauthorized', { COFFER_VAULT_TOKEN: bad });
  assert.ok(!un.err.includes(bad));
  const un2 = fails(['keyvault', 'list'], 'Unauthorized', { COFFER_VAULT_TOKEN: bad });
  assert.ok(!un2.err.includes(bad));
  // TLS is verified: without the vault's CA the system bundle does not trust it
  const tls = fails(['keyvault', 'list'], 'ConnectionError', { COFFER_VAULT_CA: undefined });
  assert.match(tls.err, /cannot reach 127\.0\.0\.1:\d+\/subscriptions\/.*\/vaults/);
  assert.ok(!tls.err.includes(kv.adminToken));
  // nothing listening
  fails(['keyvault', 'list'], 'ConnectionError', { COFFER_VAULT_URL: 'https://127.0.0.1:1' });
  // usage errors exit 2
  const u = coffer(['keyvault', 'key', 'create', '--vault-name', 'clikeys']);
  assert.equal(u.code, 2);
  assert.match(u.err, /the following arguments are required: --name\/-n/);
  assert.match(u.err, /usage: coffer keyvault key create/);
  assert.equal(u.out, '');
});

test('config file: vault_url, vault_token_file, vault_ca (no environment)', () => {
  const dir = freshDir('coffer-cli-cfg-');
  const tokenFile = join(dir, 'vault.token');
  writeFileSync(tokenFile, `${kv.adminToken}\n`, { mode: 0o600 });
  const cfg = join(dir, 'config');
  writeFileSync(cfg, [
    '# coffer CLI test config',
    `vault_url = ${kv.url}`,
    `vault_token_file = ${tokenFile}`,
    `vault_ca = ${join(kv.dataDir, 'tls', 'cert.pem')}`,
    'vault_domain = vault.localhost',
    '',
  ].join('\n'));
  const noEnv = { COFFER_VAULT_URL: undefined, COFFER_VAULT_TOKEN: undefined, COFFER_VAULT_CA: undefined, COFFER_CONFIG: cfg };
  const r = ok(['keyvault', 'key', 'show', '--vault-name', 'clikeys', '-n', 'rsa1', '--query', 'key.kty', '-o', 'tsv'], noEnv);
  assert.equal(r.out, 'RSA\n');
  // the environment overrides the file
  fails(['keyvault', 'list'], 'Unauthorized', { ...noEnv, COFFER_VAULT_TOKEN: 'wrong' });
  // ~/.config/coffer/config is the default
  const f = fails(['keyvault', 'list'], 'ConfigError', { ...noEnv, COFFER_CONFIG: undefined });
  assert.match(f.err, /no token for the key vault/);
  rmSync(dir, { recursive: true, force: true });
});

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

test('key create RSA, RSA-HSM, EC; show by --query key.kid -o tsv', () => {
  ok(['keyvault', 'create', '-n', 'clikeys', '--enable-purge-protection']);
  const rsa = ok(['keyvault', 'key', 'create', '--vault-name', 'clikeys', '-n', 'rsa1', '--kty', 'RSA', '--size', '3072']);
  assert.match(rsa.json.key.kid, KID('clikeys', 'rsa1'));
  assert.equal(rsa.json.key.kty, 'RSA');
  assert.equal(Buffer.from(rsa.json.key.n, 'base64url').length, 384);
  assert.equal(rsa.json.attributes.recoveryLevel.includes('Purgeable'), false, 'purge protection shows');
  assert.equal(rsa.json.key.d, undefined);
  const shown = ok(['keyvault', 'key', 'show', '--vault-name', 'clikeys', '-n', 'rsa1', '--query', 'key.kid', '-o', 'tsv']);
  assert.equal(shown.out, `${rsa.json.key.kid}\n`);

  const h = ok(['keyvault', 'key', 'create', '--vault-name', 'clikeys', '-n', 'hsm1', '--kty', 'rsa-hsm',
    '--ops', 'wrapKey', 'unwrapKey']);
  assert.equal(h.json.key.kty, 'RSA-HSM');
  assert.deepEqual(h.json.key.key_ops, ['wrapKey', 'unwrapKey']);
  assert.match(h.json.key.kid, KID('clikeys', 'hsm1'));
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

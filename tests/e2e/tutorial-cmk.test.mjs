// tutorial-cmk.test.mjs -- the reference service's customer-managed key
// tutorial series, run as published with `coffer` for `az` (issue 20): the
// Azure CLI blocks of part 2 (enable), part 3 (rotate and revoke) and
// part 4 (troubleshoot), kept verbatim in tests/e2e/tutorial/*.sh, each
// placeholder replaced by a name (or, where the reader pastes a value, by a
// shell variable holding it) and `az` by `coffer`, nothing else. Between
// blocks the test does what the reader does: pushes and pulls an image,
// waits for the registry to follow a key, looks at the revoked registry's
// error, and gives access back.
//
// Against the real keyvaultd and cofferd (lib/cmk.mjs: the vault trusts
// cofferd's identity issuer; key checks every second), the real coffer
// CLI, and skopeo for the data plane. A second run takes the tutorial's
// RBAC road: a vault made with --enable-rbac-authorization, access by the
// "Key Vault Crypto Service Encryption User" role only, revoked by deleting
// the role assignment.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILD } from './lib/daemons.mjs';
import { startCmkStack, waitFor } from './lib/cmk.mjs';
import { buildImage, put } from './lib/images.mjs';
import { assertOciError, tempDir } from './lib/oci.mjs';

const TUTORIAL = join(dirname(fileURLToPath(import.meta.url)), 'tutorial');
// Managed HSM is not part of coffer (docs/cli.md): those blocks are the only
// ones not run.
const SKIPPED = ['managed-hsm-new-key-version', 'managed-hsm-revoke', 'managed-hsm-delete-key'];

// The blocks of one tutorial file, by the `# --- NAME` line before each.
function blocks(file) {
  const m = new Map();
  let name = null;
  for (const line of readFileSync(join(TUTORIAL, file), 'utf8').split('\n')) {
    const h = /^# --- (\S+)$/.exec(line);
    if (h) { name = h[1]; m.set(name, []); continue; }
    if (name) m.get(name).push(line);
  }
  return new Map([...m].map(([k, v]) => [k, v.join('\n').replace(/\n+$/, '\n')]));
}
const TEXT = { ...Object.fromEntries(blocks('enable.sh')), ...Object.fromEntries(blocks('rotate-revoke.sh')),
  ...Object.fromEntries(blocks('troubleshoot.sh')) };

// A CLI session: the coffer environment, the shell variables the tutorial
// keeps between blocks (identityID, keyID, ...) and the names its
// placeholders stand for.
function session(s, names, tag) {
  const dir = tempDir(`coffer-tutorial-${tag}-`);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  symlinkSync(join(BUILD, 'coffer'), join(bin, 'coffer'));
  const state = join(dir, 'variables.sh');
  const env = {
    PATH: `${bin}:${process.env.PATH}`,
    HOME: dir,
    COFFER_CONFIG: join(dir, 'coffer.config'),
    COFFER_URL: s.mgmtUrl,
    COFFER_TOKEN: s.adminToken,
    COFFER_VAULT_URL: s.kv.url,
    COFFER_VAULT_TOKEN: s.kv.adminToken,
    COFFER_VAULT_CA: s.caPath,
  };
  writeFileSync(env.COFFER_CONFIG, '');
  let n = 0;
  const x = {
    env,
    // The block, as run: placeholders replaced, az -> coffer.
    script(block) {
      assert.ok(block in TEXT, `no tutorial block ${block}`);
      let t = TEXT[block];
      for (const [from, to] of Object.entries(names)) t = t.split(from).join(to);
      t = t.replace(/(^|[\s(])az(?=\s)/gm, '$1coffer');
      assert.doesNotMatch(t, /<[^>\s]+( [^>]+)?>/, `${block}: every placeholder has a name`);
      assert.doesNotMatch(t, /(^|[\s(])az\s/m, `${block}: no az left`);
      return t;
    },
    // Runs a block; its output (every command's stdout, in order).
    run(block, vars = {}) {
      const body = x.script(block);
      const file = join(dir, `${String(++n).padStart(2, '0')}-${block}.sh`);
      writeFileSync(file, ['set -e', `[ -f ${state} ] && . ${state}`, body,
        `for v in identityID identityPrincipalID keyvaultID keyID; do [ -n "\${!v+x}" ] && declare -p "$v"; done > ${state}`,
        'true', ''].join('\n'));
      const r = spawnSync('bash', [file], { env: { ...env, ...vars }, encoding: 'utf8', timeout: 120000 });
      assert.equal(r.status, 0, `tutorial block ${block} (${file}) exited ${r.status}:\n${r.stderr}\n${s.cofferdLog().slice(-3000)}`);
      assert.equal(r.stderr, '', `${block}: nothing on stderr`);
      return r.stdout;
    },
    json(block, vars) { return JSON.parse(x.run(block, vars)); },
    // A shell variable the tutorial set (identityID, keyID, ...).
    variable(v) {
      const m = new RegExp(`declare -- ${v}="([^"]*)"`).exec(readFileSync(state, 'utf8'));
      assert.ok(m, `the tutorial set $${v}`);
      return m[1];
    },
    // coffer outside the tutorial: what the reader types to look.
    coffer(args, { ok = true } = {}) {
      const r = spawnSync(join(BUILD, 'coffer'), args, { env, encoding: 'utf8', timeout: 60000 });
      if (ok) assert.equal(r.status, 0, `coffer ${args.join(' ')}: ${r.stderr}`);
      return { ...r, json: () => JSON.parse(r.stdout) };
    },
  };
  return x;
}

async function assertLocked(s, reg, layout, how) {
  const kvp = await waitFor(`${how}: the registry's key is unavailable`, async () => {
    const k = await s.kvp(reg);
    return k.keyStatus === 'unavailable' && k;
  });
  assert.ok(kvp.lastError, `${how}: lastError says why`);
  await waitFor(`${how}: the data plane answers 403 DENIED`, async () => {
    const r = await s.rawReads(layout, reg);
    assertOciError(r.manifest, 403, 'DENIED', `${how}: manifest`);
    assertOciError(r.blob, 403, 'DENIED', `${how}: blob`);
    const msg = r.manifest.json().errors[0].message;
    assert.match(msg, /customer-managed key/, `${how}: the error names the cause: ${msg}`);
    return true;
  }, { timeoutMs: 5000 });
  await assert.rejects(s.pullSame(layout, reg, `${how}: pull while revoked`), `${how}: skopeo cannot pull`);
  return kvp;
}

async function assertServes(s, reg, layout, how) {
  await waitFor(`${how}: the registry's key is available again`, async () => {
    const k = await s.kvp(reg);
    return k.keyStatus === 'available' && k.lastError === null;
  });
  await s.waitServes(layout, reg, how);
  await s.pullSame(layout, reg, `${how}: the same bytes pull`);
}

describe('the tutorial series, verbatim (access policies)', { timeout: 300000 }, () => {
  let s;
  let t;
  let layout;
  const REG = 'tutorialregistry';
  const names = {
    '<resource-group-name>': 'tutorialgroup',
    '<location>': 'eastus',
    '<managed-identity-name>': 'tutorialidentity',
    '<key-vault-name>': 'tutorialvault',
    '<key-name>': 'tutorialkey',
    '<keyname>': 'tutorialkey',
    '<container-registry-name>': REG,
    '<registry-name>': REG,
    // values the reader pastes: shell variables that hold them
    '<new-key-id>': '"$NEW_KEY_ID"',
    '<client ID of a managed identity>': '"$IDENTITY_CLIENT_ID"',
    '<id of user assigned identity>': '$identityID',
    '<identity-principal-id>': '$identityPrincipalID',
    // part 4's example names
    myRegistry: REG,
    myresourcegroup: 'tutorialgroup',
    myidentity: 'tutorialidentity',
  };

  before(async () => {
    s = await startCmkStack();
    t = session(s, names, 'policy');
    const sub = t.coffer(['account', 'show', '--query', 'id', '-o', 'tsv']).stdout.trim();
    names.mysubscription = sub;
    layout = await buildImage({
      tag: 'v1',
      layers: [(x) => { put(x, 'etc/motd', 'the tutorial\n'); }, (x) => { put(x, 'data.bin', Buffer.alloc(150000, 7)); }],
    });
  });
  after(async () => { await s?.stop(); });

  test('part 2, enable: group, identity, vault with purge protection, access, key, Premium registry', async () => {
    const g = t.json('create-group');
    assert.equal(g.name, 'tutorialgroup');
    assert.equal(g.location, 'eastus');
    const mi = t.json('create-identity');
    assert.equal(mi.type, 'Microsoft.ManagedIdentity/userAssignedIdentities');
    assert.equal(mi.resourceGroup, 'tutorialgroup');
    t.run('identity-variables');
    assert.equal(t.variable('identityID'), mi.id);
    assert.match(mi.id, /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/tutorialgroup\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/tutorialidentity$/);
    assert.equal(t.variable('identityPrincipalID'), mi.principalId);
    const kv = t.json('create-vault');
    assert.equal(kv.properties.enablePurgeProtection, true);
    assert.equal(kv.properties.enableSoftDelete, true);
    assert.equal(kv.location, 'eastus', "the group's location");
    t.run('vault-variable');
    assert.equal(t.variable('keyvaultID'), kv.id);
    assert.match(kv.id, /\/resourceGroups\/tutorialgroup\/providers\/Microsoft\.KeyVault\/vaults\/tutorialvault$/);
    const pol = t.json('set-policy');
    assert.deepEqual(pol.properties.accessPolicies.map((p) => [p.objectId, [...p.permissions.keys].sort()]),
      [[mi.principalId, ['get', 'unwrapKey', 'wrapKey']]]);
    // the tutorial's other option, here beside the first: stored, and
    // without effect while the vault uses access policies
    const ra = t.json('role-assignment');
    assert.equal(ra.roleDefinitionName, 'Key Vault Crypto Service Encryption User');
    assert.equal(ra.principalId, mi.principalId);
    assert.equal(ra.scope, kv.id);
    const key = t.json('create-key');
    assert.equal(key.key.kty, 'RSA');
    assert.deepEqual(key.key.key_ops, ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey']);
    t.run('versioned-key-id');
    assert.equal(t.variable('keyID'), key.key.kid, 'versioned: manual rotation');
    t.run('non-versioned-key-id');
    const keyId = t.variable('keyID');
    assert.equal(keyId, key.key.kid.replace(/\/[0-9a-f]{32}$/, ''), 'non-versioned: automatic rotation');
    assert.match(keyId, new RegExp(`^https://tutorialvault\\.vault\\.localhost:${s.kv.port}/keys/tutorialkey$`),
      "the vault's host is coffer's (docs/cli.md)");

    const reg = t.json('create-registry');
    assert.equal(reg.sku.name, 'Premium');
    assert.equal(reg.resourceGroup, 'tutorialgroup');
    assert.match(reg.id, /\/resourceGroups\/tutorialgroup\/providers\/Microsoft\.ContainerRegistry\/registries\/tutorialregistry$/);
    assert.ok(reg.identity.userAssignedIdentities[mi.id], 'the identity, by its resource id');
    assert.equal(reg.encryption.status, 'enabled');
    assert.equal(reg.encryption.keyVaultProperties.keyIdentifier, keyId);
    assert.equal(reg.encryption.keyVaultProperties.identity, mi.clientId);
    assert.ok(reg.loginServer, 'loginServer');
    assert.equal(reg.policies.trustPolicy.status, 'disabled', 'no content trust on a CMK registry');

    const enc = t.json('show-encryption');
    assert.equal(enc.status, 'enabled');
    assert.deepEqual(Object.keys(enc.keyVaultProperties).filter((k) =>
      ['identity', 'keyIdentifier', 'keyRotationEnabled', 'lastKeyRotationTimestamp', 'versionedKeyIdentifier'].includes(k)).sort(),
    ['identity', 'keyIdentifier', 'keyRotationEnabled', 'lastKeyRotationTimestamp', 'versionedKeyIdentifier']);
    assert.equal(enc.keyVaultProperties.keyRotationEnabled, true);
    assert.equal(enc.keyVaultProperties.versionedKeyIdentifier, key.key.kid);
    // acr show carries the same encryption block (--query encryption); the
    // key check runs every second, so its timestamp may move in between
    const stable = (e) => ({ ...e, keyVaultProperties: { ...e.keyVaultProperties, lastKeyCheckTimestamp: undefined } });
    assert.deepEqual(stable(t.coffer(['acr', 'show', '-n', REG, '--query', 'encryption']).json()), stable(enc));

    await s.push(layout, REG);
    await s.pullSame(layout, REG, 'pull after part 2');
  });

  test('part 3, rotate: a new key version is followed; rotate-key with a client id, [system], the identity id', async () => {
    const mi = t.coffer(['identity', 'show', '-g', 'tutorialgroup', '-n', 'tutorialidentity']).json();
    const v2 = t.json('new-key-version').key.kid;
    await waitFor('the registry follows the new key version (automatic rotation)', async () =>
      (await s.kvp(REG)).versionedKeyIdentifier === v2);
    await s.pullSame(layout, REG, 'pull after automatic rotation');

    // manual: a versioned key id and the identity's client id
    let r = t.json('rotate-client-id', { NEW_KEY_ID: v2, IDENTITY_CLIENT_ID: mi.clientId });
    assert.equal(r.encryption.keyVaultProperties.keyIdentifier, v2);
    assert.equal(r.encryption.keyVaultProperties.keyRotationEnabled, false, 'versioned: manual');
    assert.equal(r.encryption.keyVaultProperties.identity, mi.clientId);

    // [system]: the reader first turns the registry's system identity on and
    // gives it access, as part 3 says ("verify that the required Key Vault
    // permissions ... is assigned to it")
    const sys = t.coffer(['acr', 'identity', 'assign', '-n', REG, '--identities', '[system]']).json();
    assert.equal(sys.type, 'SystemAssigned, UserAssigned');
    t.coffer(['keyvault', 'set-policy', '-g', 'tutorialgroup', '-n', 'tutorialvault', '--object-id', sys.principalId,
      '--key-permissions', 'get', 'unwrapKey', 'wrapKey']);
    const keyId = v2.replace(/\/[0-9a-f]{32}$/, '');
    r = t.json('rotate-system', { NEW_KEY_ID: keyId });
    assert.equal(r.encryption.keyVaultProperties.identity, 'system');
    assert.equal(r.encryption.keyVaultProperties.keyRotationEnabled, true, 'version-less: automatic again');
    await s.pullSame(layout, REG, 'pull with the system identity');

    // back to the user-assigned identity, by its resource id
    r = t.json('rotate-user-assigned', { NEW_KEY_ID: keyId });
    assert.equal(r.encryption.keyVaultProperties.identity, mi.clientId);
    assert.equal(r.encryption.keyVaultProperties.versionedKeyIdentifier, v2);
    await s.pullSame(layout, REG, 'pull after the manual rotations');
  });

  test("part 3, revoke: the policy removed locks the registry; given back, it serves again", async () => {
    const pol = t.json('revoke-policy');
    assert.ok(!pol.properties.accessPolicies.some((p) => p.objectId === t.variable('identityPrincipalID')),
      'the identity has no access policy left');
    const kvp = await assertLocked(s, REG, layout, 'access policy removed');
    assert.match(kvp.lastError, /403/, `the vault's refusal: ${kvp.lastError}`);
    // what the reader sees with the CLI
    const enc = t.coffer(['acr', 'encryption', 'show', '-n', REG]).json();
    assert.equal(enc.keyVaultProperties.keyStatus, 'unavailable');
    assert.equal(enc.keyVaultProperties.lastError, kvp.lastError);
    // "If you enable access to the key ... the registry will pick the key"
    t.json('set-policy');
    await assertServes(s, REG, layout, 'access policy given back');
  });

  test('part 3, revoke: the key deleted locks the registry; recovered, it serves again', async () => {
    const del = t.json('delete-key');
    assert.match(del.recoveryId, /\/deletedkeys\/tutorialkey$/);
    await assertLocked(s, REG, layout, 'key deleted');
    // part 4, "Accidental deletion of a key vault or key": recover it (the
    // Key Vault recovery article it points to: az keyvault key recover)
    t.coffer(['keyvault', 'key', 'recover', '--name', 'tutorialkey', '--vault-name', 'tutorialvault']);
    await assertServes(s, REG, layout, 'key recovered');
  });

  test('part 4, troubleshoot: the identity in use cannot be removed; assign it by its resource id', async () => {
    const id = t.variable('identityID');
    const rm = t.coffer(['acr', 'identity', 'remove', '-n', REG, '--identities', id], { ok: false });
    assert.equal(rm.status, 1);
    assert.match(rm.stderr, /^ERROR: \(IdentityInUse\) /);
    const a = t.json('reassign-identity');
    assert.ok(a.userAssignedIdentities[id], 'assigned, by its resource id');
    const b = t.json('reassign-identity-expired');
    assert.deepEqual(b, a, 'assigning again changes nothing');
    await s.pullSame(layout, REG, 'pull at the end of the series');
  });

  test('every block of the three tutorials ran, except those for Managed HSM', () => {
    const ran = new Set();
    const dir = dirname(t.env.COFFER_CONFIG);
    for (const f of spawnSync('ls', [dir], { encoding: 'utf8' }).stdout.split('\n')) {
      const m = /^\d+-(.+)\.sh$/.exec(f);
      if (m) ran.add(m[1]);
    }
    assert.deepEqual(Object.keys(TEXT).filter((b) => !ran.has(b)).sort(), [...SKIPPED].sort());
  });
});

describe('the tutorial with Azure RBAC instead of access policies', { timeout: 300000 }, () => {
  let s;
  let t;
  let layout;
  const REG = 'rbacregistry';
  const names = {
    '<resource-group-name>': 'rbacgroup',
    '<location>': 'westeurope',
    '<managed-identity-name>': 'rbacidentity',
    '<key-vault-name>': 'rbacvault',
    '<key-name>': 'rbackey',
    '<keyname>': 'rbackey',
    '<container-registry-name>': REG,
  };

  before(async () => {
    s = await startCmkStack();
    t = session(s, names, 'rbac');
    layout = await buildImage({ tag: 'v1', layers: [(x) => { put(x, 'rbac.txt', 'role based\n'); }] });
  });
  after(async () => { await s?.stop(); });

  test('a vault with --enable-rbac-authorization: the role alone gives the registry its key', async () => {
    t.run('create-group');
    t.run('create-identity');
    t.run('identity-variables');
    // the vault of the tutorial, on Azure's RBAC permission model
    const kv = t.coffer(['keyvault', 'create', '--name', 'rbacvault', '--resource-group', 'rbacgroup',
      '--enable-purge-protection', '--enable-rbac-authorization']).json();
    assert.equal(kv.properties.enableRbacAuthorization, true);
    t.run('vault-variable');
    // access policies do not apply to it: az refuses set-policy
    const sp = spawnSync('bash', ['-c', t.script('set-policy')], { env: { ...t.env, ...vars(t) }, encoding: 'utf8' });
    assert.equal(sp.status, 1, sp.stderr);
    assert.match(sp.stderr, /Cannot set policies to a vault with '--enable-rbac-authorization' specified/);
    t.run('create-key');
    t.run('non-versioned-key-id');
    // without a role the registry is refused its key
    const refused = spawnSync('bash', ['-c', t.script('create-registry')], { env: { ...t.env, ...vars(t) }, encoding: 'utf8' });
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /^ERROR: \(KeyVaultAccessDenied\) /);
    const ra = t.json('role-assignment');
    assert.equal(ra.roleDefinitionName, 'Key Vault Crypto Service Encryption User');
    const reg = t.json('create-registry');
    assert.equal(reg.encryption.keyVaultProperties.keyStatus, 'available');
    await s.push(layout, REG);
    await s.pullSame(layout, REG, 'pull with the role');
    // the role allows get, wrap and unwrap, nothing more: the identity's own
    // token is refused a key creation (Forbidden / ForbiddenByRbac)
    const tok = await s.mgmt('GET', `/msi/token?resource=https://vault.azure.net&client_id=${reg.encryption.keyVaultProperties.identity}`,
      undefined, { 'x-identity-header': s.adminToken });
    assert.equal(tok.status, 200, tok.text);
    const denied = await s.kv.request('/keys/other/create?api-version=7.4', { method: 'POST', body: { kty: 'RSA' },
      vault: 'rbacvault', token: tok.json.access_token });
    assert.equal(denied.status, 403, denied.text);
    assert.equal(denied.json.error.innererror.code, 'ForbiddenByRbac');
    assert.match(denied.json.error.message, /Microsoft\.KeyVault\/vaults\/keys\/create\/action/);
  });

  test('the role assignment removed locks the registry; assigned again, it serves again', async () => {
    const principal = t.variable('identityPrincipalID');
    const list = t.coffer(['role', 'assignment', 'list', '--scope', t.variable('keyvaultID'), '--assignee', principal]).json();
    assert.equal(list.length, 1);
    t.coffer(['role', 'assignment', 'delete', '--assignee', principal, '--role', 'Key Vault Crypto Service Encryption User',
      '--scope', t.variable('keyvaultID')]);
    await assertLocked(s, REG, layout, 'role assignment removed');
    t.json('role-assignment');
    await assertServes(s, REG, layout, 'role assigned again');
  });
});

// The tutorial's shell variables, for a block run outside session.run.
function vars(t) {
  const out = {};
  for (const v of ['identityID', 'identityPrincipalID', 'keyvaultID', 'keyID']) {
    try { out[v] = t.variable(v); } catch { /* not set yet */ }
  }
  return out;
}

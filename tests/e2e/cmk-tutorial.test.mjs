// cmk-tutorial.test.mjs -- the reference service's customer-managed key
// tutorial series (/work/shared/reference/acr-cmk.md), run as published with
// `coffer` for `az` (issue 20): the Azure CLI blocks of part 2 (enable),
// part 3 (rotate and revoke) and part 4 (troubleshoot), kept verbatim in
// tests/e2e/tutorial/*.sh, each placeholder replaced by a name (or, where
// the reader pastes a value, by a shell variable holding it) and `az` by
// `coffer`, nothing else. Between blocks the test does what the reader
// does: pushes and pulls an image, waits for the registry to follow a key,
// looks at the revoked registry's error (its cause in lastError, quoted by
// the data plane's 403), and gives access back. Beside the blocks, what the
// parts describe in prose, typed as a reader would:
//   part 3  delete-policy with a wrong object id (the 2022 text passed the
//           key's id) is refused and revokes nothing; rotate-key --identity
//           with a principal id: a client id or resource id was expected
//   part 4  the identity the key uses cannot be removed (and what to do);
//           a vault firewall added later blocks the registry, trusted
//           services (cofferd) or the registry's address let it through;
//           the vault deleted locks the registry with the cause, cannot be
//           purged (purge protection) nor its name reused, and
//           `keyvault recover` gives everything back
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
import { cofferRunner, stackEnv } from './lib/cli.mjs';
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
  const env = stackEnv(s, dir, `${bin}:${process.env.PATH}`);
  let n = 0;
  const x = {
    env,
    // coffer outside the tutorial, what the reader types to look:
    // ok(args) must succeed, fails(args, code) must print `ERROR: (code)`
    ...cofferRunner(() => env),
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
  };
  return x;
}

// The key check (every second here) locks the registry: lastError names the
// cause, and the data plane's 403 quotes it.
async function assertLocked(s, reg, layout, how, cause) {
  const kvp = await waitFor(`${how}: the registry's key is unavailable`, async () => {
    const k = await s.kvp(reg);
    return k.keyStatus === 'unavailable' && k;
  });
  assert.match(kvp.lastError, cause, `${how}: lastError names the cause`);
  await waitFor(`${how}: the data plane answers 403 DENIED`, async () => {
    const r = await s.rawReads(layout, reg);
    assertOciError(r.manifest, 403, 'DENIED', `${how}: manifest`);
    assertOciError(r.blob, 403, 'DENIED', `${how}: blob`);
    const msg = r.manifest.json().errors[0].message;
    assert.match(msg, /customer-managed key/, `${how}: the error names the cause: ${msg}`);
    assert.ok(msg.includes(kvp.lastError), `${how}: the data plane quotes lastError: ${msg}`);
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
    const sub = t.ok(['account', 'show', '--query', 'id', '-o', 'tsv']).out.trim();
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
    assert.deepEqual(key.key.keyOps, ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey']);
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
    assert.deepEqual(stable(t.ok(['acr', 'show', '-n', REG, '--query', 'encryption']).json), stable(enc));

    await s.push(layout, REG);
    await s.pullSame(layout, REG, 'pull after part 2');
  });

  test('part 3, rotate: a new key version is followed; rotate-key with a client id, [system], the identity id', async () => {
    const mi = t.ok(['identity', 'show', '-g', 'tutorialgroup', '-n', 'tutorialidentity']).json;
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
    const sys = t.ok(['acr', 'identity', 'assign', '-n', REG, '--identities', '[system]']).json;
    assert.equal(sys.type, 'SystemAssigned, UserAssigned');
    t.ok(['keyvault', 'set-policy', '-g', 'tutorialgroup', '-n', 'tutorialvault', '--object-id', sys.principalId,
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

  test('part 3, rotate-key --identity with a principal id: a client id or resource id was expected', () => {
    const principal = t.variable('identityPrincipalID');
    const mi = t.ok(['identity', 'show', '-g', 'tutorialgroup', '-n', 'tutorialidentity']).json;
    const f = t.fails(['acr', 'encryption', 'rotate-key', '-n', REG, '--identity', principal], 'IdentityRequired');
    assert.ok(f.err.includes(`'${principal}' is the principal (object) id of identity 'tutorialidentity': `
      + 'keyVaultProperties.identity expected a client id or resource id '
      + `(its client id is ${mi.clientId}, its resource id ${t.variable('identityID')})`), f.err);
    assert.equal(t.ok(['acr', 'encryption', 'show', '-n', REG, '--query', 'keyVaultProperties.identity', '-o', 'tsv']).out,
      `${mi.clientId}\n`, 'unchanged');
  });

  test('part 3, revoke: delete-policy with a wrong object id fails and revokes nothing', async () => {
    // the 2022 text of the tutorial passed the key's id as --object-id
    const f = t.fails(['keyvault', 'delete-policy', '-g', 'tutorialgroup', '-n', 'tutorialvault',
      '--object-id', t.variable('keyID')], 'AccessPolicyNotFound');
    assert.match(f.err, /No matching policies found/);
    // one key check now (`acr encryption check`): still available
    const p = t.ok(['acr', 'encryption', 'check', '-n', REG]).json.keyVaultProperties;
    assert.equal(p.keyStatus, 'available', p.lastError);
    await s.pullSame(layout, REG, 'pull after a delete-policy that matched nothing');
  });

  test("part 3, revoke: the policy removed locks the registry; given back, it serves again", async () => {
    const pol = t.json('revoke-policy');
    assert.ok(!pol.properties.accessPolicies.some((p) => p.objectId === t.variable('identityPrincipalID')),
      'the identity has no access policy left');
    const kvp = await assertLocked(s, REG, layout, 'access policy removed',
      /refused unwrapKey.*403 Forbidden: The user, group or application .* does not have keys unwrapKey permission/);
    // what the reader sees with the CLI
    const enc = t.ok(['acr', 'encryption', 'show', '-n', REG]).json;
    assert.equal(enc.keyVaultProperties.keyStatus, 'unavailable');
    assert.equal(enc.keyVaultProperties.lastError, kvp.lastError);
    // "If you enable access to the key ... the registry will pick the key"
    t.json('set-policy');
    await assertServes(s, REG, layout, 'access policy given back');
  });

  test('part 3, revoke: the key deleted locks the registry; recovered, it serves again', async () => {
    const del = t.json('delete-key');
    assert.match(del.recoveryId, /\/deletedkeys\/tutorialkey$/);
    await assertLocked(s, REG, layout, 'key deleted', /404 KeyNotFound/);
    assert.equal(t.ok(['keyvault', 'key', 'list-deleted', '--vault-name', 'tutorialvault', '--query', '[].name', '-o', 'tsv']).out,
      'tutorialkey\n');
    // part 4, "Accidental deletion of a key vault or key": recover it (the
    // Key Vault recovery article it points to: az keyvault key recover)
    t.ok(['keyvault', 'key', 'recover', '--name', 'tutorialkey', '--vault-name', 'tutorialvault']);
    await assertServes(s, REG, layout, 'key recovered');
  });

  test('part 4, troubleshoot: the identity in use cannot be removed; assign it by its resource id', async () => {
    const id = t.variable('identityID');
    const clientId = t.ok(['identity', 'show', '-g', 'tutorialgroup', '-n', 'tutorialidentity', '--query', 'clientId', '-o', 'tsv']).out.trim();
    const rm = t.fails(['acr', 'identity', 'remove', '-n', REG, '--identities', id], 'IdentityInUse');
    assert.match(rm.err, new RegExp(`Identity '${clientId}' is used to access the customer-managed key of registry '${REG}'`));
    assert.match(rm.err, /rotate-key/, 'says the way out');
    const a = t.json('reassign-identity');
    assert.ok(a.userAssignedIdentities[id], 'assigned, by its resource id');
    const b = t.json('reassign-identity-expired');
    assert.deepEqual(b, a, 'assigning again changes nothing');
    await s.pullSame(layout, REG, 'pull after reassigning the identity');
  });

  test('part 4, a vault firewall added later blocks the registry; trusted services or its address let it through', async () => {
    const kv = ['-g', 'tutorialgroup', '-n', 'tutorialvault'];
    const r = t.ok(['keyvault', 'update', ...kv, '--default-action', 'Deny', '--bypass', 'None']);
    assert.deepEqual(r.json.properties.networkAcls, { bypass: 'None', defaultAction: 'Deny', ipRules: [], virtualNetworkRules: [] });
    const p = await assertLocked(s, REG, layout, 'firewall: Deny, no bypass',
      /^The key vault's firewall refused unwrapKey on \S+ for identity \S+ \(403 ForbiddenByFirewall\)/);
    assert.match(p.lastError, /coffer keyvault network-rule add/);
    assert.match(p.lastError, /Client address is not authorized and caller is not a trusted service\. +Client address: 127\.0\.0\.1/);
    // the tutorial's fix: allow trusted services; cofferd is one
    t.ok(['keyvault', 'update', ...kv, '--bypass', 'AzureServices']);
    await assertServes(s, REG, layout, 'firewall: trusted services bypass it');
    // or allow the registry's address
    t.ok(['keyvault', 'update', ...kv, '--bypass', 'None']);
    await assertLocked(s, REG, layout, 'firewall: no bypass again', /ForbiddenByFirewall/);
    t.ok(['keyvault', 'network-rule', 'add', ...kv, '--ip-address', '127.0.0.1']);
    assert.deepEqual(t.ok(['keyvault', 'network-rule', 'list', ...kv, '--query', 'ipRules']).json, [{ value: '127.0.0.1/32' }]);
    await assertServes(s, REG, layout, 'firewall: the registry\'s address allowed');
    t.ok(['keyvault', 'network-rule', 'remove', ...kv, '--ip-address', '127.0.0.1']);
    t.ok(['keyvault', 'update', ...kv, '--default-action', 'Allow']);
    await assertServes(s, REG, layout, 'firewall: off again');
  });

  test('part 4, the key vault deleted: locked with the cause; recover gives everything back', async () => {
    const kv = ['-g', 'tutorialgroup', '-n', 'tutorialvault'];
    t.ok(['keyvault', 'delete', ...kv]);
    const p = await assertLocked(s, REG, layout, 'vault deleted',
      /404 VaultNotFound: The vault 'tutorialvault' is soft-deleted \(deleted at \S+, purged at \S+\): recover it with `coffer keyvault recover -n tutorialvault`/);
    assert.ok(p.lastError.length <= 511);
    assert.equal(t.ok(['keyvault', 'list-deleted', '--query', '[].name', '-o', 'tsv']).out, 'tutorialvault\n');
    const shown = t.ok(['keyvault', 'show-deleted', '-n', 'tutorialvault']).json;
    assert.equal(shown.properties.purgeProtectionEnabled, true);
    assert.equal(shown.properties.vaultId, t.variable('keyvaultID'));
    assert.ok(shown.properties.scheduledPurgeDate > shown.properties.deletionDate);
    // purge protection: no purge before the scheduled date; the name is held
    const pf = t.fails(['keyvault', 'purge', '-n', 'tutorialvault'], 'MethodNotAllowed');
    assert.match(pf.err, /Operation 'DeletedVaultPurge' is not allowed/);
    t.fails(['keyvault', 'create', ...kv], 'ConflictError');
    t.fails(['keyvault', 'show', ...kv], 'ResourceNotFound');
    const rec = t.ok(['keyvault', 'recover', '-n', 'tutorialvault']).json;
    assert.equal(rec.id, t.variable('keyvaultID'), 'back in its group');
    assert.ok(rec.properties.accessPolicies.some((x) => x.objectId === t.variable('identityPrincipalID')),
      'the access policies come back with it');
    // Azure drops a deleted vault's role assignments; recovery does not restore them
    assert.deepEqual(t.ok(['role', 'assignment', 'list', '--scope', rec.id]).json, []);
    assert.equal(t.ok(['keyvault', 'list-deleted']).out, '[]\n');
    await assertServes(s, REG, layout, 'vault recovered');
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
    const kv = t.ok(['keyvault', 'create', '--name', 'rbacvault', '--resource-group', 'rbacgroup',
      '--enable-purge-protection', '--enable-rbac-authorization']).json;
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
    const list = t.ok(['role', 'assignment', 'list', '--scope', t.variable('keyvaultID'), '--assignee', principal]).json;
    assert.equal(list.length, 1);
    t.ok(['role', 'assignment', 'delete', '--assignee', principal, '--role', 'Key Vault Crypto Service Encryption User',
      '--scope', t.variable('keyvaultID')]);
    await assertLocked(s, REG, layout, 'role assignment removed', /403/);
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

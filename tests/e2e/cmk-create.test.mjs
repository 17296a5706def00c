// cmk-create: creating a registry encrypted with a customer-managed key, the
// way `az acr create --identity mi --key-encryption-key <key> --sku Premium`
// does it (reference: acr-cmk.md §1), against the real keyvaultd and the
// real cofferd, and every refusal a user meets on the way:
//   - 201 with keyVaultProperties (current version, automatic rotation for a
//     non-versioned key id, key available, the identity's client id);
//   - an image pushed with skopeo comes back bit-identical, also after a
//     restart of cofferd (the key is fetched from the vault again);
//   - the vault's audit log shows the wrap and unwrap done as the identity;
//   - cofferd.db holds C only wrapped: the stored value unwraps (in the
//     vault) to 32 bytes that appear in no file of the data directory;
//   - refusals with their codes, and nothing created: Basic/Standard sku,
//     EC key, vault without purge protection, identity without access, key
//     disabled, key without wrapKey, bad key id, missing identity; PATCH
//     that would disable CMK or drop Premium; removing or deleting the
//     identity the key uses.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCmkStack, waitFor } from './lib/cmk.mjs';
import { buildImage, put } from './lib/images.mjs';
import { filesContaining } from './lib/oci.mjs';
import { armId } from './lib/arm.mjs';

describe('cmk-create', { timeout: 120000 }, () => {
  let s;
  let mi;
  let key;
  let layout;
  const REG = 'cmkcreate1';

  before(async () => {
    s = await startCmkStack();
    await s.createVault('cmkvault');
    await s.createVault('softvault', { purgeProtection: false });
    mi = await s.createIdentity('mi-create');
    await s.grant('cmkvault', mi.principalId);
    key = await s.createKey('cmkvault', 'k1');
    layout = await buildImage({
      tag: 'v1',
      layers: [(r) => { put(r, 'etc/motd', 'cmk create\n'); }, (r) => { put(r, 'app/data.bin', Buffer.alloc(300000, 7)); }],
    });
  });
  after(async () => { await s?.stop(); });

  // Asserts an ARM error answer and that registry `name` does not exist.
  async function refused(r, status, code, name, what) {
    assert.equal(r.status, status, `${what}: HTTP status (body ${r.text})`);
    assert.equal(r.json?.error?.code, code, `${what}: error code (body ${r.text})`);
    assert.equal(typeof r.json.error.message, 'string', `${what}: error message is a string`);
    if (name) {
      const g = await s.mgmt('GET', `/registries/${name}`);
      assert.equal(g.status, 404, `${what}: registry ${name} was not created (GET: ${g.status} ${g.text})`);
    }
    return r.json.error.message;
  }

  test('identity JSON is a user-assigned managed identity with client and principal ids', () => {
    assert.equal(mi.id, armId('identity', 'mi-create'), 'identity id: its ARM resource id');
    assert.equal(mi.type, 'Microsoft.ManagedIdentity/userAssignedIdentities', 'identity type');
    assert.match(mi.clientId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'clientId is a UUIDv4');
    assert.match(mi.principalId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'principalId is a UUIDv4');
    assert.notEqual(mi.clientId, mi.principalId, 'client and principal ids differ');
  });

  test('Premium registry with a non-versioned key id: 201 with keyVaultProperties', async () => {
    const r = await s.createCmkRegistry(REG, { keyId: key.id, identity: mi });
    assert.equal(r.status, 201, `create: ${r.text}\n${s.cofferdLog()}`);
    const j = r.json;
    assert.equal(j.name, REG, 'name');
    assert.equal(j.sku.name, 'Premium', 'sku');
    assert.equal(j.identity.userAssignedIdentities[mi.id]?.clientId, mi.clientId,
      'the identity is assigned to the registry');
    const enc = j.properties.encryption;
    assert.equal(enc.status, 'enabled', 'encryption status');
    const p = enc.keyVaultProperties;
    assert.equal(p.keyIdentifier, key.id, 'keyIdentifier as given (non-versioned)');
    assert.equal(p.versionedKeyIdentifier, key.kid, 'versionedKeyIdentifier = the current version');
    assert.equal(p.keyRotationEnabled, true, 'non-versioned id: automatic rotation');
    assert.equal(p.keyStatus, 'available', 'keyStatus');
    assert.equal(p.identity, mi.clientId, 'identity = the client id');
    assert.equal(p.lastError, null, 'no lastError');
    const g = await s.getRegistry(REG);
    assert.deepEqual(g.properties.encryption.keyVaultProperties.versionedKeyIdentifier, key.kid,
      'GET shows the same versioned key');
  });

  test('an image pushed with skopeo pulls back bit-identical', async () => {
    await s.push(layout, REG);
    await s.pullSame(layout, REG, 'pull after push');
  });

  test('the vault audit log shows get, wrapKey and unwrapKey done as the identity', async () => {
    const lines = await s.kv.admin.audit({ objectId: mi.principalId });
    const ok = lines.filter((l) => l.result === 'success' && l.key === 'k1');
    const ops = ok.map((l) => l.operation);
    for (const op of ['KeyGet', 'KeyWrap', 'KeyUnwrap']) {
      assert.ok(ops.includes(op), `audit has a successful ${op} by principal ${mi.principalId}: ${ops}`);
    }
    const wrap = ok.find((l) => l.operation === 'KeyWrap');
    assert.equal(wrap.version, key.version, 'wrapKey used the current key version');
    assert.equal(wrap.appId, mi.clientId, 'the token carried the identity client id as appid');
    assert.equal(wrap.vault, 'cmkvault', 'audited in the key vault');
  });

  test('cofferd.db holds C only wrapped: it unwraps to 32 bytes found in no file of the data dir', async () => {
    const from = `FROM registries WHERE name = '${REG}'`;
    const rows = s.sqlRows({
      sqlite: `SELECT length(wrapped_c) AS n, hex(wrapped_c) AS h, versioned_key_identifier AS v ${from}`,
      postgres: `SELECT length(wrapped_c) AS n, encode(wrapped_c, 'hex') AS h, versioned_key_identifier AS v ${from}`,
    });
    assert.equal(rows.length, 1, 'one registry row');
    assert.notEqual(rows[0].n, 32, 'wrapped_c is not a 32-byte value in clear');
    assert.equal(rows[0].n, 256, 'wrapped_c is an RSA-2048 ciphertext (256 bytes)');
    assert.equal(rows[0].v, key.kid, 'row names the versioned key');
    const c = await s.adminUnwrap(rows[0].v, Buffer.from(rows[0].h, 'hex'));
    assert.equal(c.length, 32, 'the wrapped value is a 32-byte key');
    const hits = filesContaining(s.dataDir, c);
    assert.deepEqual(hits, [], 'C in clear is in no file of the data dir');
    assert.ok(!s.cofferdLog().includes(c.toString('hex')), 'C (hex) is not in the log');
    assert.ok(!s.cofferdLog().includes(c.toString('base64url')), 'C (base64url) is not in the log');
  });

  test('after a cofferd restart the first key check unlocks the registry and the image pulls again', async () => {
    const t0 = Math.floor(Date.now() / 1000) * 1000;
    await s.restartCofferd();
    const p = await waitFor('key check after restart reports available', async () => {
      const k = await s.kvp(REG);
      return k.keyStatus === 'available' && k.lastKeyCheckTimestamp && Date.parse(k.lastKeyCheckTimestamp) >= t0 && k;
    });
    assert.equal(p.lastError, null, 'no lastError after restart');
    await s.waitServes(layout, REG, 'after restart');
    await s.pullSame(layout, REG, 'pull after restart');
  });

  test('refused: Basic and Standard sku (CmkRequiresPremium), nothing created', async () => {
    for (const sku of ['Basic', 'Standard']) {
      const name = `cmk${sku.toLowerCase()}1`;
      const msg = await refused(await s.createCmkRegistry(name, { keyId: key.id, identity: mi, sku }),
        400, 'CmkRequiresPremium', name, `${sku} sku`);
      assert.match(msg, /Premium/, `${sku}: message says Premium is needed`);
    }
  });

  test('refused: EC key (KeyTypeNotSupported), nothing created', async () => {
    const ec = await s.createKey('cmkvault', 'eck1', { kty: 'EC' });
    const msg = await refused(await s.createCmkRegistry('cmkec1', { keyId: ec.id, identity: mi }),
      400, 'KeyTypeNotSupported', 'cmkec1', 'EC key');
    assert.match(msg, /\bEC\b/, 'message names the key type');
    assert.match(msg, /RSA/, 'message names what is allowed');
  });

  test('refused: key in a vault without purge protection (PurgeProtectionRequired), nothing created', async () => {
    await s.grant('softvault', mi.principalId);
    const soft = await s.createKey('softvault', 'softk1');
    await refused(await s.createCmkRegistry('cmksoft1', { keyId: soft.id, identity: mi }),
      400, 'PurgeProtectionRequired', 'cmksoft1', 'vault without purge protection');
  });

  test('refused: identity without access to the key (KeyVaultAccessDenied names identity and key)', async () => {
    const other = await s.createIdentity('mi-nogrant');
    const msg = await refused(await s.createCmkRegistry('cmknogrant1', { keyId: key.id, identity: other }),
      400, 'KeyVaultAccessDenied', 'cmknogrant1', 'identity without grant');
    assert.ok(msg.includes(other.clientId), `message names the identity ${other.clientId}: ${msg}`);
    assert.ok(msg.includes(key.id), `message names the key ${key.id}: ${msg}`);
    assert.match(msg, /Get, Wrap Key, Unwrap Key/, 'message names the permissions needed');
    const d = await s.mgmt('DELETE', '/identities/mi-nogrant');
    assert.equal(d.status, 200, 'an identity no registry uses can be deleted');
  });

  test('refused: disabled key (KeyDisabled), nothing created', async () => {
    const k = await s.createKey('cmkvault', 'kdis1');
    await s.setKeyEnabled('cmkvault', 'kdis1', k.version, false);
    await refused(await s.createCmkRegistry('cmkdis1', { keyId: k.id, identity: mi }),
      400, 'KeyDisabled', 'cmkdis1', 'disabled key');
  });

  test('refused: key whose operations lack wrapKey (KeyOperationsNotAllowed), nothing created', async () => {
    const j = await s.kvCall('cmkvault', 'POST', '/keys/knoops1/create',
      { kty: 'RSA', key_size: 2048, key_ops: ['sign', 'verify'] });
    const id = j.key.kid.split('/').slice(0, -1).join('/');
    await refused(await s.createCmkRegistry('cmknoops1', { keyId: id, identity: mi }),
      400, 'KeyOperationsNotAllowed', 'cmknoops1', 'key without wrapKey');
  });

  test('refused: malformed key id (InvalidKeyIdentifier) and missing identity (IdentityRequired)', async () => {
    await refused(await s.createCmkRegistry('cmkbadkid1', { keyId: 'https://127.0.0.1/secrets/k1', identity: mi }),
      400, 'InvalidKeyIdentifier', 'cmkbadkid1', 'key id not under /keys/');
    await refused(await s.createCmkRegistry('cmkbadkid2', { keyId: `${key.id}/not-a-version`, identity: mi }),
      400, 'InvalidKeyIdentifier', 'cmkbadkid2', 'version not 32 hex');
    const body = s.cmkBody({ keyId: key.id, identity: mi });
    delete body.properties.encryption.keyVaultProperties.identity;
    await refused(await s.mgmt('PUT', '/registries/cmknoid1', body), 400, 'IdentityRequired', 'cmknoid1',
      'encryption without keyVaultProperties.identity');
    const body2 = s.cmkBody({ keyId: key.id, identity: mi });
    body2.identity = { type: 'None' };
    await refused(await s.mgmt('PUT', '/registries/cmknoid2', body2), 400, 'IdentityRequired', 'cmknoid2',
      'client id of an identity the registry is not given');
    // the principal (object) id where the client id belongs
    const msg = await refused(await s.createCmkRegistry('cmkbypid1', { keyId: key.id, identity: mi, clientId: mi.principalId }),
      400, 'IdentityRequired', 'cmkbypid1', 'principal id as keyVaultProperties.identity');
    assert.equal(msg, `'${mi.principalId}' is the principal (object) id of identity 'mi-create': keyVaultProperties.identity `
      + `expected a client id or resource id (its client id is ${mi.clientId}, its resource id ${armId('identity', 'mi-create')}).`);
  });

  test('PATCH refusals on a CMK registry: disable encryption, drop Premium', async () => {
    let r = await s.patchRegistry(REG, { properties: { encryption: { status: 'disabled' } } });
    await refused(r, 400, 'CmkCannotBeDisabled', null, 'PATCH encryption status disabled');
    r = await s.patchRegistry(REG, { sku: { name: 'Standard' } });
    await refused(r, 400, 'CmkRequiresPremium', null, 'PATCH sku Standard');
    const g = await s.getRegistry(REG);
    assert.equal(g.sku.name, 'Premium', 'sku unchanged');
    assert.equal(g.properties.encryption.status, 'enabled', 'encryption still enabled');
    assert.equal(g.properties.encryption.keyVaultProperties.keyStatus, 'available', 'key still available');
  });

  test('the identity the key uses can be neither removed from the registry nor deleted (IdentityInUse)', async () => {
    let r = await s.patchRegistry(REG, { identity: { type: 'None' } });
    const msg = await refused(r, 400, 'IdentityInUse', null, 'PATCH identity None');
    assert.ok(msg.includes(mi.clientId), `message names the identity: ${msg}`);
    assert.ok(msg.includes(REG), `message names the registry: ${msg}`);
    r = await s.mgmt('DELETE', '/identities/mi-create');
    await refused(r, 409, 'IdentityInUse', null, 'DELETE the identity in use');
    const g = await s.getRegistry(REG);
    assert.ok(g.identity.userAssignedIdentities[mi.id], 'identity still assigned');
    assert.equal((await s.mgmt('GET', '/identities/mi-create')).status, 200, 'identity still exists');
    await s.pullSame(layout, REG, 'pull after the refused changes');
  });
});

// cmk-rotation: key rotation of a CMK registry (reference: acr-cmk.md §2.1,
// §2.2) against the real keyvaultd and cofferd:
//   - non-versioned key id: a new version made in the vault is followed by
//     the key check within seconds (versionedKeyIdentifier moves,
//     lastKeyRotationTimestamp set, C re-wrapped under the new version);
//     the old version can then be disabled and images still pull, also after
//     a restart of cofferd;
//   - versioned key id: a new version is not followed; rotate-key (PATCH
//     keyVaultProperties.keyIdentifier) moves it; a non-versioned id switches
//     automatic rotation back on;
//   - rotate-key to another identity (refused before it has access), after
//     which the old identity can be removed from the registry and lose its
//     access without locking the registry.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCmkStack, waitFor } from './lib/cmk.mjs';
import { buildImage, put } from './lib/images.mjs';

describe('cmk-rotation', { timeout: 120000 }, () => {
  let s;
  let mi1;
  let mi2;
  let layout;
  const AUTO = 'cmkrotauto';
  const MANUAL = 'cmkrotmanual';

  before(async () => {
    s = await startCmkStack();
    await s.createVault('cmkvault');
    mi1 = await s.createIdentity('mi-rot1');
    mi2 = await s.createIdentity('mi-rot2');
    await s.grant('cmkvault', mi1.principalId);
    layout = await buildImage({ tag: 'v1', layers: [(r) => { put(r, 'etc/motd', 'cmk rotation\n'); }] });
  });
  after(async () => { await s?.stop(); });

  const ts = (x) => (x ? Date.parse(x) : NaN);

  test('non-versioned key: a new version in the vault is followed by the key check', async () => {
    const v1 = await s.createKey('cmkvault', 'rk');
    const r = await s.createCmkRegistry(AUTO, { keyId: v1.id, identity: mi1 });
    assert.equal(r.status, 201, `create: ${r.text}`);
    assert.equal(r.json.properties.encryption.keyVaultProperties.keyRotationEnabled, true, 'automatic rotation');
    await s.push(layout, AUTO);

    const t0 = Math.floor(Date.now() / 1000) * 1000;
    const v2 = await s.rotateVaultKey('cmkvault', 'rk');
    assert.notEqual(v2.version, v1.version, 'the vault made a new version');
    const p = await waitFor('versionedKeyIdentifier moves to the new version', async () => {
      const k = await s.kvp(AUTO);
      return k.versionedKeyIdentifier === v2.kid && k;
    });
    assert.equal(p.keyIdentifier, v1.id, 'keyIdentifier stays non-versioned');
    assert.equal(p.keyRotationEnabled, true, 'still automatic');
    assert.ok(ts(p.lastKeyRotationTimestamp) >= t0, `lastKeyRotationTimestamp set: ${p.lastKeyRotationTimestamp}`);
    assert.equal(p.keyStatus, 'available', 'keyStatus');
    const rows = s.sqlRows(`SELECT versioned_key_identifier AS v FROM registries WHERE name = '${AUTO}'`);
    assert.equal(rows[0].v, v2.kid, 'the stored row names the new version');
    const wraps = (await s.kv.admin.audit({ objectId: mi1.principalId, operation: 'KeyWrap' }))
      .filter((l) => l.result === 'success' && l.key === 'rk' && l.version === v2.version);
    assert.ok(wraps.length >= 1, 'C was wrapped under the new version as the identity');
    await s.pullSame(layout, AUTO, 'pull after rotation');
  });

  test('the old version disabled: images still pull, and after a cofferd restart', async () => {
    const versions = await s.kvCall('cmkvault', 'GET', '/keys/rk/versions');
    const cur = (await s.kvp(AUTO)).versionedKeyIdentifier.split('/').pop();
    const old = versions.value.map((v) => v.kid.split('/').pop()).filter((v) => v !== cur);
    assert.equal(old.length, 1, 'one old version');
    await s.setKeyEnabled('cmkvault', 'rk', old[0], false);
    const c = await s.check(AUTO);
    assert.equal(c.properties.encryption.keyVaultProperties.keyStatus, 'available', 'check: still available');
    assert.equal(c.properties.encryption.keyVaultProperties.lastError, null, 'check: no error');
    await s.pullSame(layout, AUTO, 'pull with the old version disabled');

    const t0 = Math.floor(Date.now() / 1000) * 1000;
    await s.restartCofferd();
    await waitFor('available after restart with the old version disabled', async () => {
      const k = await s.kvp(AUTO);
      return k.keyStatus === 'available' && ts(k.lastKeyCheckTimestamp) >= t0 && k.lastError === null;
    });
    await s.waitServes(layout, AUTO, 'after restart');
    await s.pullSame(layout, AUTO, 'pull after restart, old version disabled');
  });

  test('versioned key: a new version is not followed; rotate-key moves it; non-versioned turns rotation on', async () => {
    const v1 = await s.createKey('cmkvault', 'vk');
    const r = await s.createCmkRegistry(MANUAL, { keyId: v1.kid, identity: mi1 });
    assert.equal(r.status, 201, `create: ${r.text}`);
    let p = r.json.properties.encryption.keyVaultProperties;
    assert.equal(p.keyRotationEnabled, false, 'versioned id: manual rotation');
    assert.equal(p.keyIdentifier, v1.kid, 'keyIdentifier is the versioned id');
    assert.equal(p.versionedKeyIdentifier, v1.kid, 'versionedKeyIdentifier');
    await s.push(layout, MANUAL);

    const v2 = await s.rotateVaultKey('cmkvault', 'vk');
    const t1 = Date.now();
    // Two background key checks after the new version exists.
    p = await waitFor('two key checks after the new version', async () => {
      const k = await s.kvp(MANUAL);
      return ts(k.lastKeyCheckTimestamp) >= Math.ceil(t1 / 1000) * 1000 + 1000 && k;
    });
    assert.equal(p.versionedKeyIdentifier, v1.kid, 'the new version was not followed');
    assert.equal(p.lastKeyRotationTimestamp, null, 'no rotation happened');

    let u = await s.rotateKey(MANUAL, { keyIdentifier: v2.kid });
    assert.equal(u.status, 200, `rotate-key to the new version: ${u.text}`);
    p = u.json.properties.encryption.keyVaultProperties;
    assert.equal(p.keyIdentifier, v2.kid, 'keyIdentifier = the new versioned id');
    assert.equal(p.versionedKeyIdentifier, v2.kid, 'versionedKeyIdentifier = the new version');
    assert.equal(p.keyRotationEnabled, false, 'still manual');
    assert.ok(ts(p.lastKeyRotationTimestamp) >= Math.floor(t1 / 1000) * 1000, 'lastKeyRotationTimestamp set');
    assert.equal(p.identity, mi1.clientId, 'identity unchanged');
    await s.pullSame(layout, MANUAL, 'pull after manual rotate-key');

    u = await s.rotateKey(MANUAL, { keyIdentifier: v1.id });
    assert.equal(u.status, 200, `rotate-key to the non-versioned id: ${u.text}`);
    p = u.json.properties.encryption.keyVaultProperties;
    assert.equal(p.keyIdentifier, v1.id, 'keyIdentifier = the non-versioned id');
    assert.equal(p.keyRotationEnabled, true, 'non-versioned id: automatic rotation on');
    assert.equal(p.versionedKeyIdentifier, v2.kid, 'versionedKeyIdentifier = the current version');
    await s.pullSame(layout, MANUAL, 'pull after switching to automatic rotation');
  });

  test('rotate-key to another identity: refused without access, then moves; the old identity can go', async () => {
    // Both identities assigned to the registry.
    let u = await s.patchRegistry(AUTO, {
      identity: { type: 'UserAssigned', userAssignedIdentities: { [mi1.id]: {}, [mi2.id]: {} } },
    });
    assert.equal(u.status, 200, `assign a second identity: ${u.text}`);
    u = await s.rotateKey(AUTO, { identity: mi2.clientId });
    assert.equal(u.status, 400, `rotate-key to an identity without access: ${u.text}`);
    assert.equal(u.json?.error?.code, 'KeyVaultAccessDenied', 'refused with KeyVaultAccessDenied');
    assert.ok(u.json.error.message.includes(mi2.clientId), 'message names the identity');
    assert.equal((await s.kvp(AUTO)).identity, mi1.clientId, 'identity unchanged after the refusal');

    await s.grant('cmkvault', mi2.principalId);
    u = await s.rotateKey(AUTO, { identity: mi2.clientId });
    assert.equal(u.status, 200, `rotate-key to the granted identity: ${u.text}`);
    assert.equal(u.json.properties.encryption.keyVaultProperties.identity, mi2.clientId, 'identity moved');

    u = await s.patchRegistry(AUTO, { identity: { type: 'UserAssigned', userAssignedIdentities: { [mi2.id]: {} } } });
    assert.equal(u.status, 200, `removing the old identity now works: ${u.text}`);
    assert.deepEqual(Object.keys(u.json.identity.userAssignedIdentities), [mi2.id], 'only the new identity assigned');

    // The old identity loses its access: the registry keeps working (the
    // manual registry, still on mi1, does lock: the revocation is real).
    await s.revokeAll('cmkvault', mi1.principalId);
    const c = await s.check(AUTO);
    assert.equal(c.properties.encryption.keyVaultProperties.keyStatus, 'available', 'available with only mi2 granted');
    const m = await s.check(MANUAL);
    assert.equal(m.properties.encryption.keyVaultProperties.keyStatus, 'unavailable', 'the mi1 registry locks');
    const unwraps = (await s.kv.admin.audit({ objectId: mi2.principalId, operation: 'KeyUnwrap' }))
      .filter((l) => l.result === 'success');
    assert.ok(unwraps.length >= 1, 'key checks unwrap as the new identity');
    await s.pullSame(layout, AUTO, 'pull after the identity rotation');
  });
});

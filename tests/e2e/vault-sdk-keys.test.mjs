// keyvaultd driven by the official Azure SDK for JavaScript
// (@azure/keyvault-keys KeyClient and CryptographyClient): keys are created,
// imported, rotated, disabled and used for wrap/unwrap and sign/verify the
// way a customer-managed-key client uses a real Key Vault. Every
// cryptographic result is also checked with node:crypto against the key's
// public half, so a vault that only agrees with itself would fail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, publicEncrypt, generateKeyPairSync, createHash, verify as cryptoVerify, constants } from 'node:crypto';
import { KeyClient, CryptographyClient } from '@azure/keyvault-keys';
import { createIssuer, createSoftHsm, startKeyvaultd, sdkOptions, publicKeyOf, b64u, ALL_KEY_PERMISSIONS, RESOURCE } from './lib/vault.mjs';

let d, issuer, cred, client;

before(async () => {
  issuer = createIssuer();
  const hsm = createSoftHsm();
  d = await startKeyvaultd({ issuers: [issuer], hsm });
  cred = issuer.credential();
  await d.admin.allow('default', cred.oid, ALL_KEY_PERMISSIONS);
  client = new KeyClient(d.url, cred, sdkOptions(d));
});
after(async () => { await d?.stop(); });

const oaep = (pub, data, hash) => publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, data);
const crypto = (key) => new CryptographyClient(key.id, cred, sdkOptions(d));
const kidPattern = (name) => new RegExp(`^https://127\\.0\\.0\\.1:${d.port}/keys/${name}/[0-9a-f]{32}$`);

test('the SDK answers the 401 challenge by asking its credential for <resource>/.default', async () => {
  const c = issuer.credential();
  await d.admin.allow('default', c.oid, ['list']);
  const kc = new KeyClient(d.url, c, sdkOptions(d));
  for await (const _ of kc.listPropertiesOfKeys()) { /* drain */ }
  assert.deepEqual([...new Set(c.scopes)], [`${RESOURCE}/.default`]);
});

for (const size of [2048, 3072]) {
  test(`createRsaKey ${size}: public JWK of the right size, versioned kid, enabled`, async () => {
    const name = `rsa-${size}`;
    const k = await client.createRsaKey(name, { keySize: size });
    assert.equal(k.keyType, 'RSA');
    assert.equal(k.name, name);
    assert.match(k.id, kidPattern(name));
    assert.equal(k.key.n.length, size / 8);
    assert.equal(b64u(k.key.e), 'AQAB');
    assert.equal(k.key.d, undefined, 'a key bundle never carries private parts');
    assert.equal(k.properties.enabled, true);
    assert.ok(k.properties.createdOn instanceof Date);
    const again = await client.getKey(name);
    assert.equal(again.id, k.id);
    assert.deepEqual(Buffer.from(again.key.n), Buffer.from(k.key.n));
  });
}

test('RSA-OAEP-256 wrap/unwrap round trip (both in the vault), 3072-bit software key', async () => {
  const k = await client.createRsaKey('wrap-oaep256', { keySize: 3072 });
  const cc = crypto(k);
  const secret = randomBytes(32);
  const w = await cc.wrapKey('RSA-OAEP-256', secret);
  assert.equal(w.keyID, k.id);
  assert.equal(w.result.length, 384);
  const u = await cc.unwrapKey('RSA-OAEP-256', w.result);
  assert.deepEqual(Buffer.from(u.result), secret);
  // wrapped elsewhere with the public key (standard OAEP-SHA-256), unwrapped by the vault
  const other = randomBytes(32);
  const u2 = await cc.unwrapKey('RSA-OAEP-256', oaep(publicKeyOf(k), other, 'sha256'));
  assert.deepEqual(Buffer.from(u2.result), other);
});

test('RSA-OAEP: SDK wraps locally with the public key, the vault unwraps', async () => {
  const k = await client.getKey('wrap-oaep256');
  const cc = crypto(k);
  const secret = randomBytes(32);
  const w = await cc.wrapKey('RSA-OAEP', secret);
  const u = await cc.unwrapKey('RSA-OAEP', w.result);
  assert.deepEqual(Buffer.from(u.result), secret);
  // and a wrap made by node:crypto directly
  const u2 = await cc.unwrapKey('RSA-OAEP', oaep(publicKeyOf(k), secret, 'sha1'));
  assert.deepEqual(Buffer.from(u2.result), secret);
});

test('unwrap of a corrupted ciphertext fails with an error, never with wrong plaintext', async () => {
  const k = await client.getKey('wrap-oaep256');
  const cc = crypto(k);
  const w = await cc.wrapKey('RSA-OAEP-256', randomBytes(32));
  const bad = Buffer.from(w.result);
  bad[bad.length - 1] ^= 1;
  await assert.rejects(cc.unwrapKey('RSA-OAEP-256', bad), (e) => e.statusCode === 400);
});

test('RSA-HSM key (SoftHSM2): created in the token, wrap/unwrap with RSA-OAEP-256 and RSA-OAEP', async () => {
  const k = await client.createRsaKey('hsm-3072', { keySize: 3072, hsm: true });
  assert.equal(k.keyType, 'RSA-HSM');
  assert.match(k.id, kidPattern('hsm-3072'));
  assert.equal(k.key.n.length, 384);
  const cc = crypto(k);
  for (const alg of ['RSA-OAEP-256', 'RSA-OAEP']) {
    const secret = randomBytes(32);
    const w = await cc.wrapKey(alg, secret);
    const u = await cc.unwrapKey(alg, w.result);
    assert.deepEqual(Buffer.from(u.result), secret, alg);
    const u2 = await cc.unwrapKey(alg, oaep(publicKeyOf(k), secret, alg === 'RSA-OAEP' ? 'sha1' : 'sha256'));
    assert.deepEqual(Buffer.from(u2.result), secret, `${alg}, wrapped by node:crypto`);
  }
});

test('rotate: a new version becomes current, versions are listed, old versions still unwrap', async () => {
  const name = 'rotating';
  const v1 = await client.createRsaKey(name, { keySize: 2048 });
  const secret = randomBytes(32);
  const wrapped = oaep(publicKeyOf(v1), secret, 'sha256');
  const v2 = await client.rotateKey(name);
  assert.notEqual(v2.properties.version, v1.properties.version);
  assert.match(v2.id, kidPattern(name));
  assert.notDeepEqual(Buffer.from(v2.key.n), Buffer.from(v1.key.n), 'rotation makes new key material');
  const v3 = await client.rotateKey(name);
  assert.equal((await client.getKey(name)).id, v3.id, 'the latest version is served without a version');
  const versions = [];
  for await (const p of client.listPropertiesOfKeyVersions(name)) versions.push(p.version);
  assert.deepEqual(versions.sort(), [v1, v2, v3].map((k) => k.properties.version).sort());
  assert.equal((await client.getKey(name, { version: v1.properties.version })).id, v1.id);
  const cc1 = new CryptographyClient(v1.id, cred, sdkOptions(d));
  const u = await cc1.unwrapKey('RSA-OAEP-256', wrapped);
  assert.deepEqual(Buffer.from(u.result), secret);
});

test('listPropertiesOfKeys lists every key by its base identifier', async () => {
  const names = [];
  for await (const p of client.listPropertiesOfKeys()) names.push(p.name);
  for (const n of ['rsa-2048', 'rsa-3072', 'wrap-oaep256', 'hsm-3072', 'rotating']) assert.ok(names.includes(n), n);
  assert.equal(names.length, new Set(names).size, 'each key once');
});

test('disabled key: wrap and unwrap refused with 403 KeyDisabled; enabling again restores them', async () => {
  const name = 'to-disable';
  const k = await client.createRsaKey(name, { keySize: 2048 });
  const secret = randomBytes(32);
  const wrapped = oaep(publicKeyOf(k), secret, 'sha256');
  const p = await client.updateKeyProperties(name, k.properties.version, { enabled: false });
  assert.equal(p.properties.enabled, false);
  const cc = crypto(k);
  const disabled = (e) => {
    assert.equal(e.statusCode, 403, e.message);
    assert.equal(e.code, 'Forbidden');
    assert.equal(e.details?.error?.innererror?.code ?? e.details?.error?.innerError?.code, 'KeyDisabled', JSON.stringify(e.details));
    assert.match(e.message, /disabled/i);
    return true;
  };
  await assert.rejects(cc.unwrapKey('RSA-OAEP-256', wrapped), disabled);
  await assert.rejects(cc.wrapKey('RSA-OAEP-256', secret), disabled);
  await client.updateKeyProperties(name, k.properties.version, { enabled: true });
  const u = await crypto(k).unwrapKey('RSA-OAEP-256', wrapped);
  assert.deepEqual(Buffer.from(u.result), secret);
});

test('importKey: an RSA private JWK made in node:crypto; the vault unwraps what its public key wrapped', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  const bin = Object.fromEntries(Object.entries(jwk).filter(([f]) => f !== 'kty').map(([f, v]) => [f, Buffer.from(v, 'base64url')]));
  const k = await client.importKey('imported', { kty: 'RSA', ...bin, keyOps: ['wrapKey', 'unwrapKey', 'encrypt', 'decrypt'] });
  assert.equal(k.keyType, 'RSA');
  assert.match(k.id, kidPattern('imported'));
  assert.equal(b64u(k.key.n), jwk.n);
  for (const f of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(k.key[f], undefined, `no ${f} in the bundle`);
  const secret = randomBytes(32);
  const cc = crypto(k);
  const u = await cc.unwrapKey('RSA-OAEP-256', oaep(publicKey, secret, 'sha256'));
  assert.deepEqual(Buffer.from(u.result), secret);
  const u1 = await cc.unwrapKey('RSA1_5', publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, secret));
  assert.deepEqual(Buffer.from(u1.result), secret);
});

test('sign/verify RS256 with an RSA key: signature checks out with node:crypto', async () => {
  const k = await client.createRsaKey('signer-rsa', { keySize: 2048 });
  const cc = crypto(k);
  const digest = createHash('sha256').update('coffer manifest').digest();
  const s = await cc.sign('RS256', digest);
  assert.equal(s.result.length, 256);
  assert.ok(cryptoVerify('sha256', Buffer.from('coffer manifest'), publicKeyOf(k), Buffer.from(s.result)));
  assert.equal((await cc.verify('RS256', digest, s.result)).result, true);
  const other = createHash('sha256').update('something else').digest();
  assert.equal((await cc.verify('RS256', other, s.result)).result, false);
});

test('sign/verify ES256 with an EC P-256 key: signature checks out with node:crypto', async () => {
  const k = await client.createEcKey('signer-ec', { curve: 'P-256' });
  assert.equal(k.keyType, 'EC');
  assert.equal(k.key.crv, 'P-256');
  const cc = crypto(k);
  const digest = createHash('sha256').update('coffer index').digest();
  const s = await cc.sign('ES256', digest);
  assert.equal(s.result.length, 64, 'JWS signature r||s');
  assert.ok(cryptoVerify('sha256', Buffer.from('coffer index'), { key: publicKeyOf(k), dsaEncoding: 'ieee-p1363' }, Buffer.from(s.result)));
  assert.equal((await cc.verify('ES256', digest, s.result)).result, true);
  const bad = Buffer.from(s.result);
  bad[5] ^= 0x40;
  assert.equal((await cc.verify('ES256', digest, bad)).result, false);
});

test('rotation policy: set with rotate and notify actions, read back the same', async () => {
  await client.createRsaKey('policy-key', { keySize: 2048 });
  const policy = {
    expiresIn: 'P2Y',
    lifetimeActions: [
      { action: 'Rotate', timeAfterCreate: 'P90D' },
      { action: 'Notify', timeBeforeExpiry: 'P30D' },
    ],
  };
  const set = await client.updateKeyRotationPolicy('policy-key', policy);
  assert.equal(set.expiresIn, 'P2Y');
  const got = await client.getKeyRotationPolicy('policy-key');
  assert.equal(got.expiresIn, 'P2Y');
  const byAction = Object.fromEntries(got.lifetimeActions.map((a) => [a.action.toLowerCase(), a]));
  assert.equal(byAction.rotate.timeAfterCreate, 'P90D');
  assert.equal(byAction.notify.timeBeforeExpiry, 'P30D');
  assert.match(got.id, /\/keys\/policy-key\/rotationpolicy$/);
});

test('concurrent unwraps (16 in flight) on the HSM and the software key each return their own secret', async () => {
  for (const name of ['hsm-3072', 'wrap-oaep256']) {
    const k = await client.getKey(name);
    const cc = crypto(k);
    const secrets = Array.from({ length: 16 }, () => randomBytes(32));
    const wrapped = secrets.map((s) => oaep(publicKeyOf(k), s, 'sha256'));
    const got = await Promise.all(wrapped.map((w) => cc.unwrapKey('RSA-OAEP-256', w)));
    got.forEach((u, i) => assert.deepEqual(Buffer.from(u.result), secrets[i], `${name} #${i}`));
  }
});

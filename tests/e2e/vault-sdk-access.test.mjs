// keyvaultd with the Azure SDK as a least-privileged CMK client: what the
// SDK does with only some permissions (its CryptographyClient falls back
// to the vault when it may not GET the key), ES256-signed caller tokens,
// a base key identifier across rotation (wrap with the current version,
// unwrap with the version that wrapped), and list paging through
// nextLink followed by the SDK.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { KeyClient, CryptographyClient } from '@azure/keyvault-keys';
import { createIssuer, startKeyvaultd, sdkOptions, ALL_KEY_PERMISSIONS } from './lib/vault.mjs';

let d, issuer, owner, ownerClient, cmkKey;

before(async () => {
  issuer = createIssuer();
  d = await startKeyvaultd({ issuers: [issuer] });
  owner = issuer.credential();
  await d.admin.allow('default', owner.oid, ALL_KEY_PERMISSIONS);
  ownerClient = new KeyClient(d.url, owner, sdkOptions(d));
  cmkKey = await ownerClient.createRsaKey('cmk', { keySize: 2048 });
});
after(async () => { await d?.stop(); });

test('wrapKey + unwrapKey without get: the SDK falls back to the vault for both and round-trips', async () => {
  const cred = issuer.credential();
  await d.admin.allow('default', cred.oid, ['wrapKey', 'unwrapKey']);
  const cc = new CryptographyClient(cmkKey.id, cred, sdkOptions(d));
  for (const alg of ['RSA-OAEP', 'RSA-OAEP-256']) {
    const secret = randomBytes(32);
    const w = await cc.wrapKey(alg, secret);
    assert.equal(w.keyID, cmkKey.id);
    const u = await cc.unwrapKey(alg, w.result);
    assert.deepEqual(Buffer.from(u.result), secret, alg);
  }
  // and it really may not read the key
  const kc = new KeyClient(d.url, cred, sdkOptions(d));
  await assert.rejects(kc.getKey('cmk'), (e) => e.statusCode === 403);
});

test('get + unwrapKey without wrapKey: a vault-side wrap is refused with ForbiddenByPolicy naming wrapKey', async () => {
  const cred = issuer.credential();
  await d.admin.allow('default', cred.oid, ['get', 'unwrapKey']);
  const cc = new CryptographyClient(cmkKey.id, cred, sdkOptions(d));
  await assert.rejects(cc.wrapKey('RSA-OAEP-256', randomBytes(32)), (e) => {
    assert.equal(e.statusCode, 403, e.message);
    assert.match(e.message, /keys wrapKey permission/);
    assert.match(e.message, new RegExp(`oid=${cred.oid}`));
    assert.equal(e.details?.error?.innerError?.code, 'ForbiddenByPolicy');
    return true;
  });
  // unwrap of something the owner wrapped works
  const secret = randomBytes(32);
  const w = await new CryptographyClient(cmkKey.id, owner, sdkOptions(d)).wrapKey('RSA-OAEP-256', secret);
  const u = await cc.unwrapKey('RSA-OAEP-256', w.result);
  assert.deepEqual(Buffer.from(u.result), secret);
});

test('a caller whose tokens are ES256-signed works through the SDK like an RS256 one', async () => {
  const cred = issuer.credential({}, { alg: 'ES256' });
  await d.admin.allow('default', cred.oid, ['get', 'list']);
  const kc = new KeyClient(d.url, cred, sdkOptions(d));
  assert.equal((await kc.getKey('cmk')).id, cmkKey.id);
  assert.ok(cred.calls >= 1);
});

test('base key identifier: wraps follow the latest version; unwrap by the recorded version works after rotation', async () => {
  const base = `${d.url}/keys/rolling`;
  const v1 = await ownerClient.createRsaKey('rolling', { keySize: 2048 });
  const secret = randomBytes(32);
  const w1 = await new CryptographyClient(base, owner, sdkOptions(d)).wrapKey('RSA-OAEP-256', secret);
  assert.equal(w1.keyID, v1.id, 'the response kid is the versioned one');
  const v2 = await ownerClient.rotateKey('rolling');
  const w2 = await new CryptographyClient(base, owner, sdkOptions(d)).wrapKey('RSA-OAEP-256', secret);
  assert.equal(w2.keyID, v2.id, 'after rotation a new client wraps with the new version');
  // each version unwraps its own wrap, by the kid recorded at wrap time
  for (const w of [w1, w2]) {
    const u = await new CryptographyClient(w.keyID, owner, sdkOptions(d)).unwrapKey('RSA-OAEP-256', w.result);
    assert.deepEqual(Buffer.from(u.result), secret);
  }
  // the other version cannot
  await assert.rejects(new CryptographyClient(v2.id, owner, sdkOptions(d)).unwrapKey('RSA-OAEP-256', w1.result),
    (e) => e.statusCode === 400);
});

test('listing across pages: the SDK follows nextLink to every key, each once', async () => {
  await d.admin.createVault('many');
  await d.admin.allow('many', owner.oid, ALL_KEY_PERMISSIONS);
  const kc = new KeyClient(d.vaultUrl('many'), owner, sdkOptions(d));
  const want = [];
  for (let i = 0; i < 30; i++) {
    want.push(`ec-${String(i).padStart(2, '0')}`);
    await kc.createEcKey(want[i], { curve: 'P-256' });
  }
  const got = [];
  for await (const p of kc.listPropertiesOfKeys()) got.push(p.name);
  assert.deepEqual(got.sort(), want);
  const pages = [];
  for await (const page of kc.listPropertiesOfKeys().byPage({ maxPageSize: 7 })) pages.push(page.length);
  assert.equal(pages.reduce((a, b) => a + b, 0), 30);
  assert.ok(pages.length >= 5, `pages: ${pages}`);
  assert.ok(pages.every((n) => n <= 7), `pages: ${pages}`);
});

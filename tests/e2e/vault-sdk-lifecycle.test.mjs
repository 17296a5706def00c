// keyvaultd soft delete, recovery and purge protection, driven by the
// Azure SDK (KeyClient.beginDeleteKey / getDeletedKey /
// beginRecoverDeletedKey / purgeDeletedKey). The purge-protected vault is a
// second vault reached by its own host name, <name>.vault.localhost:PORT,
// as a customer-managed key's vault would be.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, publicEncrypt, constants } from 'node:crypto';
import { KeyClient, CryptographyClient } from '@azure/keyvault-keys';
import { createIssuer, startKeyvaultd, sdkOptions, publicKeyOf, ALL_KEY_PERMISSIONS, TENANT } from './lib/vault.mjs';

let d, cred, plain, guarded;
const POLL = { intervalInMs: 50 };

before(async () => {
  const issuer = createIssuer();
  d = await startKeyvaultd({ issuers: [issuer] });
  cred = issuer.credential();
  const v = await d.admin.createVault('guarded', { enablePurgeProtection: true, softDeleteRetentionInDays: 7 });
  assert.equal(v.properties.enablePurgeProtection, true);
  await d.admin.allow('default', cred.oid, ALL_KEY_PERMISSIONS);
  await d.admin.allow('guarded', cred.oid, ALL_KEY_PERMISSIONS);
  plain = new KeyClient(d.vaultUrl('default'), cred, sdkOptions(d));
  guarded = new KeyClient(d.vaultUrl('guarded'), cred, sdkOptions(d));
});
after(async () => { await d?.stop(); });

const oaep256 = (k, data) => publicEncrypt({ key: publicKeyOf(k), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, data);
const unwrap = (k, ct) => new CryptographyClient(k.id, cred, sdkOptions(d)).unwrapKey('RSA-OAEP-256', ct);
const notFound = (e) => { assert.equal(e.statusCode, 404, e.message); return true; };

test('the vault is chosen by Host: keys of "guarded" are not visible in "default"', async () => {
  const k = await guarded.createRsaKey('only-guarded', { keySize: 2048 });
  assert.match(k.id, new RegExp(`^https://guarded\\.vault\\.localhost:${d.port}/keys/only-guarded/[0-9a-f]{32}$`));
  await assert.rejects(plain.getKey('only-guarded'), notFound);
  const vault = await d.admin.getVault('guarded');
  assert.equal(vault.properties.vaultUri, `https://guarded.vault.localhost:${d.port}/`);
  assert.equal(vault.properties.tenantId, TENANT);
});

test('delete -> getDeletedKey -> recover: the key comes back and unwraps what it wrapped before', async () => {
  const k = await plain.createRsaKey('phoenix', { keySize: 2048 });
  const secret = randomBytes(32);
  const wrapped = oaep256(k, secret);
  const poller = await plain.beginDeleteKey('phoenix', POLL);
  const deleted = await poller.pollUntilDone();
  assert.equal(deleted.name, 'phoenix');
  assert.ok(deleted.properties.recoveryId.endsWith('/deletedkeys/phoenix'), deleted.properties.recoveryId);
  assert.ok(deleted.properties.deletedOn instanceof Date);
  assert.ok(deleted.properties.scheduledPurgeDate > deleted.properties.deletedOn);
  // gone from the keys collection, present among deleted keys
  await assert.rejects(plain.getKey('phoenix'), notFound);
  const got = await plain.getDeletedKey('phoenix');
  assert.equal(got.id, k.id);
  const names = [];
  for await (const dk of plain.listDeletedKeys()) names.push(dk.name);
  assert.ok(names.includes('phoenix'));
  // a deleted key does no cryptography
  await assert.rejects(unwrap(k, wrapped), (e) => e.statusCode === 404 || e.statusCode === 403);
  const recovered = await (await plain.beginRecoverDeletedKey('phoenix', POLL)).pollUntilDone();
  assert.equal(recovered.id, k.id);
  assert.equal(recovered.properties.enabled, true);
  await assert.rejects(plain.getDeletedKey('phoenix'), notFound);
  const u = await unwrap(k, wrapped);
  assert.deepEqual(Buffer.from(u.result), secret);
});

test('purge without purge protection: the key is gone for good', async () => {
  await plain.createRsaKey('shredded', { keySize: 2048 });
  await (await plain.beginDeleteKey('shredded', POLL)).pollUntilDone();
  await plain.purgeDeletedKey('shredded');
  await assert.rejects(plain.getDeletedKey('shredded'), notFound);
  await assert.rejects(plain.getKey('shredded'), notFound);
  await assert.rejects(plain.beginRecoverDeletedKey('shredded', POLL).then((p) => p.pollUntilDone()), notFound);
});

test('purge refused under purge protection; the deleted key stays recoverable', async () => {
  const k = await guarded.createRsaKey('cmk', { keySize: 2048 });
  const secret = randomBytes(32);
  const wrapped = oaep256(k, secret);
  await (await guarded.beginDeleteKey('cmk', POLL)).pollUntilDone();
  await assert.rejects(guarded.purgeDeletedKey('cmk'), (e) => {
    assert.equal(e.statusCode, 403, e.message);
    assert.match(e.message, /purge protection/i);
    return true;
  });
  const dk = await guarded.getDeletedKey('cmk');
  assert.equal(dk.id, k.id);
  assert.match(dk.properties.recoveryLevel, /Recoverable/);
  assert.doesNotMatch(dk.properties.recoveryLevel, /Purgeable/);
  await (await guarded.beginRecoverDeletedKey('cmk', POLL)).pollUntilDone();
  const u = await unwrap(k, wrapped);
  assert.deepEqual(Buffer.from(u.result), secret);
});

test('purge protection, once on, cannot be turned off', async () => {
  const r = await d.request('/vaults/guarded', { method: 'PATCH', admin: true, body: { properties: { enablePurgeProtection: false } } });
  assert.ok(r.status >= 400 && r.status < 500, `${r.status} ${r.text}`);
  assert.equal(typeof r.json?.error?.code, 'string');
  assert.equal((await d.admin.getVault('guarded')).properties.enablePurgeProtection, true);
});

test('deleting a key deletes all its versions; recovery brings them all back', async () => {
  const v1 = await plain.createRsaKey('multi', { keySize: 2048 });
  const v2 = await plain.rotateKey('multi');
  await (await plain.beginDeleteKey('multi', POLL)).pollUntilDone();
  await assert.rejects(plain.getKey('multi', { version: v1.properties.version }), notFound);
  await (await plain.beginRecoverDeletedKey('multi', POLL)).pollUntilDone();
  const versions = [];
  for await (const p of plain.listPropertiesOfKeyVersions('multi')) versions.push(p.version);
  assert.deepEqual(versions.sort(), [v1.properties.version, v2.properties.version].sort());
  assert.equal((await plain.getKey('multi')).id, v2.id);
});

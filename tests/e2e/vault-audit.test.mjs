// keyvaultd's audit log: every key operation, allowed or refused, is one
// JSON line in DIR/audit.log with the caller's object id and app id,
// readable by the admin through GET /audit with filters; key material
// (plaintext of wrapped secrets, private key parts) appears neither in the
// audit log nor, unsealed, anywhere in the data directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID, generateKeyPairSync, publicEncrypt, constants } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createIssuer, startKeyvaultd, API, b64u } from './lib/vault.mjs';

let d, issuer, alice, bob, version;
const secret = randomBytes(32);
let imported; // private JWK of an imported key
let usedKeys = 0; // tests that put the secret and the imported key through the vault

before(async () => {
  issuer = createIssuer();
  d = await startKeyvaultd({ issuers: [issuer] });
  alice = { oid: randomUUID(), appid: randomUUID() };
  bob = { oid: randomUUID(), appid: randomUUID() };
  await d.admin.allow('default', alice.oid, ['get', 'create', 'import', 'wrapKey', 'unwrapKey']);
  await d.admin.allow('default', bob.oid, ['get']);
});
after(async () => { await d?.stop(); });

const as = (who) => issuer.token({ oid: who.oid, appid: who.appid });
const requestIdOf = (r) => r.headers['x-ms-request-id'] ?? r.headers['x-request-id'];

test('allowed and refused operations are audited with caller oid, appid, key, version and request id', async () => {
  const c = await d.request(`/keys/audited/create?${API}`, { method: 'POST', token: as(alice), body: { kty: 'RSA', key_size: 2048 } });
  assert.equal(c.status, 200, c.text);
  version = c.json.key.kid.split('/').pop();
  const w = await d.request(`/keys/audited/${version}/wrapkey?${API}`, { method: 'POST', token: as(alice), body: { alg: 'RSA-OAEP-256', value: b64u(secret) } });
  assert.equal(w.status, 200, w.text);
  const u = await d.request(`/keys/audited/${version}/unwrapkey?${API}`, { method: 'POST', token: as(alice), body: { alg: 'RSA-OAEP-256', value: w.json.value } });
  assert.equal(u.status, 200, u.text);
  assert.equal(u.json.value, b64u(secret));
  usedKeys++;
  const refused = await d.request(`/keys/audited/${version}/unwrapkey?${API}`, { method: 'POST', token: as(bob), body: { alg: 'RSA-OAEP-256', value: w.json.value } });
  assert.equal(refused.status, 403, refused.text);

  const mine = await d.admin.audit({ objectId: alice.oid });
  const ops = mine.map((e) => e.operation);
  for (const op of ['KeyCreate', 'KeyWrap', 'KeyUnwrap']) assert.ok(ops.includes(op), `${op} in ${ops}`);
  const unwrapLine = mine.find((e) => e.operation === 'KeyUnwrap');
  assert.equal(unwrapLine.objectId, alice.oid);
  assert.equal(unwrapLine.appId, alice.appid);
  assert.equal(unwrapLine.vault, 'default');
  assert.equal(unwrapLine.key, 'audited');
  assert.equal(unwrapLine.version, version);
  assert.equal(unwrapLine.result, 'success');
  assert.equal(unwrapLine.status, 200);
  assert.ok(!Number.isNaN(Date.parse(unwrapLine.time)), unwrapLine.time);
  if (requestIdOf(u)) assert.equal(unwrapLine.requestId, requestIdOf(u));
  for (const e of mine) assert.equal(e.objectId, alice.oid, 'the objectId filter holds');

  const bobs = await d.admin.audit({ objectId: bob.oid, result: 'forbidden' });
  assert.equal(bobs.length, 1, JSON.stringify(bobs));
  assert.equal(bobs[0].operation, 'KeyUnwrap');
  assert.equal(bobs[0].appId, bob.appid);
  assert.equal(bobs[0].status, 403);
  assert.equal(bobs[0].key, 'audited');
  if (requestIdOf(refused)) assert.equal(bobs[0].requestId, requestIdOf(refused));
});

test('unauthenticated calls are audited as unauthorized', async () => {
  const r = await d.request(`/keys/audited?${API}`, { token: issuer.forged.algNone({ oid: alice.oid }) });
  assert.equal(r.status, 401);
  const lines = await d.admin.audit({ result: 'unauthorized' });
  assert.ok(lines.length >= 1);
  assert.ok(lines.every((e) => e.status === 401 && e.objectId !== alice.oid), 'a forged token does not name its claimed caller');
});

// docs/security.md: every response leaves an audit line, routed or not,
// so an authenticated caller probing for operations the vault does not
// have (export, release) or for other paths is on record like any other.
test('every response is audited, routed or not: unknown operations, paths and methods, a missing api-version', async () => {
  const tok = as(alice);
  const probes = [
    ['POST', `/keys/audited/export?${API}`, { kty: 'RSA' }],
    ['POST', `/keys/audited/${version}/release?${API}`, { target: 'x' }],
    ['POST', `/keys/audited/${version}/export?${API}`, {}],
    ['GET', `/keys/audited/${version}/a/b?${API}`],
    ['DELETE', `/keys?${API}`],
    ['GET', `/nosuchthing?${API}`],
    ['POST', '/keys/audited/create', { kty: 'RSA' }], // no api-version
  ];
  const seen = [];
  for (const [method, path, body] of probes) {
    const r = await d.request(path, { method, token: tok, body });
    assert.ok([400, 404, 405].includes(r.status), `${method} ${path}: ${r.status} ${r.text}`);
    seen.push({ method, path, status: r.status, rid: requestIdOf(r) });
  }
  // the log itself, as written (one JSON object per line, fsynced before the response left)
  const lines = readFileSync(join(d.dataDir, 'audit.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  for (const p of seen) {
    assert.ok(p.rid, `${p.method} ${p.path}: a request id`);
    const mine = lines.filter((e) => e.requestId === p.rid);
    assert.equal(mine.length, 1, `${p.method} ${p.path} (${p.status}): one audit line, found ${JSON.stringify(mine)}`);
    const e = mine[0];
    assert.equal(e.objectId, alice.oid, JSON.stringify(e));
    assert.equal(e.appId, alice.appid, JSON.stringify(e));
    assert.equal(e.status, p.status, JSON.stringify(e));
    assert.equal(e.result, 'failure', JSON.stringify(e));
    assert.equal(typeof e.operation, 'string');
    assert.ok(e.operation.length > 0, JSON.stringify(e));
  }
});

test('the admin is audited as "admin"; operation and limit filters hold', async () => {
  const r = await d.request(`/keys/audited?${API}`, { admin: true });
  assert.equal(r.status, 200);
  const lines = await d.admin.audit({ objectId: 'admin', operation: 'KeyGet' });
  assert.ok(lines.length >= 1);
  assert.ok(lines.every((e) => e.objectId === 'admin' && e.operation === 'KeyGet'));
  assert.equal((await d.admin.audit({ limit: 2 })).length, 2);
});

test('an imported private key: its private parts appear nowhere on disk unsealed', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  imported = privateKey.export({ format: 'jwk' });
  const r = await d.request(`/keys/byok?${API}`, { method: 'PUT', token: as(alice), body: { key: { ...imported, key_ops: ['unwrapKey'] } } });
  assert.equal(r.status, 200, r.text);
  const ct = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, secret);
  const u = await d.request(`/keys/byok//unwrapkey?${API}`, { method: 'POST', token: as(alice), body: { alg: 'RSA-OAEP-256', value: b64u(ct) } });
  assert.equal(u.status, 200, u.text);
  assert.equal(u.json.value, b64u(secret));
  usedKeys++;
});

test('audit.log holds no key material: not the wrapped secret, not private key parts', async () => {
  assert.equal(usedKeys, 2, 'the secret was wrapped and the key imported by the tests above');
  const log = readFileSync(join(d.dataDir, 'audit.log'), 'utf8');
  const lines = log.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.some((e) => e.operation === 'KeyUnwrap' && e.objectId === alice.oid), 'the log is the one the API serves');
  for (const enc of ['base64url', 'base64', 'hex']) assert.ok(!log.includes(secret.toString(enc)), `secret (${enc}) in audit.log`);
  for (const f of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.ok(!log.includes(imported[f]), `${f} in audit.log`);
});

test('no file in the data directory holds the secret or the private exponent in the clear', async () => {
  assert.equal(usedKeys, 2, 'the secret was wrapped and the key imported by the tests above');
  const needles = [secret, Buffer.from(imported.d, 'base64url'), Buffer.from(imported.p, 'base64url')];
  const textual = [secret.toString('base64url'), imported.d, imported.p, secret.toString('hex')];
  const walk = (dir) => readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
  const files = walk(d.dataDir);
  assert.ok(files.some((f) => f.endsWith('keyvault.db')), files.join(' '));
  for (const f of files) {
    const bytes = readFileSync(f);
    for (const n of needles) assert.equal(bytes.indexOf(n), -1, `raw key material in ${f}`);
    const s = bytes.toString('latin1');
    for (const t of textual) assert.ok(!s.includes(t), `encoded key material in ${f}`);
  }
});

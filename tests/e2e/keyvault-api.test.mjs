// keyvault-api.test.mjs -- keyvaultd's HTTP surface with raw HTTPS requests:
// the 401 challenge, api-version, management API, Host-based vault choice,
// key states and key_ops, soft delete and purge protection, paging, the
// body cap, X-HTTP-METHOD, the audit log, and restart persistence. (The
// Azure SDK flows are in the SDK tests.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { publicEncrypt, createPublicKey, constants, randomBytes } from 'node:crypto';
import { startDaemon, freshDir } from './lib/daemons.mjs';

const API = 'api-version=7.4';
let d, dataDir, ca, admin, agent, port;

async function start() {
  d = await startDaemon('keyvaultd', ['--data', dataDir, '--listen', '127.0.0.1:0']);
  port = d.port;
  ca = readFileSync(join(dataDir, 'tls', 'cert.pem'));
  admin = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  agent = new https.Agent({ ca, keepAlive: true });
}

// host: the Host header (default 127.0.0.1:port). token: bearer or null.
function req(path, { method = 'GET', body, token = admin, host, headers = {} } = {}) {
  const h = { ...headers };
  if (host) h.host = host;
  if (token) h.authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    payload = Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body);
    h['content-type'] = 'application/json';
  }
  return new Promise((resolve, reject) => {
    const r = https.request({ host: '127.0.0.1', port, path, method, headers: h, agent, servername: 'localhost' }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    r.on('error', reject);
    r.end(payload);
  });
}

const createKey = async (name, body = { kty: 'RSA' }, o = {}) => {
  const r = await req(`/keys/${name}/create?${API}`, { method: 'POST', body, ...o });
  assert.equal(r.status, 200, r.text);
  return r.json;
};

function wrapLocally(bundle, cek) {
  const pub = createPublicKey({ key: { kty: 'RSA', n: bundle.key.n, e: bundle.key.e }, format: 'jwk' });
  return publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek).toString('base64url');
}

before(async () => {
  dataDir = join(freshDir('coffer-kvapi-'), 'data');
  await start();
});
after(async () => { agent?.destroy(); await d?.stop(); });

test('first start creates the data directory files with private modes', () => {
  for (const f of ['admin.token', 'master.key', 'tls/key.pem', 'keyvault.db', 'audit.log']) {
    assert.equal(statSync(join(dataDir, f)).mode & 0o077, 0, `${f} is private`);
  }
  assert.match(readFileSync(join(dataDir, 'admin.token'), 'utf8'), /^[0-9a-f]{64}\n$/);
  assert.equal(readFileSync(join(dataDir, 'master.key')).length, 32);
  assert.equal(statSync(join(dataDir)).mode & 0o777, 0o700);
});

test('no token: 401 with the Key Vault challenge, request id, audited', async () => {
  const r = await req(`/keys?${API}`, { token: null });
  assert.equal(r.status, 401);
  assert.equal(r.headers['www-authenticate'],
    'Bearer authorization="https://login.coffer.test/tenant", resource="https://vault.azure.net"');
  assert.equal(r.json.error.code, 'Unauthorized');
  assert.match(r.headers['x-ms-request-id'], /^[0-9a-f]{32}$/);
  const bad = await req(`/keys?${API}`, { token: 'not-a-token' });
  assert.equal(bad.status, 401);
  assert.ok(bad.headers['www-authenticate']);
  const a = await req(`/audit?result=unauthorized&limit=5`);
  assert.ok(a.json.value.some((l) => l.requestId === r.headers['x-ms-request-id'] && l.status === 401));
});

test('api-version is required; 7.x and dated versions are accepted', async () => {
  const r = await req('/keys');
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'BadParameter');
  for (const v of ['7.0', '7.6', '2025-07-01', '7.5-preview']) {
    assert.equal((await req(`/keys?api-version=${v}`)).status, 200, v);
  }
  assert.equal((await req('/keys?api-version=1.0')).status, 400);
});

test('management: vault properties, purge protection never off, policies', async () => {
  let r = await req('/vaults/mgmt-a', { method: 'PUT', body: { properties: { tenantId: 't1', softDeleteRetentionInDays: 6 } } });
  assert.equal(r.status, 400);
  r = await req('/vaults/mgmt-a', { method: 'PUT', body: { properties: { tenantId: 't1', softDeleteRetentionInDays: 30 } } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.properties.vaultUri, `https://mgmt-a.vault.localhost:${port}/`);
  assert.equal(r.json.properties.enableSoftDelete, true);
  assert.equal(r.json.properties.enablePurgeProtection, false);
  r = await req('/vaults/mgmt-a', { method: 'PATCH', body: { properties: { enablePurgeProtection: true } } });
  assert.equal(r.status, 200);
  assert.equal(r.json.properties.softDeleteRetentionInDays, 30);
  r = await req('/vaults/mgmt-a', { method: 'PATCH', body: { properties: { enablePurgeProtection: false } } });
  assert.equal(r.status, 409);
  assert.equal((await req('/vaults/mgmt-a')).json.properties.enablePurgeProtection, true);
  r = await req('/vaults/mgmt-a', { method: 'PUT', body: { properties: { bogus: 1 } } });
  assert.equal(r.status, 400);
  assert.equal((await req('/vaults/x', { method: 'PUT', body: {} })).status, 400, 'name too short');

  const add = { properties: { accessPolicies: [{ tenantId: 't1', objectId: 'OBJ-1', permissions: { keys: ['GET', 'wrapkey'] } }] } };
  r = await req('/vaults/mgmt-a/accessPolicies/add', { method: 'PUT', body: add });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.properties.accessPolicies[0].permissions.keys, ['wrapKey', 'get']);
  r = await req('/vaults/mgmt-a/accessPolicies/remove', { method: 'PUT',
    body: { properties: { accessPolicies: [{ objectId: 'obj-1', permissions: { keys: ['get'] } }] } } });
  assert.deepEqual(r.json.properties.accessPolicies[0].permissions.keys, ['wrapKey']);
  r = await req('/vaults/mgmt-a/accessPolicies/add', { method: 'PUT',
    body: { properties: { accessPolicies: [{ objectId: 'o', permissions: { keys: ['steal'] } }] } } });
  assert.equal(r.status, 400);
  const list = await req('/vaults');
  assert.deepEqual(list.json.value.map((v) => v.name).sort(), ['default', 'mgmt-a']);
  assert.equal((await req('/vaults/default', { method: 'DELETE' })).status, 409);
});

test('the Host header picks the vault; kids carry that host', async () => {
  await req('/vaults/hostv', { method: 'PUT', body: { properties: {} } });
  const host = `hostv.vault.localhost:${port}`;
  const k = await createKey('only-here', { kty: 'EC' }, { host });
  assert.match(k.key.kid, new RegExp(`^https://${host.replace(/\./g, '\\.')}/keys/only-here/[0-9a-f]{32}$`));
  assert.equal((await req(`/keys/only-here?${API}`, { host })).status, 200);
  const other = await req(`/keys/only-here?${API}`);
  assert.equal(other.status, 404);
  assert.equal(other.json.error.code, 'KeyNotFound');
  const missing = await req(`/keys?${API}`, { host: `nosuchvault.vault.localhost:${port}` });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.code, 'VaultNotFound');
  // deleting a vault that holds keys soft-deletes it with them (Azure's soft delete)
  assert.equal((await req('/vaults/hostv', { method: 'DELETE' })).status, 200);
  const gone = await req(`/keys/only-here?${API}`, { host });
  assert.equal(gone.status, 404);
  assert.equal(gone.json.error.code, 'VaultNotFound');
  assert.match(gone.json.error.message, /The vault 'hostv' is soft-deleted \(deleted at \S+Z, purged at \S+Z\): recover it/);
});

test('key states: disabled, expired, key_ops; unwrap still works after exp', async () => {
  const k = await createKey('states', { kty: 'RSA', key_ops: ['wrapKey', 'unwrapKey'] });
  const cek = randomBytes(32);
  const value = wrapLocally(k, cek);
  const kid = k.key.kid.replace(/^https:\/\/[^/]+/, '');
  let r = await req(`${kid}/unwrapkey?${API}`, { method: 'POST', body: { alg: 'RSA-OAEP-256', value } });
  assert.equal(r.status, 200, r.text);
  assert.equal(Buffer.from(r.json.value, 'base64url').compare(cek), 0);
  assert.equal(r.json.kid, k.key.kid);
  r = await req(`${kid}/decrypt?${API}`, { method: 'POST', body: { alg: 'RSA-OAEP-256', value } });
  assert.equal(r.status, 403);
  assert.equal(r.json.error.innererror.code, 'KeyOperationForbidden');
  assert.equal(r.json.error.message, 'Operation decrypt is not permitted on this key.');
  const past = Math.floor(Date.now() / 1000) - 10;
  r = await req(`${kid}?${API}`, { method: 'PATCH', body: { attributes: { exp: past } } });
  assert.equal(r.status, 200);
  r = await req(`${kid}/wrapkey?${API}`, { method: 'POST', body: { alg: 'RSA-OAEP-256', value: cek.toString('base64url') } });
  assert.equal(r.status, 403);
  assert.equal(r.json.error.innererror.code, 'KeyExpired');
  r = await req(`/keys/states//unwrapkey?${API}`, { method: 'POST', body: { alg: 'RSA-OAEP-256', value } });
  assert.equal(r.status, 200, 'unwrap works on an expired key');
  r = await req(`${kid}?${API}`, { method: 'PATCH', body: { attributes: { enabled: false, exp: null } } });
  assert.equal(r.json.attributes.enabled, false);
  r = await req(`${kid}/unwrapkey?${API}`, { method: 'POST', body: { alg: 'RSA-OAEP-256', value } });
  assert.equal(r.status, 403);
  assert.equal(r.json.error.innererror.code, 'KeyDisabled');
  r = await req(`${kid}/unwrapkey?${API}`, { method: 'POST', body: { alg: 'RSA-OAEP-256' } });
  assert.equal(r.status, 400);
});

test('a crypto operation without a version works on the latest: /keys/k/op (SDK 4.10) as /keys/k//op', async () => {
  const v1 = await createKey('versionless');
  const v2 = await createKey('versionless');
  const cek = randomBytes(32);
  for (const path of ['/keys/versionless/wrapkey', '/keys/versionless//wrapkey']) {
    const w = await req(`${path}?${API}`, { method: 'POST', body: { alg: 'RSA-OAEP-256', value: cek.toString('base64url') } });
    assert.equal(w.status, 200, `${path}: ${w.text}`);
    assert.equal(w.json.kid, v2.key.kid, `${path} wraps with the latest version`);
    const u = await req(`${v2.key.kid.replace(/^https:\/\/[^/]+/, '')}/unwrapkey?${API}`, { method: 'POST', body: { alg: 'RSA-OAEP-256', value: w.json.value } });
    assert.equal(u.status, 200, u.text);
    assert.equal(Buffer.from(u.json.value, 'base64url').toString('hex'), cek.toString('hex'));
  }
  const old = wrapLocally(v1, cek);
  const u1 = await req(`/keys/versionless/unwrapkey?${API}`, { method: 'POST', body: { alg: 'RSA-OAEP-256', value: old } });
  assert.equal(u1.status, 400, 'the latest version cannot unwrap what the older one wrapped');
  const g = await req(`/keys/versionless/wrapkey?${API}`);
  assert.equal(g.status, 404, 'GET names a version, and there is none called wrapkey');
});

test('soft delete, recover, purge; purge protection refuses an early purge', async () => {
  await createKey('sd');
  let r = await req(`/keys/sd?${API}`, { method: 'POST', headers: { 'x-http-method': 'DELETE' } });
  assert.equal(r.status, 200, r.text);
  assert.match(r.json.recoveryId, /\/deletedkeys\/sd$/);
  assert.equal(r.json.scheduledPurgeDate - r.json.deletedDate, 90 * 86400);
  assert.equal((await req(`/keys/sd?${API}`)).status, 404);
  assert.equal((await req(`/keys/sd/create?${API}`, { method: 'POST', body: { kty: 'RSA' } })).status, 409);
  assert.equal((await req(`/deletedkeys/sd?${API}`)).json.key.kid.includes('/keys/sd/'), true);
  r = await req(`/deletedkeys/sd/recover?${API}`, { method: 'POST' });
  assert.equal(r.status, 200);
  assert.equal((await req(`/keys/sd?${API}`)).status, 200);
  await req(`/keys/sd?${API}`, { method: 'DELETE' });
  assert.equal((await req(`/deletedkeys/sd?${API}`, { method: 'DELETE' })).status, 204);
  assert.equal((await req(`/deletedkeys/sd?${API}`)).status, 404);
  await createKey('sd');

  await req('/vaults/protected', { method: 'PUT', body: { properties: { enablePurgeProtection: true, softDeleteRetentionInDays: 7 } } });
  const host = `protected.vault.localhost:${port}`;
  await createKey('pp', { kty: 'RSA' }, { host });
  r = await req(`/keys/pp?${API}`, { method: 'DELETE', host });
  assert.equal(r.json.scheduledPurgeDate - r.json.deletedDate, 7 * 86400);
  assert.equal(r.json.attributes.recoveryLevel, 'CustomizedRecoverable');
  r = await req(`/deletedkeys/pp?${API}`, { method: 'DELETE', host });
  assert.equal(r.status, 403);
  assert.equal(r.json.error.code, 'Forbidden');
  assert.equal((await req(`/deletedkeys/pp?${API}`, { host })).status, 200, 'still there');
});

test('lists page with nextLink and maxresults', async () => {
  await req('/vaults/paged', { method: 'PUT', body: { properties: {} } });
  const host = `paged.vault.localhost:${port}`;
  for (const n of ['p1', 'p2', 'p3']) await createKey(n, { kty: 'EC' }, { host });
  const seen = [];
  let path = `/keys?${API}&maxresults=2`;
  let pages = 0;
  while (path) {
    const r = await req(path, { host });
    assert.equal(r.status, 200, r.text);
    seen.push(...r.json.value.map((v) => v.kid.split('/').pop()));
    pages++;
    path = r.json.nextLink ? new URL(r.json.nextLink).pathname + new URL(r.json.nextLink).search : null;
  }
  assert.deepEqual(seen, ['p1', 'p2', 'p3']);
  assert.equal(pages, 2);
  assert.equal((await req(`/keys?${API}&maxresults=26`, { host })).status, 400);
});

test('HSM keys without a configured token are refused with a clear 400', async () => {
  const r = await req(`/keys/nohsm/create?${API}`, { method: 'POST', body: { kty: 'RSA-HSM' } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'BadParameter');
  assert.match(r.json.error.message, /PKCS#11/);
  assert.equal((await req(`/keys/nohsm?${API}`)).status, 404, 'nothing was created');
});

test('a body over the cap is 413 in the Key Vault error shape', async () => {
  const r = await req(`/keys/big/create?${API}`, { method: 'POST', body: 'x'.repeat(300 * 1024) });
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, 'RequestEntityTooLarge');
});

test('audit: filters, and no key material ever', async () => {
  const k = await createKey('audited', { kty: 'RSA' });
  const cek = randomBytes(32);
  const value = wrapLocally(k, cek);
  const r = await req(`/keys/audited//unwrapkey?${API}`, { method: 'POST', body: { alg: 'RSA-OAEP-256', value } });
  assert.equal(r.status, 200);
  const a = await req('/audit?operation=KeyUnwrap&objectId=admin&limit=1');
  assert.equal(a.json.value.length, 1);
  const line = a.json.value[0];
  assert.equal(line.key, 'audited');
  assert.equal(line.version, k.key.kid.split('/').pop());
  assert.equal(line.result, 'success');
  assert.equal(line.status, 200);
  assert.equal(line.requestId, r.headers['x-ms-request-id']);
  const log = readFileSync(join(dataDir, 'audit.log'), 'utf8');
  assert.ok(!log.includes(cek.toString('base64url')) && !log.includes(value) && !log.includes(r.json.value));
  for (const l of log.trim().split('\n')) JSON.parse(l);
  const none = await req('/audit?operation=KeyUnwrap&objectId=nobody');
  assert.equal(none.json.value.length, 0);
});

test('keys survive a restart (sealed under the master key); SIGTERM exits 0', async () => {
  const k = await createKey('durable', { kty: 'RSA', key_size: 3072 });
  const cek = randomBytes(32);
  const value = wrapLocally(k, cek);
  agent.destroy();
  const res = await d.stop();
  assert.equal(res.code, 0);
  await start();
  const r = await req(`/keys/durable//unwrapkey?${API}`, { method: 'POST', body: { alg: 'RSA-OAEP-256', value } });
  assert.equal(r.status, 200, r.text);
  assert.equal(Buffer.from(r.json.value, 'base64url').compare(cek), 0);
});

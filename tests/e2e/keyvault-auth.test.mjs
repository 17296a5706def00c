// keyvault-auth.test.mjs -- keyvaultd's trust in a token issuer whose JWKS
// is served over HTTP (jwks_url), and per-operation authorization by object
// id and compound (object id + application id) identities.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync, createSign, randomUUID } from 'node:crypto';
import { startDaemon, freshDir } from './lib/daemons.mjs';

const API = 'api-version=2025-07-01';
const ISS = 'https://jwks-url-issuer.test/';
const AUD = 'https://vault.azure.net';
const key = generateKeyPairSync('rsa', { modulusLength: 2048 });
const kid = 'k-' + randomUUID().slice(0, 8);
let jwksServer, jwksHits = 0, d, agent, admin;

const b64u = (o) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');
function token(claims) {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64u({ alg: 'RS256', typ: 'JWT', kid })}.${b64u({ iss: ISS, aud: AUD, exp: now + 600, nbf: now - 5, ...claims })}`;
  return `${input}.${createSign('sha256').update(input).sign(key.privateKey).toString('base64url')}`;
}

function req(path, { method = 'GET', body, bearer } = {}) {
  const headers = { authorization: `Bearer ${bearer}` };
  if (body) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const r = https.request({ host: '127.0.0.1', port: d.port, path, method, headers, agent }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, json: text ? JSON.parse(text) : undefined }));
    });
    r.on('error', reject);
    r.end(body ? JSON.stringify(body) : undefined);
  });
}

before(async () => {
  jwksServer = http.createServer((q, s) => {
    jwksHits++;
    s.setHeader('content-type', 'application/json');
    s.end(JSON.stringify({ keys: [{ ...key.publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] }));
  });
  await new Promise((r) => jwksServer.listen(0, '127.0.0.1', r));
  const dir = freshDir('coffer-kvauth-');
  const cfg = join(dir, 'keyvaultd.json');
  writeFileSync(cfg, JSON.stringify({ issuers: [{ issuer: ISS, jwks_url: `http://127.0.0.1:${jwksServer.address().port}/jwks` }] }));
  const data = join(dir, 'data');
  d = await startDaemon('keyvaultd', ['--data', data, '--listen', '127.0.0.1:0', '--config', cfg]);
  agent = new https.Agent({ ca: readFileSync(join(data, 'tls', 'cert.pem')), keepAlive: true });
  admin = readFileSync(join(data, 'admin.token'), 'utf8').trim();
});
after(async () => { agent?.destroy(); await d?.stop(); jwksServer?.close(); });

test('a token from a jwks_url issuer is accepted; permissions decide per operation', async () => {
  const oid = randomUUID();
  const appid = randomUUID();
  let r = await req(`/keys?${API}`, { bearer: token({ oid, appid }) });
  assert.equal(r.status, 403, 'authenticated (JWKS fetched) but no policy yet');
  assert.ok(jwksHits >= 1);
  assert.equal(r.json.error.innererror.code, 'ForbiddenByPolicy');
  assert.ok(r.json.error.message.includes(`appid=${appid};oid=${oid}`), r.json.error.message);
  assert.ok(r.json.error.message.includes('does not have keys list permission'), r.json.error.message);
  r = await req('/vaults/default/accessPolicies/add', { method: 'PUT', bearer: admin,
    body: { properties: { accessPolicies: [{ tenantId: 't', objectId: oid, permissions: { keys: ['list', 'create'] } }] } } });
  assert.equal(r.status, 200);
  assert.equal((await req(`/keys?${API}`, { bearer: token({ oid, appid }) })).status, 200);
  r = await req(`/keys/by-jwt/create?${API}`, { method: 'POST', bearer: token({ oid, appid }), body: { kty: 'EC' } });
  assert.equal(r.status, 200);
  r = await req(`/keys/by-jwt?${API}`, { bearer: token({ oid, appid }) });
  assert.equal(r.status, 403);
  assert.ok(r.json.error.message.includes('keys get permission'));
  // sub stands in for a missing oid
  assert.equal((await req(`/keys?${API}`, { bearer: token({ sub: oid }) })).status, 200);
  const audit = await req(`/audit?objectId=${oid}&operation=KeyCreate`, { bearer: admin });
  assert.equal(audit.json.value.length, 1);
  assert.equal(audit.json.value[0].appId, appid);
});

test('a compound identity needs both the object id and the application id', async () => {
  const oid = randomUUID();
  const appid = randomUUID();
  await req('/vaults/default/accessPolicies/add', { method: 'PUT', bearer: admin,
    body: { properties: { accessPolicies: [{ objectId: oid, applicationId: appid, permissions: { keys: ['list'] } }] } } });
  assert.equal((await req(`/keys?${API}`, { bearer: token({ oid, appid }) })).status, 200);
  assert.equal((await req(`/keys?${API}`, { bearer: token({ oid, appid: randomUUID() }) })).status, 403);
});

test('wrong issuer or audience is 401 even with a good signature', async () => {
  const oid = randomUUID();
  for (const claims of [{ oid, iss: 'https://evil.test/' }, { oid, aud: 'https://storage.azure.com' }]) {
    const r = await req(`/keys?${API}`, { bearer: token(claims) });
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, 'Unauthorized');
  }
});

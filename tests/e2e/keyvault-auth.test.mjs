// keyvault-auth.test.mjs -- keyvaultd's trust in a token issuer whose JWKS
// is served over HTTP (jwks_url), per-operation authorization by object id
// and compound (object id + application id) identities, the tenant check
// (a token of another tenant than the vault's gets the 401 challenge), and
// keyset $skiptoken paging that neither skips nor repeats a key when keys
// are deleted between pages.
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

function req(path, { method = 'GET', body, bearer, vault = d, tls = agent } = {}) {
  const headers = { authorization: `Bearer ${bearer}` };
  if (body) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const r = https.request({ host: '127.0.0.1', port: vault.port, path, method, headers, agent: tls }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, json: text ? JSON.parse(text) : undefined }));
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

test('an issuer whose JWKS could not be fetched yet is tried again within seconds, not 30', async () => {
  // the JWKS answers 503 first (an issuer behind a load balancer whose
  // nodes are still starting: a cluster restarted as a whole)
  let up = false;
  const jwks = http.createServer((q, s) => {
    if (!up) { s.statusCode = 503; s.end(); return; }
    s.setHeader('content-type', 'application/json');
    s.end(JSON.stringify({ keys: [{ ...key.publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] }));
  });
  await new Promise((r) => jwks.listen(0, '127.0.0.1', r));
  const dir = freshDir('coffer-kvauth-late-');
  const cfg = join(dir, 'keyvaultd.json');
  writeFileSync(cfg, JSON.stringify({ issuers: [{ issuer: ISS, jwks_url: `http://127.0.0.1:${jwks.address().port}/jwks` }] }));
  const data = join(dir, 'data');
  const v = await startDaemon('keyvaultd', ['--data', data, '--listen', '127.0.0.1:0', '--config', cfg]);
  const tls = new https.Agent({ ca: readFileSync(join(data, 'tls', 'cert.pem')) });
  try {
    const bearer = token({ oid: randomUUID() });
    const first = await req(`/keys?${API}`, { bearer, vault: v, tls });
    // no key set yet: the token cannot be checked, which is the vault's
    // fault, not the token's (a 401 made cofferd lock the registry as if
    // its access had been revoked)
    assert.equal(first.status, 503, JSON.stringify(first.json));
    assert.equal(first.json.error.code, 'ServiceUnavailable');
    assert.match(first.json.error.message, /signing keys of token issuer .* could not be fetched yet/);
    assert.equal(first.headers['retry-after'], '1');
    // a token of an issuer the vault does not trust is still a 401
    const stranger = await req(`/keys?${API}`, { bearer: token({ oid: randomUUID(), iss: 'https://elsewhere.test/' }), vault: v, tls });
    assert.equal(stranger.status, 401);
    up = true;
    // 403 (authenticated, no policy) once the JWKS is fetched again; the
    // retry used to wait 30 s after a failed first fetch
    let r = first;
    const deadline = Date.now() + 10000;
    while (r.status === 503 && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 250));
      r = await req(`/keys?${API}`, { bearer, vault: v, tls });
    }
    assert.equal(r.status, 403, 'the token is checked once the issuer answers');
    assert.equal(r.json.error.innererror.code, 'ForbiddenByPolicy');
  } finally {
    tls.destroy();
    await v.stop();
    jwks.close();
  }
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

test('a token of another tenant than the vault is refused with 401 and the challenge', async () => {
  const T1 = '72f988bf-86f1-41af-91ab-2d7cd011db47', T2 = '11111111-2222-3333-4444-555555555555';
  const oid = randomUUID();
  let r = await req('/vaults/tenanted', { method: 'PUT', bearer: admin, body: { properties: { tenantId: T1 } } });
  assert.ok(r.status === 200 || r.status === 201, JSON.stringify(r.json));
  r = await req('/vaults/tenanted/accessPolicies/add', { method: 'PUT', bearer: admin,
    body: { properties: { accessPolicies: [{ tenantId: T1, objectId: oid, permissions: { keys: ['list'] } }] } } });
  assert.equal(r.status, 200);
  const host = { };
  const list = (bearer) => new Promise((resolve, reject) => {
    const q = https.request({ host: '127.0.0.1', port: d.port, path: `/keys?${API}`, method: 'GET', agent,
      headers: { authorization: `Bearer ${bearer}`, host: `tenanted.vault.localhost:${d.port}` } }, (res) => {
      let text = ''; res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, json: text ? JSON.parse(text) : undefined }));
    });
    q.on('error', reject); q.end();
  });
  r = await list(token({ oid, tid: T2 }));
  assert.equal(r.status, 401);
  assert.match(r.headers['www-authenticate'], /^Bearer authorization="[^"]+", resource="[^"]+"$/);
  assert.equal(r.json.error.code, 'Unauthorized');
  assert.ok(r.json.error.message.includes(T2), r.json.error.message);
  assert.equal((await list(token({ oid, tid: T1.toUpperCase() }))).status, 200);
  assert.equal((await list(token({ oid }))).status, 200, 'a token without tid is not checked');
  // the default vault has no tenant: any tid passes the tenant check (403: no policy)
  assert.equal((await req(`/keys?${API}`, { bearer: token({ oid, tid: T2 }) })).status, 403);
});

test('keyset $skiptoken over HTTP: a delete between pages skips nothing; junk is 400', async () => {
  for (const n of ['s1', 's2', 's3', 's4']) {
    const r = await req(`/keys/${n}/create?${API}`, { method: 'POST', bearer: admin, body: { kty: 'EC' } });
    assert.equal(r.status, 200);
  }
  const name = (v) => v.kid.split('/').pop();
  let r = await req(`/keys?${API}&maxresults=2`, { bearer: admin });
  const seenKeys = r.json.value.map(name);
  assert.equal(seenKeys.length, 2);
  const next = new URL(r.json.nextLink);
  assert.doesNotMatch(next.searchParams.get('$skiptoken'), /^\d+$/);
  // delete a key of the page already read, then follow the pages to the end
  assert.equal((await req(`/keys/${seenKeys[0]}?${API}`, { method: 'DELETE', bearer: admin })).status, 200);
  let more = next.pathname + next.search;
  while (more) {
    r = await req(more, { bearer: admin });
    assert.equal(r.status, 200);
    seenKeys.push(...r.json.value.map(name));
    more = r.json.nextLink ? new URL(r.json.nextLink).pathname + new URL(r.json.nextLink).search : null;
  }
  assert.equal(new Set(seenKeys).size, seenKeys.length, `no key repeated: ${seenKeys}`);
  const survivors = (await req(`/keys?${API}&maxresults=25`, { bearer: admin })).json.value.map(name);
  for (const k of survivors) assert.ok(seenKeys.includes(k), `${k} was skipped: ${seenKeys}`);
  assert.equal((await req(`/keys?${API}&$skiptoken=2`, { bearer: admin })).status, 400);
  const t = next.searchParams.get('$skiptoken');
  assert.equal((await req(`/deletedkeys?${API}&$skiptoken=${t}`, { bearer: admin })).status, 400);
  for (let i = 0; i < 2; i++) assert.equal((await req(`/keys/s2/rotate?${API}`, { method: 'POST', bearer: admin })).status, 200);
  let path = `/keys/s2/versions?${API}&maxresults=2`, seen = [];
  while (path) {
    r = await req(path, { bearer: admin });
    assert.equal(r.status, 200);
    seen.push(...r.json.value.map((v) => v.kid.split('/').pop()));
    path = r.json.nextLink ? new URL(r.json.nextLink).pathname + new URL(r.json.nextLink).search : null;
  }
  assert.equal(new Set(seen).size, 3);
});

// keyvaultd authentication and authorization over raw HTTPS: the exact 401
// challenge Azure SDKs rely on for every token a verifier must refuse, and
// 403 ForbiddenByPolicy naming the missing permission. Each refused case is
// paired with the same request carrying a good token, which succeeds, so no
// 401 here can pass by accident.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID, randomBytes, publicEncrypt, constants } from 'node:crypto';
import { createIssuer, startKeyvaultd, API, SDK_API, AUTHORIZATION, RESOURCE, b64u, ISSUER } from './lib/vault.mjs';

let d, issuer, stranger, oid;
const CHALLENGE = `Bearer authorization="${AUTHORIZATION}", resource="${RESOURCE}"`;

before(async () => {
  issuer = createIssuer();
  stranger = createIssuer({ issuer: 'https://stranger.test/' }); // not configured
  d = await startKeyvaultd({ issuers: [issuer] });
  oid = randomUUID();
  await d.admin.allow('default', oid, ['get', 'list', 'create']);
});
after(async () => { await d?.stop(); });

// The probe request: list keys (the caller holds `list`).
const probe = (token) => d.request(`/keys?${API}`, { token });

function assert401(r, what) {
  assert.equal(r.status, 401, `${what}: ${r.status} ${r.text}`);
  assert.equal(r.headers['www-authenticate'], CHALLENGE, what);
  assert.equal(r.json?.error?.code, 'Unauthorized', `${what}: ${r.text}`);
  assert.equal(typeof r.json.error.message, 'string');
}

test('a good RS256 token and a good ES256 token are accepted', async () => {
  for (const alg of ['RS256', 'ES256']) {
    const r = await probe(issuer.token({ oid }, { alg }));
    assert.equal(r.status, 200, `${alg}: ${r.text}`);
    assert.ok(Array.isArray(r.json.value), r.text);
  }
});

test('no Authorization header: 401 with the exact Key Vault challenge', async () => {
  assert401(await probe(undefined), 'no token');
  assert401(await d.request(`/keys/somekey?${API}`), 'no token, GET key');
  // the SDK's first request: a POST without a body and without a token
  const r = await d.request(`/keys/somekey//wrapkey?${SDK_API}`, { method: 'POST', headers: { 'content-length': '0' } });
  assert401(r, 'bodyless POST');
});

test('Authorization that is not a Bearer token: 401', async () => {
  assert401(await d.request(`/keys?${API}`, { headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } }), 'basic');
  assert401(await d.request(`/keys?${API}`, { headers: { authorization: 'Bearer' } }), 'empty bearer');
  assert401(await probe('not.a.jwt'), 'garbage');
  assert401(await probe(`${d.adminToken.slice(0, -1)}${d.adminToken.endsWith('0') ? '1' : '0'}`), 'admin token off by one digit');
});

test('expired token (exp one hour ago): 401', async () => {
  const now = Math.floor(Date.now() / 1000);
  assert401(await probe(issuer.token({ oid, iat: now - 7200, nbf: now - 7200, exp: now - 3600 })), 'expired');
});

test('exp 20 s ago is still inside the 60 s clock skew; 10 min ago is not', async () => {
  const now = Math.floor(Date.now() / 1000);
  assert.equal((await probe(issuer.token({ oid, exp: now - 20 }))).status, 200);
  assert401(await probe(issuer.token({ oid, exp: now - 600 })), 'expired 10 min');
});

test('token not yet valid (nbf in 10 minutes): 401', async () => {
  const now = Math.floor(Date.now() / 1000);
  assert401(await probe(issuer.token({ oid, nbf: now + 600 })), 'nbf');
});

test('wrong audience: 401', async () => {
  assert401(await probe(issuer.token({ oid, aud: 'https://management.azure.com' })), 'wrong aud');
  assert401(await probe(issuer.token({ oid, aud: undefined })), 'no aud');
});

test('untrusted issuer: 401, whether it signs with its own key or claims a trusted iss', async () => {
  assert401(await probe(stranger.token({ oid })), 'stranger iss, stranger key');
  assert401(await probe(stranger.token({ oid, iss: ISSUER })), 'trusted iss, stranger key and kid');
  assert401(await probe(issuer.token({ oid, iss: 'https://stranger.test/' })), 'trusted key, untrusted iss');
});

test('alg none: 401', async () => {
  assert401(await probe(issuer.forged.algNone({ oid })), 'alg none');
});

test('HS256 signed with the issuer public key (algorithm confusion): 401', async () => {
  assert401(await probe(issuer.forged.hs256WithPublicKey({ oid })), 'HS256');
});

test('unknown kid: 401; known kid with a signature from another key: 401', async () => {
  assert401(await probe(issuer.forged.unknownKid({ oid })), 'unknown kid');
  assert401(await probe(issuer.forged.wrongKey({ oid })), 'wrong key');
  // an RS256 signature presented under the EC key's kid
  assert401(await probe(issuer.token({ oid }, { alg: 'RS256', kid: issuer.ecKid })), 'RS256 under EC kid');
});

test('tampered payload (valid signature over the original): 401', async () => {
  assert401(await probe(issuer.forged.tampered({ oid })), 'tampered');
  const t = issuer.token({ oid }).split('.');
  const sig = Buffer.from(t[2], 'base64url');
  sig[10] ^= 1;
  assert401(await probe(`${t[0]}.${t[1]}.${b64u(sig)}`), 'flipped signature bit');
});

test('the admin token is the root credential on the keys API', async () => {
  const r = await d.request(`/keys?${API}`, { admin: true });
  assert.equal(r.status, 200, r.text);
});

test('the admin token holds every key permission: it creates a key without any access policy', async () => {
  const c = await d.request(`/keys/rootmade/create?${API}`, { method: 'POST', admin: true, body: { kty: 'EC', crv: 'P-256' } });
  assert.equal(c.status, 200, c.text);
});

function assert403(r, perm, who) {
  assert.equal(r.status, 403, `${perm}: ${r.status} ${r.text}`);
  assert.equal(r.json.error.code, 'Forbidden');
  assert.equal(r.json.error.innererror?.code, 'ForbiddenByPolicy', r.text);
  assert.ok(r.json.error.message.includes(`keys ${perm} permission`), `message names "${perm}": ${r.json.error.message}`);
  assert.ok(r.json.error.message.includes(`oid=${who}`), `message names the caller: ${r.json.error.message}`);
  assert.ok(r.json.error.message.includes("key vault 'default"), r.json.error.message);
}

test('403 ForbiddenByPolicy names the missing permission (unwrapKey, wrapKey, delete)', async () => {
  const token = issuer.token({ oid });
  const created = await d.request(`/keys/authkey/create?${API}`, { method: 'POST', token, body: { kty: 'RSA', key_size: 2048 } });
  assert.equal(created.status, 200, created.text);
  const keyKid = created.json.key.kid;
  const getKey = () => d.request(`/keys/authkey?${API}`, { token });
  const { n, e } = (await getKey()).json.key;
  const ct = publicEncrypt({ key: { kty: 'RSA', n, e }, format: 'jwk', padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, randomBytes(32));
  const v = keyKid.split('/').pop();
  assert403(await d.request(`/keys/authkey/${v}/unwrapkey?${API}`, { method: 'POST', token, body: { alg: 'RSA-OAEP-256', value: b64u(ct) } }), 'unwrapKey', oid);
  assert403(await d.request(`/keys/authkey/${v}/wrapkey?${API}`, { method: 'POST', token, body: { alg: 'RSA-OAEP-256', value: b64u(randomBytes(32)) } }), 'wrapKey', oid);
  assert403(await d.request(`/keys/authkey?${API}`, { method: 'DELETE', token }), 'delete', oid);
  // the key is untouched
  assert.equal((await getKey()).json.key.kid, keyKid);
});

test('a caller without any access policy: 403 for get and for list', async () => {
  const nobody = randomUUID();
  const token = issuer.token({ oid: nobody });
  assert403(await d.request(`/keys/somekey?${API}`, { token }), 'get', nobody);
  assert403(await probe(token), 'list', nobody);
});

test('granting the permission through the management API lifts the 403; removing the policy restores it', async () => {
  const who = randomUUID();
  const token = issuer.token({ oid: who });
  assert403(await probe(token), 'list', who);
  await d.admin.allow('default', who, ['List']);
  assert.equal((await probe(token)).status, 200, 'permissions compare case-insensitively');
  await d.admin.disallow('default', who);
  assert403(await probe(token), 'list', who);
});

test('the management API refuses JWT callers, even ones with every key permission', async () => {
  const who = randomUUID();
  await d.admin.allow('default', who, ['all']);
  const r = await d.request('/vaults/default', { token: issuer.token({ oid: who }) });
  assert.ok(r.status === 401 || r.status === 403, `${r.status} ${r.text}`);
  const a = await d.request('/audit', { token: issuer.token({ oid: who }) });
  assert.ok(a.status === 401 || a.status === 403, `${a.status} ${a.text}`);
});

test('missing api-version: 400 BadParameter', async () => {
  const r = await d.request('/keys', { token: issuer.token({ oid }) });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.code, 'BadParameter');
});

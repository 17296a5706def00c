// harden-vault-hostile: hostile request bodies and paths against keyvaultd,
// from an authorised caller. Each gets its error (413 past the 256 KiB body
// cap, 400 BadParameter for JSON nested 10000 deep or with invalid UTF-8,
// 404 for key names that decode to traversal or a slash, 431 for a 512 KiB
// header) and nothing changes: the key list is the same before and after,
// and the daemon still serves. (Token attacks -- alg none, HS256 with the
// public key, unknown kid, expired, nbf, wrong aud/iss -- are in
// vault-auth.test.mjs.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import { createIssuer, startKeyvaultd, ALL_KEY_PERMISSIONS, API } from './lib/vault.mjs';
import { removeAtExit } from './lib/oci.mjs';

let d;
let token;
let existing;
before(async () => {
  const issuer = createIssuer();
  d = await startKeyvaultd({ issuers: [issuer] });
  removeAtExit(dirname(d.dataDir));
  removeAtExit(dirname(d.configPath));
  const oid = randomUUID();
  await d.admin.allow('default', oid, ALL_KEY_PERMISSIONS);
  token = issuer.token({ oid });
  const r = await d.request(`/keys/existing/create?${API}`, { method: 'POST', body: { kty: 'RSA', key_size: 2048 }, token });
  assert.equal(r.status, 200, r.text);
  existing = new URL(r.json.key.kid).pathname;
});
after(async () => { await d?.stop(); });

async function keyList() {
  const r = await d.request(`/keys?${API}`, { token });
  assert.equal(r.status, 200);
  return r.json.value.map((k) => k.kid).sort();
}

test('hostile bodies and paths: the right error, the key list unchanged', async () => {
  const before = await keyList();
  const cases = [
    ['4 MiB body', `/keys/big/create?${API}`, JSON.stringify({ kty: 'RSA', key_size: 2048, pad: 'x'.repeat(4 << 20) }), 413, 'RequestEntityTooLarge'],
    ['10000-deep JSON', `/keys/deep/create?${API}`, '{"kty":"RSA","tags":' + '['.repeat(10000) + ']'.repeat(10000) + '}', 400, 'BadParameter'],
    ['10000-deep objects', `/keys/deep2/create?${API}`, '{"a":'.repeat(10000) + '1' + '}'.repeat(10000), 400, 'BadParameter'],
    ['invalid UTF-8', `/keys/utf8/create?${API}`, Buffer.concat([Buffer.from('{"kty":"RSA","tags":{"a":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]), 400, 'BadParameter'],
    ['overlong UTF-8', `/keys/utf8b/create?${API}`, Buffer.concat([Buffer.from('{"kty":"RSA","tags":{"a":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}}')]), 400, 'BadParameter'],
    ['traversal %2F', `/keys/..%2F..%2Fadmin/create?${API}`, JSON.stringify({ kty: 'RSA' }), 404, 'NotFound'],
    ['encoded slash', `/keys/a%2Fb/create?${API}`, JSON.stringify({ kty: 'RSA' }), 404, 'NotFound'],
    ['traversal %2e%2e', `/keys/%2e%2e/create?${API}`, JSON.stringify({ kty: 'RSA' }), [400, 404], null],
  ];
  for (const [what, path, body, status, code] of cases) {
    const r = await d.request(path, { method: 'POST', body, token, headers: { 'content-type': 'application/json' } });
    const want = Array.isArray(status) ? status : [status];
    assert.ok(want.includes(r.status), `${what}: ${r.status} ${r.text.slice(0, 200)}`);
    if (code) assert.equal(r.json?.error?.code, code, `${what}: ${r.text.slice(0, 200)}`);
  }
  const big = await d.request(`/keys?${API}`, { headers: { 'x-junk': 'y'.repeat(512 * 1024) }, token });
  assert.ok([400, 413, 431].includes(big.status), `512 KiB header: ${big.status}`);
  // a wrap whose value is not base64url, or far too long for the key
  for (const value of ['!!!', 'A'.repeat(4096)]) {
    const wrap = await d.request(`${existing}/wrapkey?${API}`, { method: 'POST', body: { alg: 'RSA-OAEP-256', value }, token });
    assert.equal(wrap.status, 400, `bad wrap value (${value.length} chars): ${wrap.status} ${wrap.text}`);
    assert.equal(wrap.json?.error?.code, 'BadParameter');
  }
  assert.deepEqual(await keyList(), before, 'key list unchanged');
});

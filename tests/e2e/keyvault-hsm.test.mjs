// keyvault-hsm.test.mjs -- keyvaultd with a SoftHSM2 token: RSA-HSM and
// EC-HSM keys generated in the token (unwrap with RSA-OAEP-256 through the
// raw-RSA fallback, ES256 signatures), the master key wrapped by the token
// ("master_key": "pkcs11") surviving a restart, and purge destroying the
// token objects.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, statSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { publicEncrypt, createPublicKey, constants, randomBytes, createHash, verify } from 'node:crypto';
import { startDaemon, freshDir } from './lib/daemons.mjs';

const API = 'api-version=7.4';
const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
let d, dir, data, cfg, env, agent, admin;

async function start() {
  d = await startDaemon('keyvaultd', ['--data', data, '--listen', '127.0.0.1:0', '--config', cfg], { env });
  agent = new https.Agent({ ca: readFileSync(join(data, 'tls', 'cert.pem')), keepAlive: true });
  admin = readFileSync(join(data, 'admin.token'), 'utf8').trim();
}

function req(path, { method = 'GET', body } = {}) {
  const headers = { authorization: `Bearer ${admin}` };
  if (body) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const r = https.request({ host: '127.0.0.1', port: d.port, path, method, headers, agent }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, json: text ? JSON.parse(text) : undefined, text }));
    });
    r.on('error', reject);
    r.end(body ? JSON.stringify(body) : undefined);
  });
}

function tokenObjects() {
  const out = execFileSync('pkcs11-tool', ['--module', MODULE, '--token-label', 'coffer', '--login', '--pin', '1234', '--list-objects'],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  return out;
}

before(async () => {
  dir = freshDir('coffer-kvhsm-');
  mkdirSync(join(dir, 'tokens'));
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  env = { SOFTHSM2_CONF: conf };
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'coffer', '--pin', '1234', '--so-pin', '5678'],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  cfg = join(dir, 'keyvaultd.json');
  writeFileSync(cfg, JSON.stringify({ pkcs11: { module: MODULE, token_label: 'coffer', pin: '1234' }, master_key: 'pkcs11' }));
  data = join(dir, 'data');
  await start();
});
after(async () => { agent?.destroy(); await d?.stop(); });

test('the master key is wrapped by the token, never on disk in clear', () => {
  assert.equal(existsSync(join(data, 'master.key')), false);
  const st = statSync(join(data, 'master.key.wrapped'));
  assert.equal(st.size, 60);
  assert.equal(st.mode & 0o077, 0);
});

test('RSA-HSM: generated in the token, unwrap RSA-OAEP-256 and RSA-OAEP', async () => {
  const r = await req(`/keys/hsm-rsa/create?${API}`, { method: 'POST', body: { kty: 'RSA-HSM', key_size: 3072 } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.key.kty, 'RSA-HSM');
  assert.equal(r.json.key.d, undefined);
  const pub = createPublicKey({ key: { kty: 'RSA', n: r.json.key.n, e: r.json.key.e }, format: 'jwk' });
  for (const [alg, oaepHash] of [['RSA-OAEP-256', 'sha256'], ['RSA-OAEP', 'sha1']]) {
    const cek = randomBytes(32);
    const value = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, cek).toString('base64url');
    const u = await req(`/keys/hsm-rsa//unwrapkey?${API}`, { method: 'POST', body: { alg, value } });
    assert.equal(u.status, 200, u.text);
    assert.equal(Buffer.from(u.json.value, 'base64url').compare(cek), 0, alg);
  }
  const bad = await req(`/keys/hsm-rsa//unwrapkey?${API}`, { method: 'POST', body: { alg: 'RSA-OAEP-256', value: randomBytes(384).toString('base64url') } });
  assert.equal(bad.status, 400);
  assert.match(tokenObjects(), /keyvaultd\/default\/hsm-rsa\//);
});

test('EC-HSM: ES256 signatures from the token verify with the public key', async () => {
  const r = await req(`/keys/hsm-ec/create?${API}`, { method: 'POST', body: { kty: 'EC-HSM', crv: 'P-256' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.key.kty, 'EC-HSM');
  const digest = createHash('sha256').update('coffer').digest();
  const s = await req(`/keys/hsm-ec//sign?${API}`, { method: 'POST', body: { alg: 'ES256', value: digest.toString('base64url') } });
  assert.equal(s.status, 200, s.text);
  const pub = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: r.json.key.x, y: r.json.key.y }, format: 'jwk' });
  assert.ok(verify('sha256', Buffer.from('coffer'), { key: pub, dsaEncoding: 'ieee-p1363' }, Buffer.from(s.json.value, 'base64url')));
  const v = await req(`/keys/hsm-ec//verify?${API}`, { method: 'POST',
    body: { alg: 'ES256', digest: digest.toString('base64url'), value: s.json.value } });
  assert.equal(v.json.value, true);
});

test('software keys sealed under the token-wrapped master key survive a restart', async () => {
  const r = await req(`/keys/soft/create?${API}`, { method: 'POST', body: { kty: 'RSA' } });
  const pub = createPublicKey({ key: { kty: 'RSA', n: r.json.key.n, e: r.json.key.e }, format: 'jwk' });
  const cek = randomBytes(32);
  const value = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek).toString('base64url');
  agent.destroy();
  assert.equal((await d.stop()).code, 0);
  await start();
  for (const name of ['soft', 'hsm-rsa']) {
    const k = await req(`/keys/${name}?${API}`);
    assert.equal(k.status, 200);
  }
  const u = await req(`/keys/soft//unwrapkey?${API}`, { method: 'POST', body: { alg: 'RSA-OAEP-256', value } });
  assert.equal(u.status, 200, u.text);
  assert.equal(Buffer.from(u.json.value, 'base64url').compare(cek), 0);
});

test('purging an HSM key destroys its objects in the token', async () => {
  assert.equal((await req(`/keys/hsm-rsa?${API}`, { method: 'DELETE' })).status, 200);
  assert.match(tokenObjects(), /hsm-rsa/, 'soft-deleted: still in the token');
  assert.equal((await req(`/deletedkeys/hsm-rsa?${API}`, { method: 'DELETE' })).status, 204);
  assert.doesNotMatch(tokenObjects(), /hsm-rsa/);
});

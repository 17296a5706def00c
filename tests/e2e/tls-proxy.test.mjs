// tls-proxy: TLS in front of cofferd as docs/install.md sets it up on a
// single node: haproxy with the project's example configuration
// (dist/examples/haproxy.cfg: only its port, certificate path and backend
// port moved to this test's), a certificate the clients trust, cofferd on
// loopback behind it. The 401 challenge names an https realm (haproxy says
// X-Forwarded-Proto: https), so skopeo fetches its token, with the admin
// password, over TLS; it pushes and pulls an image through the proxy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { ROOT, startCofferd, freshDir, freePort } from './lib/daemons.mjs';
import { buildImage, put, readLayout, skopeo } from './lib/images.mjs';

const REG = 'proxyreg1';
let d, proxy, port, dir, ca, password;

before(async () => {
  d = await startCofferd({ auth: true, args: ['--registry', REG] });
  dir = freshDir('coffer-tls-proxy-');
  // the node's certificate (an ACME client's files in production)
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  writeFileSync(join(dir, 'coffer.pem'), readFileSync(join(dir, 'cert.pem')) + readFileSync(join(dir, 'key.pem')), { mode: 0o600 });
  ca = join(dir, 'certs.d');
  mkdirSync(ca);
  copyFileSync(join(dir, 'cert.pem'), join(ca, 'ca.crt')); // what skopeo's --*-cert-dir reads

  port = await freePort();
  const cfg = readFileSync(join(ROOT, 'dist/examples/haproxy.cfg'), 'utf8')
    .replace('bind :443 ', `bind 127.0.0.1:${port} `)
    .replace('crt /etc/haproxy/coffer.pem', `crt ${join(dir, 'coffer.pem')}`)
    .replace('server cofferd 127.0.0.1:5000', `server cofferd 127.0.0.1:${d.port}`);
  assert.ok(cfg.includes(`127.0.0.1:${port}`) && cfg.includes(`127.0.0.1:${d.port}`), 'the example still has the lines this test moves');
  writeFileSync(join(dir, 'haproxy.cfg'), cfg);
  execFileSync('haproxy', ['-c', '-q', '-f', join(dir, 'haproxy.cfg')]);
  proxy = spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proxy.stderr.on('data', (b) => { err += b; });
  for (let i = 0; ; i++) { // until it accepts TLS
    const up = await new Promise((res) => {
      const s = connect({ host: '127.0.0.1', port, ca: readFileSync(join(dir, 'cert.pem')), servername: 'localhost' }, () => { s.end(); res(true); });
      s.on('error', () => res(false));
    });
    if (up) break;
    assert.ok(i < 100 && proxy.exitCode === null, `haproxy did not come up: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  const c = await fetch(`${d.mgmtUrl}/registries/${REG}`, {
    method: 'PATCH', headers: { authorization: `Bearer ${d.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ properties: { adminUserEnabled: true } }),
  });
  assert.equal(c.status, 200, await c.text());
  const l = await fetch(`${d.mgmtUrl}/registries/${REG}/listCredentials`, { method: 'POST', headers: { authorization: `Bearer ${d.adminToken}` } });
  password = (await l.json()).passwords[0].value;
});

after(async () => {
  if (proxy && proxy.exitCode === null) {
    const gone = new Promise((r) => proxy.once('exit', r));
    proxy.kill('SIGTERM');
    await gone;
  }
  await d?.stop();
  if (dir && !process.env.KEEP_E2E_DIRS) rmSync(dir, { recursive: true, force: true });
});

// GET https://127.0.0.1:port/v2/ through the proxy, trusting its certificate
function getViaProxy(path) {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca: readFileSync(join(dir, 'cert.pem')), servername: 'localhost' }, () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: localhost:${port}\r\nConnection: close\r\n\r\n`);
    });
    let text = '';
    s.on('data', (b) => { text += b; });
    s.on('end', () => resolve(text));
    s.on('error', reject);
  });
}

test('through the proxy the 401 challenge names an https realm; straight to cofferd it stays http', async () => {
  const r = await getViaProxy('/v2/');
  assert.match(r, /^HTTP\/1\.1 401 /);
  // the realm is where the client reaches the registry; the service is cofferd's own (fixed at start)
  assert.match(r, new RegExp(`www-authenticate: Bearer realm="https://localhost:${port}/oauth2/token",service="127.0.0.1:${d.port}"`, 'i'), r);
  const direct = await fetch(`${d.url}/v2/`);
  assert.equal(direct.headers.get('www-authenticate'), `Bearer realm="http://127.0.0.1:${d.port}/oauth2/token",service="127.0.0.1:${d.port}"`);
  const spoofed = await fetch(`${d.url}/v2/`, { headers: { 'X-Forwarded-Proto': 'http' } });
  assert.match(spoofed.headers.get('www-authenticate'), /^Bearer realm="http:/, 'only https is taken from the header');
});

test('skopeo pushes and pulls through TLS in front, trusting the node certificate, as the admin user', async () => {
  const src = await buildImage({ tag: 'v1', layers: [(r) => put(r, 'etc/motd', 'behind a TLS proxy\n')] });
  const s = readLayout(src, 'v1');
  const ref = `localhost:${port}/${REG}/app`;
  const creds = `${REG}:${password}`;
  await assert.rejects(skopeo(['copy', '--dest-creds', creds, `oci:${src}:v1`, `docker://${ref}:v1`]),
    'an untrusted certificate is refused');
  await skopeo(['copy', '--preserve-digests', '--dest-cert-dir', ca, '--dest-creds', creds, `oci:${src}:v1`, `docker://${ref}:v1`]);
  const dst = join(freshDir('coffer-tls-proxy-pull-'), 'layout');
  await skopeo(['copy', '--preserve-digests', '--src-cert-dir', ca, '--src-creds', creds, `docker://${ref}:v1`, `oci:${dst}:v1`]);
  const p = readLayout(dst, 'v1');
  assert.equal(p.digest, s.digest);
  for (const dg of [p.digest, p.configDigest, ...p.layers]) assert.ok(p.blob(dg).equals(s.blob(dg)), dg);
});

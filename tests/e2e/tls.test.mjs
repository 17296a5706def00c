// tls: TLS on every listener (docs/tls.md, issue 19). cofferd's data plane
// and management API (the identity issuer) and keyvaultd serve TLS 1.2 and
// 1.3 only with one cipher policy; real clients (skopeo, podman, the Azure
// SDK, the coffer CLI) succeed when they trust the CA and are refused when
// they do not; a renewed certificate is picked up (SIGHUP or a changed
// file) while pulls run, none lost; a listener off loopback without TLS
// refuses to start unless --insecure-plain-http; keyvaultd refuses a plain
// http:// JWKS URL off loopback and verifies an https one against its CA
// file. Certificates come from a private CA made with openssl
// (lib/tls.mjs), as the docs tell an operator.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { spawn, execFile } from 'node:child_process';
import { copyFileSync, chmodSync, renameSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { KeyClient } from '@azure/keyvault-keys';
import { BUILD, startCofferd, freshDir } from './lib/daemons.mjs';
import { makeCa, issueCert, fingerprintOf, handshake, sClient } from './lib/tls.mjs';
import { startKeyvaultd, createIssuer, request, sdkOptions, ALL_KEY_PERMISSIONS } from './lib/vault.mjs';
import { buildImage, put, readLayout, skopeo, makePodman, writeRandomFile } from './lib/images.mjs';
import { sha256 } from './lib/oci.mjs';
import { startCmkStack, waitFor } from './lib/cmk.mjs';

const cleanups = [];
after(async () => { for (const f of cleanups.reverse()) await f(); });
const keep = (d) => { cleanups.push(() => d.stop()); return d; };

const ca = makeCa();
const agentFor = (caPath) => new https.Agent({ ca: readFileSync(caPath), keepAlive: false });

// Copies a certificate pair to stable paths a daemon reads (key 0600):
// renewals then replace these files, as an ACME deploy hook does.
function livePair(pair, dir = freshDir('coffer-live-')) {
  const live = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), dir };
  copyFileSync(pair.cert, live.cert);
  copyFileSync(pair.key, live.key);
  chmodSync(live.key, 0o600);
  return live;
}

// Replaces the live files by renaming new ones over them (key, then cert).
function swapIn(live, pair) {
  copyFileSync(pair.key, `${live.key}.new`);
  chmodSync(`${live.key}.new`, 0o600);
  copyFileSync(pair.cert, `${live.cert}.new`);
  renameSync(`${live.key}.new`, live.key);
  renameSync(`${live.cert}.new`, live.cert);
}

// cofferd exits before listening: { code, log }.
function cofferdFails(args) {
  return new Promise((resolve) => {
    execFile(join(BUILD, 'cofferd'), ['--data', freshDir(), ...args], { timeout: 15000 },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, log: `${stdout}${stderr}` }));
  });
}

test('skopeo and podman push and pull over TLS when they trust the CA, and are refused when they do not', async (t) => {
  const pair = issueCert(ca, { name: 'registry' });
  const d = keep(await startCofferd({ args: ['--registry', 'demo1', '--tls-cert', pair.cert, '--tls-key', pair.key] }));
  assert.match(d.url, /^https:/);
  assert.match(await d.waitLog(/"msg":"listening".*"api":"data"/), /"msg":"listening".*"api":"data","scheme":"https"/);
  const src = await buildImage({ tag: 'v1', layers: [(r) => put(r, 'etc/motd', 'over TLS\n')] });
  const s = readLayout(src, 'v1');
  const ref = `docker://127.0.0.1:${d.port}/demo1/app:v1`;

  await assert.rejects(skopeo(['copy', `oci:${src}:v1`, ref]), /certificate signed by unknown authority|x509/,
    'skopeo refuses a certificate it has no CA for');
  await skopeo(['copy', '--preserve-digests', '--dest-cert-dir', ca.certDir, `oci:${src}:v1`, ref]);
  const dst = join(freshDir('coffer-tls-pull-'), 'layout');
  await assert.rejects(skopeo(['copy', ref, `oci:${dst}:v1`]), /certificate signed by unknown authority|x509/);
  await skopeo(['copy', '--src-cert-dir', ca.certDir, ref, `oci:${dst}:v1`]);
  assert.equal(readLayout(dst, 'v1').digest, s.digest, 'the manifest pulled over TLS is the one pushed');

  const podman = makePodman();
  try {
    await podman.run(['info', '--format', '{{.Store.GraphDriverName}}']);
  } catch (e) {
    t.diagnostic(`podman cannot run in this sandbox: ${String(e.message).split('\n')[0]}`);
    return;
  }
  const pref = `127.0.0.1:${d.port}/demo1/app:v1`;
  await assert.rejects(podman.run(['pull', '-q', pref]), /certificate signed by unknown authority|x509/,
    'podman refuses a certificate it has no CA for');
  await podman.run(['pull', '-q', '--cert-dir', ca.certDir, pref]);
  const { stdout } = await podman.run(['image', 'inspect', pref]);
  assert.deepEqual(JSON.parse(stdout)[0].RootFS.Layers, s.config.rootfs.diff_ids);
  await podman.run(['tag', pref, `127.0.0.1:${d.port}/demo1/copy:v1`]);
  await podman.run(['push', '-q', '--cert-dir', ca.certDir, `127.0.0.1:${d.port}/demo1/copy:v1`]);
  const r = await request(`${d.url}/v2/demo1/copy/tags/list`, { agent: agentFor(ca.cert) });
  assert.deepEqual(r.json?.tags, ['v1'], `podman pushed over TLS: ${r.status} ${r.text}`);
});

test('the Azure SDK reaches keyvaultd over TLS when it trusts the CA, and is refused when it does not', async () => {
  // keyvaultd with a certificate from the private CA (config "tls")
  const pair = issueCert(ca, { name: 'vault', sans: ['IP:127.0.0.1', 'DNS:localhost', 'DNS:*.vault.localhost'] });
  const issuer = createIssuer();
  const kv = keep(await startKeyvaultd({ issuers: [issuer], config: { tls: { cert: pair.cert, key: pair.key } }, caFile: ca.cert }));
  await kv.admin.allow('default', 'sdk-caller', ALL_KEY_PERMISSIONS);
  const cred = issuer.credential({ oid: 'sdk-caller' });
  const trusted = new KeyClient(kv.url, cred, sdkOptions(kv)); // an agent trusting the CA only
  const k = await trusted.createKey('tls-key', 'RSA', { keySize: 2048 });
  assert.equal(k.name, 'tls-key');
  const untrusted = new KeyClient(kv.url, cred, { ...sdkOptions(kv), agent: new https.Agent({ keepAlive: false }) });
  await assert.rejects(untrusted.getKey('tls-key'),
    (e) => /certificate|UNABLE_TO_VERIFY|SELF_SIGNED/i.test(`${e.code} ${e.message}`),
    'an SDK that does not trust the CA is refused');
});

test('TLS 1.0 and 1.1 are refused and TLS 1.2 and 1.3 accepted on every listener, with forward-secret AEAD ciphers only', async () => {
  const data = issueCert(ca, { name: 'data' });
  const mgmt = issueCert(ca, { name: 'mgmt', keyType: 'rsa' });
  const d = keep(await startCofferd({ args: ['--data-tls-cert', data.cert, '--data-tls-key', data.key,
    '--mgmt-tls-cert', mgmt.cert, '--mgmt-tls-key', mgmt.key] }));
  const kv = keep(await startKeyvaultd({}));
  const listeners = { 'cofferd data plane': d.port, 'cofferd management API': d.ports.mgmt, keyvaultd: kv.port };
  for (const [name, port] of Object.entries(listeners)) {
    for (const v of ['-tls1', '-tls1_1']) {
      const r = await sClient(port, v);
      assert.equal(r.ok, false, `${name}: openssl s_client ${v} must be refused; got cipher ${r.cipher}\n${r.out}`);
    }
    for (const v of ['-tls1_2', '-tls1_3']) {
      const r = await sClient(port, v);
      assert.equal(r.ok, true, `${name}: openssl s_client ${v} must be accepted\n${r.out}`);
    }
    // CBC and static-RSA suites are not offered even at TLS 1.2
    for (const c of ['ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES128-SHA', 'AES128-GCM-SHA256']) {
      const r = await sClient(port, '-tls1_2', c);
      assert.equal(r.ok, false, `${name}: TLS 1.2 with ${c} must be refused\n${r.out}`);
    }
    const h = await handshake(port, { version: 'TLSv1.2', ca: name === 'keyvaultd' ? join(kv.dataDir, 'tls', 'cert.pem') : ca.cert });
    assert.ok(h.ok, `${name}: node's TLS 1.2 client: ${h.error}`);
    assert.match(h.cipher, /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/, `${name}: ${h.cipher}`);
  }
  // each listener has its own certificate
  assert.equal((await handshake(d.port, { ca: ca.cert })).fingerprint, fingerprintOf(data.cert));
  assert.equal((await handshake(d.ports.mgmt, { ca: ca.cert })).fingerprint, fingerprintOf(mgmt.cert));
});

test('a certificate swapped while 16 pulls run: every pull completes, new connections get the new certificate', async () => {
  const first = issueCert(ca, { name: 'first' });
  const live = livePair(first);
  const d = keep(await startCofferd({ args: ['--registry', 'demo1', '--tls-cert', live.cert, '--tls-key', live.key] }));
  const agent = agentFor(ca.cert);
  // one 24 MiB blob, pushed over TLS in one POST
  const blobPath = join(freshDir('coffer-tls-blob-'), 'blob');
  writeRandomFile(blobPath, 24 << 20);
  const blob = readFileSync(blobPath);
  const digest = sha256(blob);
  const up = await request(`${d.url}/v2/demo1/big/blobs/uploads/?digest=${digest}`, { method: 'POST', body: blob, agent,
    headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(up.status, 201, `push: ${up.status} ${up.text}`);

  // 16 pulls, each stopped after its first bytes until the swap is done
  let release;
  const released = new Promise((r) => { release = r; });
  const started = [];
  const pulls = [];
  for (let i = 0; i < 16; i++) {
    let begun;
    started.push(new Promise((r) => { begun = r; }));
    pulls.push(new Promise((resolve, reject) => {
      const req = https.get(`${d.url}/v2/demo1/big/blobs/${digest}`, { agent: agentFor(ca.cert) }, (res) => {
        const h = createHash('sha256');
        let n = 0;
        let held = false;
        const peer = res.socket.getPeerCertificate().fingerprint256.replace(/:/g, '').toLowerCase();
        res.on('data', (c) => {
          h.update(c);
          n += c.length;
          if (!held) { held = true; res.pause(); begun(); released.then(() => res.resume()); }
        });
        res.on('end', () => resolve({ status: res.statusCode, n, digest: `sha256:${h.digest('hex')}`, peer }));
        res.on('error', reject);
      });
      req.on('error', reject);
    }));
  }
  await Promise.all(started);

  // requests keep coming on new connections during the swap: none may fail
  let probing = true;
  const probeErrors = [];
  let probes = 0;
  const prober = (async () => {
    while (probing) {
      try {
        const r = await request(`${d.url}/v2/`, { agent: agentFor(ca.cert) });
        if (r.status !== 200) probeErrors.push(`status ${r.status}`);
      } catch (e) { probeErrors.push(e.message); }
      probes++;
    }
  })();

  const second = issueCert(ca, { name: 'second' });
  swapIn(live, second);
  process.kill(d.proc.pid, 'SIGHUP');
  const fpr2 = fingerprintOf(second.cert);
  const log = await d.waitLog(new RegExp(`"msg":"TLS certificate reloaded".*"sha256":"${fpr2}"`), 10000);
  assert.match(log, new RegExp(`TLS certificate reloaded.*${fpr2}`), 'the reload is logged with the new fingerprint');
  const h = await handshake(d.port, { ca: ca.cert });
  assert.equal(h.fingerprint, fpr2, 'a new connection gets the new certificate');
  await new Promise((r) => setTimeout(r, 300));
  probing = false;
  await prober;
  release();
  const results = await Promise.all(pulls);
  const fpr1 = fingerprintOf(first.cert);
  for (const [i, r] of results.entries()) {
    assert.equal(r.status, 200, `pull ${i}`);
    assert.equal(r.peer, fpr1, `pull ${i} began on the old certificate`);
    assert.equal(r.n, blob.length, `pull ${i} got every byte`);
    assert.equal(r.digest, digest, `pull ${i} got the blob intact`);
  }
  assert.deepEqual(probeErrors, [], `${probes} requests during the swap, none failed`);
  assert.ok(probes > 0);
});

test('a renewed certificate file is picked up without a signal; a broken renewal keeps the current certificate', async () => {
  const live = livePair(issueCert(ca, { name: 'one' }));
  const d = keep(await startCofferd({ args: ['--mgmt-tls-cert', live.cert, '--mgmt-tls-key', live.key] }));
  assert.match(d.mgmtUrl, /^https:/);
  assert.match(d.url, /^http:/, 'the data plane keeps plain HTTP on loopback');
  const two = issueCert(ca, { name: 'two' });
  swapIn(live, two);
  await waitFor('the management API serves the renewed certificate',
    async () => (await handshake(d.ports.mgmt, { ca: ca.cert })).fingerprint === fingerprintOf(two.cert), { timeoutMs: 10000 });
  // a key that is not the certificate's: refused, logged, the current one stays
  const other = issueCert(ca, { name: 'other' });
  copyFileSync(issueCert(ca, { name: 'three' }).cert, `${live.cert}.new`);
  copyFileSync(other.key, `${live.key}.new`);
  chmodSync(`${live.key}.new`, 0o600);
  renameSync(`${live.key}.new`, live.key);
  renameSync(`${live.cert}.new`, live.cert);
  const log = await d.waitLog(/TLS certificate reload failed.*is not the private key of the certificate/, 10000);
  assert.match(log, /"level":"warn".*TLS certificate reload failed; the current certificate stays/);
  assert.equal((await handshake(d.ports.mgmt, { ca: ca.cert })).fingerprint, fingerprintOf(two.cert));
  const r = await request(`${d.mgmtUrl}/registries`, { agent: agentFor(ca.cert), token: d.adminToken });
  assert.equal(r.status, 200, 'the management API keeps answering');
  assert.doesNotMatch(d.log(), /BEGIN|PRIVATE KEY/, 'no key material in the log');
});

test('keyvaultd picks up a renewed certificate on SIGHUP, the SDK keeps working', async () => {
  const sans = ['IP:127.0.0.1', 'DNS:localhost', 'DNS:*.vault.localhost'];
  const live = livePair(issueCert(ca, { name: 'vault1', sans }));
  const issuer = createIssuer();
  const kv = keep(await startKeyvaultd({ issuers: [issuer], config: { tls: { cert: live.cert, key: live.key } }, caFile: ca.cert }));
  await kv.admin.allow('default', 'renewer', ALL_KEY_PERMISSIONS);
  const client = new KeyClient(kv.url, issuer.credential({ oid: 'renewer' }), sdkOptions(kv));
  await client.createKey('before', 'EC');
  const next = issueCert(ca, { name: 'vault2', sans });
  swapIn(live, next);
  process.kill(kv.proc.pid, 'SIGHUP');
  await kv.waitLog(new RegExp(`TLS certificate reloaded.*"sha256":"${fingerprintOf(next.cert)}"`), 10000);
  assert.equal((await handshake(kv.port, { ca: ca.cert })).fingerprint, fingerprintOf(next.cert));
  kv.agent.destroy(); // pooled connections would keep the old certificate, as they should
  const k = await client.createKey('after', 'EC');
  assert.equal(k.name, 'after');
  assert.equal(kv.proc.exitCode, null, 'no restart');
});

test('a listener off loopback without TLS refuses to start unless --insecure-plain-http, which is warned', async () => {
  let r = await cofferdFails(['--listen', '0.0.0.0:0', '--mgmt-listen', '127.0.0.1:0']);
  assert.equal(r.code, 2);
  assert.match(r.log, /--listen 0\.0\.0\.0:0 is not a loopback address and has no TLS certificate: give --tls-cert and --tls-key .* or --insecure-plain-http/);
  r = await cofferdFails(['--listen', '127.0.0.1:0', '--mgmt-listen', '0.0.0.0:0']);
  assert.equal(r.code, 2);
  assert.match(r.log, /--mgmt-listen 0\.0\.0\.0:0 is not a loopback address/);
  r = await cofferdFails(['--listen', '127.0.0.1:0', '--issuer', 'http://cofferd.example:5001']);
  assert.equal(r.code, 2, 'a plain http:// issuer off loopback is refused');
  assert.match(r.log, /--issuer http:\/\/cofferd\.example:5001 is plain http:\/\/ .* must be https:\/\//);
  r = await cofferdFails(['--tls-cert', ca.cert]);
  assert.equal(r.code, 2);
  assert.match(r.log, /--tls-cert and --tls-key go together/);

  const plain = keep(await startCofferd({ args: ['--listen', '0.0.0.0:0', '--insecure-plain-http'] }));
  assert.match(await plain.waitLog(/plain HTTP on a non-loopback/), /"level":"warn".*plain HTTP on a non-loopback address \(--insecure-plain-http\).*"listen":"0\.0\.0\.0:0"/);
  await plain.stop();

  // the same flags from --config (what a packaged /etc/coffer file holds)
  const pair = issueCert(ca, { name: 'wild', sans: ['IP:127.0.0.1'] });
  const cfg = join(freshDir('coffer-tls-cfg-'), 'cofferd.json');
  writeFileSync(cfg, JSON.stringify({ listen: '0.0.0.0:0', 'mgmt-listen': '0.0.0.0:0', 'tls-cert': pair.cert, 'tls-key': pair.key }));
  const d = keep(await startCofferd({ args: ['--config', cfg] }));
  assert.doesNotMatch(await d.waitLog(/"api":"management"/), /insecure-plain-http/, 'TLS on both listeners: nothing to warn about');
  const h = await handshake(d.ports.mgmt, { ca: ca.cert });
  assert.equal(h.fingerprint, fingerprintOf(pair.cert));
  const oidc = await request(`https://127.0.0.1:${d.ports.mgmt}/.well-known/openid-configuration`, { agent: agentFor(ca.cert) });
  assert.equal(oidc.status, 200);
  assert.equal(oidc.json.issuer, `https://127.0.0.1:${d.ports.mgmt}`, 'the issuer URL is https when the management API has TLS');
  assert.equal(oidc.json.jwks_uri, `https://127.0.0.1:${d.ports.mgmt}/jwks`);
});

test('keyvaultd refuses a plain http:// JWKS URL off loopback', async () => {
  const dir = freshDir('coffer-kv-jwks-');
  const cfg = join(dir, 'keyvaultd.json');
  writeFileSync(cfg, JSON.stringify({ issuers: [{ issuer: 'https://cofferd.example', jwks_url: 'http://192.0.2.10:5001/jwks' }] }));
  const out = await new Promise((resolve) => {
    const p = spawn(join(BUILD, 'keyvaultd'), ['--data', join(dir, 'data'), '--listen', '127.0.0.1:0', '--config', cfg],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    p.stderr.on('data', (c) => { log += c; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 15000);
    p.on('exit', (code) => { clearTimeout(timer); resolve({ code, log }); });
  });
  assert.equal(out.code, 1, `keyvaultd must not start:\n${out.log}`);
  assert.match(out.log, /"msg":"cannot start".*jwks_url 'http:\/\/192\.0\.2\.10:5001\/jwks' is plain http:\/\/ to a host that is not loopback/);
  assert.doesNotMatch(out.log, /"msg":"listening"/);
});

test('keyvaultd fetches the issuer JWKS over https and verifies it against its CA file', async (t) => {
  const img = await buildImage({ tag: 'v1', layers: [(r) => put(r, 'etc/motd', 'cmk over TLS\n')] });
  const pair = issueCert(ca, { name: 'issuer' });
  const issuerTls = { cert: pair.cert, key: pair.key, ca: ca.cert };
  const s = await startCmkStack({ issuerTls });
  cleanups.push(() => s.stop());
  assert.match(s.issuer, /^https:/);
  const mi = await s.createIdentity('mi1');
  await s.createVault('tlsvault');
  await s.grant('tlsvault', mi.principalId);
  const key = await s.createKey('tlsvault', 'k1');
  const r = await s.createCmkRegistry('tlsreg1', { keyId: key.id, identity: mi });
  assert.ok([200, 201].includes(r.status), `CMK registry over an https issuer: ${r.status} ${r.text}`);
  await s.push(img, 'tlsreg1');
  await s.pullSame(img, 'tlsreg1', 'CMK registry');
  assert.match(s.cofferdLog(), new RegExp(`"issuer":"https://127\\.0\\.0\\.1:${s.mgmtPort}"`));

  // a vault whose CA file is another CA: it cannot trust the JWKS, so the
  // issuer's tokens are refused and nothing is unwrapped
  await t.test('with the CA file of another CA, the tokens are refused', async () => {
    const s2 = await startCmkStack({ issuerTls, issuerCaFile: makeCa({ name: 'not the issuer' }).cert });
    cleanups.push(() => s2.stop());
    const mi2 = await s2.createIdentity('mi2');
    await s2.createVault('tlsvault2');
    await s2.grant('tlsvault2', mi2.principalId);
    const key2 = await s2.createKey('tlsvault2', 'k2');
    const r2 = await s2.createCmkRegistry('tlsreg2', { keyId: key2.id, identity: mi2 });
    assert.ok(r2.status >= 400, `no CMK registry without a trusted issuer: ${r2.status} ${r2.text}`);
    const kvlog = await s2.kv.waitLog(/JWKS refresh failed/, 10000);
    assert.match(kvlog, /"msg":"JWKS refresh failed".*"error":"JWKS fetch from https:\/\/127\.0\.0\.1:\d+\/jwks failed: [^"]*(certificate|SSL)/i);
  });
});

test('the coffer CLI verifies the management API certificate; --insecure only by that name', async () => {
  const pair = issueCert(ca, { name: 'cli' });
  const d = keep(await startCofferd({ args: ['--mgmt-tls-cert', pair.cert, '--mgmt-tls-key', pair.key] }));
  const run = (args, env) => new Promise((resolve) => {
    execFile(join(BUILD, 'coffer'), args, { env: { PATH: process.env.PATH, HOME: freshDir(), COFFER_URL: d.mgmtUrl, COFFER_TOKEN: d.adminToken, ...env } },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
  let r = await run(['identity', 'list']);
  assert.equal(r.code, 1, 'no CA: refused');
  // (the first request: cofferd's default subscription, docs/cli.md)
  assert.match(r.stderr, /ERROR: \(ConnectionError\) cannot reach 127\.0\.0\.1:\d+\/subscriptions: .*certificate/i);
  r = await run(['identity', 'list'], { COFFER_CA: ca.cert });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), []);
  const cfg = join(freshDir('coffer-cli-cfg-'), 'config');
  writeFileSync(cfg, `url = ${d.mgmtUrl}\nca = ${ca.cert}\ntoken_file = ${join(d.dataDir, 'admin.token')}\n`);
  r = await run(['identity', 'list'], { COFFER_CONFIG: cfg, COFFER_URL: '', COFFER_TOKEN: '' });
  assert.equal(r.code, 0, `ca in the config file: ${r.stderr}`);
  r = await run(['identity', 'list', '--insecure']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^WARNING: --insecure: the servers' TLS certificates are not verified/);
  r = await run(['identity', 'list', '--insec']);
  assert.equal(r.code, 2, '--insecure has no abbreviation');
  r = await run(['identity', 'list', '--insecure=true']);
  assert.equal(r.code, 2, '--insecure takes no value');
  writeFileSync(cfg, `url = ${d.mgmtUrl}\ninsecure = true\n`);
  r = await run(['identity', 'list'], { COFFER_CONFIG: cfg });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /ConfigError.*unknown key 'insecure'/, 'no config key turns verification off');
  // the portal on the same listener: its session cookie is Secure over TLS
  const signin = await request(`${d.mgmtUrl}/portal/signin`, { method: 'POST', agent: agentFor(ca.cert),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: d.mgmtUrl, 'sec-fetch-site': 'same-origin' },
    body: `kind=operator&token=${encodeURIComponent(d.adminToken)}` });
  assert.equal(signin.status, 303, signin.text);
  assert.match(String(signin.headers['set-cookie']), /coffer_session=[^;]+;.*; Secure/);
  // plain http to a host off loopback: the token is not sent
  r = await run(['identity', 'list'], { COFFER_URL: 'http://192.0.2.10:5001' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /ERROR: \(ConfigError\) url http:\/\/192\.0\.2\.10:5001 is plain http:\/\/ to a host that is not loopback/);
});

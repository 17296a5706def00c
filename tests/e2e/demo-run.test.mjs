// demo-run: the README's first command. scripts/run-demo (what `make run`
// runs after building) must bring up keyvaultd and cofferd with the demo
// registry "cofferdemo" encrypted under a customer-managed key in the vault,
// take an image push and give it back, stop cleanly on SIGTERM, and find
// everything again on its second start. Run on free ports in a temp dir.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { rmSync, readFileSync } from 'node:fs';
import { ROOT, BUILD, freshDir, freePort } from './lib/daemons.mjs';
import { scriptRunner } from './lib/script.mjs';
import { buildImage, put, readLayout, skopeo } from './lib/images.mjs';
import { OciClient, sha256 } from './lib/oci.mjs';
import { request } from './lib/vault.mjs';
import https from 'node:https';

const runDir = join(freshDir('coffer-demo-'), 'run');

const demo = scriptRunner('scripts/run-demo', { banner: 'Ctrl-C stops both.', readyMs: 60000 });
after(async () => {
  await demo.cleanup();
  if (!process.env.KEEP_E2E_DIRS) rmSync(join(runDir, '..'), { recursive: true, force: true });
});

const ports = { reg: await freePort(), mgmt: await freePort(), vault: await freePort() };
const env = {
  ...process.env,
  COFFER_RUN: runDir,
  COFFER_DEMO_PORT: String(ports.reg),
  COFFER_DEMO_MGMT_PORT: String(ports.mgmt),
  COFFER_DEMO_VAULT_PORT: String(ports.vault),
};

const startDemo = () => demo.start(env);
const stopDemo = demo.stop;

const coffer = (...args) => JSON.parse(execFileSync(join(BUILD, 'coffer'), args, {
  env: { ...env, COFFER_CONFIG: join(runDir, 'coffer.config') },
}).toString());

test('make run: a CMK-encrypted demo registry with its vault, ready for a push, twice', async () => {
  const src = await buildImage({ tag: 'v1', layers: [(r) => put(r, 'etc/motd', 'coffer demo\n')] });
  const s = readLayout(src, 'v1');
  const ref = `127.0.0.1:${ports.reg}/cofferdemo/app`;

  let d = await startDemo();
  assert.match(d.out(), /setting up the demo registry/, 'first start sets the registry up');
  const enc = coffer('acr', 'encryption', 'show', '-n', 'cofferdemo');
  assert.equal(enc.status, 'enabled', 'customer-managed key on');
  assert.equal(enc.keyVaultProperties.keyStatus, 'available');
  assert.equal(enc.keyVaultProperties.keyRotationEnabled, true, 'non-versioned key: automatic rotation');
  assert.match(enc.keyVaultProperties.versionedKeyIdentifier, /\/keys\/cofferdemo-key\/[0-9a-f]{32}$/);
  const reg = coffer('acr', 'show', '-n', 'cofferdemo');
  assert.equal(reg.sku.name, 'Premium');
  assert.equal(reg.adminUserEnabled, true, 'the admin user is enabled for the demo (az shows properties flattened)');
  assert.equal(reg.resourceGroup, 'default', 'in the default group of run/coffer.config');
  // the management API and the identity issuer serve TLS from the demo's
  // local CA; keyvaultd fetches the issuer's JWKS over https, verified
  assert.match(readFileSync(join(runDir, 'coffer.config'), 'utf8'), new RegExp(`^url = https://127\\.0\\.0\\.1:${ports.mgmt}\\nca = .*/tls/ca\\.pem$`, 'm'));
  const kvconf = JSON.parse(readFileSync(join(runDir, 'keyvaultd.json'), 'utf8'));
  assert.deepEqual(kvconf.issuers[0], { issuer: `https://127.0.0.1:${ports.mgmt}`,
    jwks_url: `https://127.0.0.1:${ports.mgmt}/jwks`, ca_file: join(runDir, 'tls', 'ca.pem'), trusted_service: true });
  assert.match(d.out(), /management API and identity issuer https:\/\/127\.0\.0\.1:/);
  assert.match(d.out(), /--dest-creds cofferdemo:\$\(build\/coffer acr credential show -n cofferdemo --query 'passwords\[0\]\.value' -o tsv\)/,
    'run-demo prints how to push with the admin user');
  // the portal's URL, which answers with its sign-in page
  // (over TLS: the demo CA signs the management listener's certificate)
  const portal = `https://127.0.0.1:${ports.mgmt}/portal/`;
  assert.ok(d.out().includes(`portal     ${portal}`), 'run-demo prints the portal URL');
  const signin = await request(`${portal}signin`, { agent: new https.Agent({ ca: readFileSync(join(runDir, 'tls', 'ca.pem')) }) });
  assert.equal(signin.status, 200);
  assert.match(signin.text, /Sign in as the operator/);

  // push as the admin user, with its password read through the CLI
  const creds = coffer('acr', 'credential', 'show', '-n', 'cofferdemo');
  assert.equal(creds.username, 'cofferdemo');
  const password = creds.passwords[0].value;
  await skopeo(['copy', '--preserve-digests', '--dest-tls-verify=false',
    '--dest-creds', `cofferdemo:${password}`, `oci:${src}:v1`, `docker://${ref}:v1`]);
  const first = await stopDemo(d);
  assert.equal(first.code, 0, 'run-demo stops cleanly on SIGTERM');

  d = await startDemo();
  assert.doesNotMatch(d.out(), /setting up the demo registry/, 'second start reuses run/');
  const c = new OciClient(`http://127.0.0.1:${ports.reg}`, 'cofferdemo/app');
  // the first key check after the restart loads the key; until then 503
  let m;
  for (let i = 0; i < 100; i++) {
    m = await c.get('/manifests/v1', { headers: {
      Accept: 'application/vnd.oci.image.manifest.v1+json',
      Authorization: `Basic ${Buffer.from(`cofferdemo:${password}`).toString('base64')}`,
    } });
    if (m.status !== 503) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(m.status, 200, `manifest after restart: ${m.status}`);
  assert.equal(sha256(m.body), s.digest, 'the same manifest comes back');
  const second = await stopDemo(d);
  assert.equal(second.code, 0);
});

// Debian's docker-registry service (the benchmark's peer) listens on :5000,
// the demo's registry port: make run must say which port and what moves it.
test('make run: a port held by another program is named with the variable that moves it; nothing starts', async () => {
  for (const [which, variable] of [['reg', 'COFFER_DEMO_PORT'], ['vault', 'COFFER_DEMO_VAULT_PORT']]) {
    const holder = createServer();
    await new Promise((r) => holder.listen(ports[which], '0.0.0.0', r));
    const dir = freshDir('coffer-demo-taken-');
    try {
      const r = spawnSync(join(ROOT, 'scripts/run-demo'), [], { env: { ...env, COFFER_RUN: join(dir, 'run') }, encoding: 'utf8', timeout: 60000 });
      assert.equal(r.status, 1, `run-demo exits 1: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`port ${ports[which]} is taken`), r.stderr);
      assert.match(r.stderr, new RegExp(`${variable}=\\d+ make run`), `names ${variable}: ${r.stderr}`);
      assert.doesNotMatch(r.stdout, /Ctrl-C stops both/);
      for (const p of Object.values(ports)) {
        if (p === ports[which]) continue;
        const free = await new Promise((res) => {
          const s = createServer().once('error', () => res(false));
          s.listen(p, '127.0.0.1', () => s.close(() => res(true)));
        });
        assert.ok(free, `port ${p} is free again: no daemon left behind`);
      }
    } finally {
      await new Promise((r) => holder.close(r));
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

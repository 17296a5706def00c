// cluster-run: `make run-cluster` (scripts/run-cluster) from nothing: it
// must make its PostgreSQL cluster and its Ceph cluster (radosgw), start
// keyvaultd, three cofferd nodes sharing the database and a bucket, and
// haproxy in front, set up the same CMK demo registry as `make run`
// through haproxy, print how to push, take a skopeo push through haproxy
// and give it back from every node, serve the management API, the issuer
// and the portal over TLS from the demo's local CA (haproxy and every
// node; keyvaultd verifies the issuer with it), stop everything on SIGTERM (Ceph's
// daemons too), and find it all, objects included, on a second start.
// Free ports in a temp dir. Second pass of scripts/test-all only (like the
// other cluster tests; it brings its own PostgreSQL and radosgw).
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { chmodSync, rmSync, readFileSync } from 'node:fs';
import { BUILD, freshDir, freePort } from './lib/daemons.mjs';
import { scriptRunner } from './lib/script.mjs';
import { CLUSTER_SKIP } from './lib/cluster.mjs';
import { buildImage, put, readLayout, skopeo } from './lib/images.mjs';
import { OciClient, sha256 } from './lib/oci.mjs';
import { request } from './lib/vault.mjs';
import https from 'node:https';

describe('cluster-run', { skip: CLUSTER_SKIP, timeout: 480000 }, () => {
  const top = freshDir('coffer-runcluster-');
  chmodSync(top, 0o711); // the postgres user reaches its data dir below
  const runDir = join(top, 'run');
  const cluster = scriptRunner('scripts/run-cluster', { banner: 'Ctrl-C stops it all.', readyMs: 180000, killAfterMs: 10000 });
  after(async () => {
    await cluster.cleanup();
    if (!process.env.KEEP_E2E_DIRS) rmSync(top, { recursive: true, force: true });
  });

  let env;
  const startCluster = () => cluster.start(env);
  const stop = cluster.stop;

  test('make run-cluster: PostgreSQL, radosgw, keyvaultd, three nodes and haproxy with the CMK demo registry, twice', async () => {
    // six consecutive free ports for the nodes
    const nodeBase = await freePort(6);
    const ports = {
      reg: await freePort(), mgmt: await freePort(), vault: await freePort(), pg: await freePort(), s3: await freePort(), stats: await freePort(),
    };
    env = {
      ...process.env, COFFER_RUN: runDir, COFFER_DEMO_PORT: String(ports.reg), COFFER_DEMO_MGMT_PORT: String(ports.mgmt),
      COFFER_DEMO_VAULT_PORT: String(ports.vault), COFFER_CLUSTER_PG_PORT: String(ports.pg), COFFER_CLUSTER_S3_PORT: String(ports.s3),
      COFFER_CLUSTER_NODE_PORT: String(nodeBase), COFFER_CLUSTER_STATS_PORT: String(ports.stats),
    };
    const coffer = (...args) => JSON.parse(execFileSync(join(BUILD, 'coffer'), args,
      { env: { ...env, COFFER_CONFIG: join(runDir, 'coffer.config') } }).toString());
    const src = await buildImage({ tag: 'v1', layers: [(r) => put(r, 'etc/motd', 'coffer cluster demo\n')] });
    const s = readLayout(src, 'v1');

    let d = await startCluster();
    assert.match(d.out(), /creating the PostgreSQL cluster/, 'first start makes its database');
    assert.match(d.out(), /creating the Ceph cluster/, 'first start makes its radosgw');
    assert.match(d.out(), new RegExp(`radosgw +http://127\\.0\\.0\\.1:${ports.s3} +bucket coffer`), 'radosgw on its port');
    assert.match(d.out(), /setting up the demo registry/, 'first start sets the registry up');
    assert.match(d.out(), new RegExp(`docker://127\\.0\\.0\\.1:${ports.reg}/cofferdemo/app:TAG`), 'prints how to push through haproxy');
    // TLS as make run has it: the CLI and keyvaultd meet haproxy's
    // management address with the demo's CA, in the default group
    const ca = readFileSync(join(runDir, 'tls', 'ca.pem'));
    const agent = new https.Agent({ ca });
    const cliConf = readFileSync(join(runDir, 'coffer.config'), 'utf8');
    assert.match(cliConf, new RegExp(`^url = https://127\\.0\\.0\\.1:${ports.mgmt}\\nca = .*/tls/ca\\.pem$`, 'm'));
    assert.match(cliConf, /^group = default$/m);
    assert.deepEqual(JSON.parse(readFileSync(join(runDir, 'keyvaultd.json'), 'utf8')).issuers[0], {
      issuer: `https://127.0.0.1:${ports.mgmt}`, jwks_url: `https://127.0.0.1:${ports.mgmt}/jwks`,
      ca_file: join(runDir, 'tls', 'ca.pem'), trusted_service: true });
    const signin = await request(`https://127.0.0.1:${ports.mgmt}/portal/signin`, { agent });
    assert.equal(signin.status, 200, 'the portal through haproxy, over TLS');
    assert.ok(d.out().includes(`portal     https://127.0.0.1:${ports.mgmt}/portal/`), 'prints the portal URL');
    const enc = coffer('acr', 'encryption', 'show', '-n', 'cofferdemo');
    assert.equal(enc.status, 'enabled');
    assert.equal(enc.keyVaultProperties.keyStatus, 'available');
    const password = coffer('acr', 'credential', 'show', '-n', 'cofferdemo').passwords[0].value;
    await skopeo(['copy', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', `cofferdemo:${password}`,
      `oci:${src}:v1`, `docker://127.0.0.1:${ports.reg}/cofferdemo/app:v1`]);
    const auth = `Basic ${Buffer.from(`cofferdemo:${password}`).toString('base64')}`;
    const accept = 'application/vnd.oci.image.manifest.v1+json';
    // every node gives it back
    for (let n = 0; n < 3; n++) {
      const c = new OciClient(`http://127.0.0.1:${nodeBase + 2 * n}`, 'cofferdemo/app');
      const m = await c.get('/manifests/v1', { headers: { Accept: accept, Authorization: auth } });
      assert.equal(m.status, 200, `node ${n + 1}: ${m.status} ${m.body}`);
      assert.equal(sha256(m.body), s.digest);
      for (const dg of s.layers) {
        const b = await c.get(`/blobs/${dg}`, { headers: { Authorization: auth } });
        assert.ok(b.body.equals(s.blob(dg)), `node ${n + 1}: layer ${dg}`);
      }
      assert.equal((await request(`https://127.0.0.1:${nodeBase + 2 * n + 1}/readyz`, { agent })).status, 200);
    }
    const stats = await (await fetch(`http://127.0.0.1:${ports.stats}/;csv`)).text();
    assert.equal(stats.split('\n').filter((l) => /^data_nodes,node\d,.*,UP,/.test(l)).length, 3, stats);
    // Ceph's daemons (their PIDs from the fixture's files) go with the rest
    const cephPids = ['mon.a', 'osd.0', 'rgw.a'].map((n) => Number(readFileSync(join(runDir, 'rgw', 'run', `${n}.fpid`), 'utf8')));
    assert.equal((await stop(d)).code, 0, 'stops cleanly on SIGTERM');
    const alive = (pid) => { try { return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; } };
    assert.deepEqual(cephPids.filter(alive), [], 'no Ceph daemon left running');

    d = await startCluster();
    assert.doesNotMatch(d.out(), /creating the (PostgreSQL|Ceph) cluster|setting up the demo registry/, 'second start reuses run-cluster/');
    const c = new OciClient(`http://127.0.0.1:${ports.reg}`, 'cofferdemo/app');
    const m = await c.get('/manifests/v1', { headers: { Accept: accept, Authorization: auth } });
    assert.equal(m.status, 200, `through haproxy after the restart: ${m.status} ${m.body}`);
    assert.equal(sha256(m.body), s.digest);
    for (const dg of s.layers) {
      const b = await c.get(`/blobs/${dg}`, { headers: { Authorization: auth } });
      assert.ok(b.body.equals(s.blob(dg)), `the objects stayed in radosgw: layer ${dg}`);
    }
    assert.equal((await stop(d)).code, 0);
  });
});

// cluster.mjs -- several cofferd nodes behind haproxy, sharing one
// PostgreSQL database and one object store, with keyvaultd: the scale-out
// deployment of docs/scale-out.md, on loopback, for end-to-end tests.
//
//   const c = await startCluster({ nodes: 3, keyCheckInterval: 2 });
//   c.url, c.mgmtUrl            haproxy's data plane and management frontends
//   c.nodes[i].url, .mgmtUrl    one node directly
//   await c.kill(i); await c.restart(i); await c.haproxyStates()
//   await c.stop()
//
// What is shared and how (as a real deployment would): the database (a
// database of its own on the PostgreSQL test server, COFFER_TEST_PG), the
// object store (a bucket of its own on the S3 test server, COFFER_TEST_S3:
// radosgw, tests/fixtures/rgw-fixture; the keys in every node's
// environment, as daemons.mjs gives them), and the keys: node 1 starts first and makes the service root
// key, the issuer's key and the admin token; their files are copied into
// every other node's data directory before it starts (what an operator
// does with a secret store). Every node gets the same --issuer (haproxy's
// management frontend: keyvaultd fetches the JWKS there, from whichever
// node answers) and the same --service (haproxy's data frontend: tokens
// minted on one node are for the same audience on all).
//
// haproxy (Debian's, scripts/install-deps) balances round-robin and checks
// GET /readyz on every node every 300 ms (2 failures down, 2 successes up);
// its stats socket tells the tests which servers it considers up.
//
// The cluster tests need PostgreSQL and S3: on the SQLite + files pass of
// scripts/test-all they are skipped (CLUSTER_SKIP says why); they run
// once, on the second.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { PG, pgQuery, startDaemon, freePort, track } from './daemons.mjs';
import { S3 } from './objects.mjs';
import { startKeyvaultd, TENANT, request } from './vault.mjs';
import { tempDir } from './oci.mjs';

export const CLUSTER_SKIP = !PG || !S3
  ? 'needs PostgreSQL and S3 (COFFER_TEST_PG, COFFER_TEST_S3): runs in the second pass of scripts/test-all'
  : !haproxyPath() ? 'needs haproxy (scripts/install-deps)' : false;

function haproxyPath() {
  for (const p of ['/usr/sbin/haproxy', '/usr/bin/haproxy']) if (existsSync(p)) return p;
  return null;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let clusters = 0;

// opts: nodes (3), keyCheckInterval (seconds, 60), cmk (start keyvaultd:
// true), nodeArgs(i) extra cofferd arguments of node i, dbUrl(i) the
// --database of node i (default: the shared database; the partition test
// routes one node through a proxy), s3Url(i) the --s3-endpoint of node i
// (likewise), auth (data plane authentication).
export async function startCluster(opts = {}) {
  const n = opts.nodes || 3;
  const dbName = `cluster${process.pid}x${clusters++}`;
  pgQuery(`CREATE DATABASE ${dbName}`);
  const dbUrl = PG.replace(/\/[^/]*$/, `/${dbName}`);
  const base = tempDir('coffer-cluster-');
  // the nodes' one bucket (cofferd creates it: the first node to start)
  const bucket = dbName;
  const objects = ['--objects', `s3://${bucket}`, '--s3-endpoint', S3];
  const objectsOf = (i) => (opts.s3Url ? ['--objects', `s3://${bucket}`, '--s3-endpoint', opts.s3Url(i, S3)] : objects);
  const lbData = await freePort();
  const lbMgmt = await freePort();
  const issuer = `http://127.0.0.1:${lbMgmt}`;
  const service = `127.0.0.1:${lbData}`;
  const kv = opts.cmk === false ? null
    : await startKeyvaultd({ issuers: [{ issuer, jwks_url: `${issuer}/jwks` }] });
  const caPath = kv ? join(kv.dataDir, 'tls', 'cert.pem') : null;

  const c = {
    dbName, dbUrl, bucket, objects, kv, caPath, issuer, service, base,
    url: `http://127.0.0.1:${lbData}`, mgmtUrl: issuer, lbData, lbMgmt,
    nodes: [],
  };
  helpers(c);
  for (let i = 0; i < n; i++) {
    const node = { i, dataDir: join(base, `node${i + 1}`), dataPort: await freePort(), mgmtPort: await freePort(), logs: [] };
    node.url = `http://127.0.0.1:${node.dataPort}`;
    node.mgmtUrl = `http://127.0.0.1:${node.mgmtPort}`;
    node.args = () => ['--data', node.dataDir, '--listen', `127.0.0.1:${node.dataPort}`,
      '--mgmt-listen', `127.0.0.1:${node.mgmtPort}`, '--database', opts.dbUrl ? opts.dbUrl(i, dbUrl) : dbUrl,
      ...objectsOf(i), '--issuer', issuer, '--service', service, '--tenant', TENANT,
      '--key-check-interval', String(opts.keyCheckInterval || 60), '--vault-timeout', String(opts.vaultTimeout || 3),
      ...(caPath ? ['--vault-ca', caPath] : []), ...(opts.auth ? [] : ['--insecure-no-auth']),
      ...(opts.nodeArgs ? opts.nodeArgs(i) : [])];
    c.nodes.push(node);
  }

  c.startNode = async (i) => {
    const node = c.nodes[i];
    const logPath = join(base, `node${i + 1}-${node.logs.length}.log`);
    node.logs.push(logPath);
    node.d = await startDaemon('cofferd', node.args(), { listeners: 2, logPath, timeoutMs: 30000 });
    return node.d;
  };
  c.log = (i) => c.nodes[i].logs.map((p) => { try { return readFileSync(p, 'utf8'); } catch { return ''; } }).join('\n--- restart ---\n');
  c.logs = () => c.nodes.map((_, i) => `=== node ${i + 1}\n${c.log(i)}`).join('\n');

  // haproxy first: keyvaultd fetches the issuer's JWKS through it.
  const cfg = haproxyConfig(c);
  c.haproxyCfg = join(base, 'haproxy.cfg');
  c.haproxySock = join(base, 'haproxy.sock');
  writeFileSync(c.haproxyCfg, cfg.replace('@SOCK@', c.haproxySock));
  const hlog = join(base, 'haproxy.log');
  c.haproxy = track(spawn(haproxyPath(), ['-f', c.haproxyCfg, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const hl = [];
  c.haproxy.stdout.on('data', (b) => hl.push(b));
  c.haproxy.stderr.on('data', (b) => hl.push(b));
  c.haproxyLog = () => Buffer.concat(hl).toString();
  c.haproxy.on('exit', () => writeFileSync(hlog, c.haproxyLog()));

  // node 1 makes the keys and migrates the schema; the others get its keys
  await c.startNode(0);
  c.adminToken = readFileSync(join(c.nodes[0].dataDir, 'admin.token'), 'utf8').trim();
  for (let i = 1; i < n; i++) c.provision(i);
  await Promise.all(c.nodes.slice(1).map((_, k) => c.startNode(k + 1)));
  await c.waitAllUp();
  return c;
}

function haproxyConfig(c) {
  const servers = (port) => c.nodes.map((nd) => `    server n${nd.i + 1} 127.0.0.1:${port(nd)} check`).join('\n');
  return `global
    maxconn 2048
    stats socket @SOCK@ mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout http-request 30s
    retries 2
    option redispatch 1
    retry-on conn-failure empty-response
    default-server inter 300ms fall 2 rise 2
frontend data
    bind 127.0.0.1:${c.lbData}
    default_backend data_nodes
frontend mgmt
    bind 127.0.0.1:${c.lbMgmt}
    default_backend mgmt_nodes
backend data_nodes
    balance roundrobin
    option httpchk GET /readyz
    # a request that reached a node is sent again only if it changes nothing
    # (a PUT that completed an upload on a node that died before answering
    # would find the upload gone on the next: 404 instead of 502)
    http-request disable-l7-retry if !METH_GET
    http-check expect status 200
${servers((nd) => nd.dataPort)}
backend mgmt_nodes
    balance roundrobin
    option httpchk GET /readyz
    http-request disable-l7-retry if !METH_GET
    http-check expect status 200
${servers((nd) => nd.mgmtPort)}
`;
}

// The cluster's helpers, on c.
function helpers(c) {
  // the shared keys, copied from node 1 (what an operator's secret store does)
  c.provision = (i) => {
    const from = c.nodes[0].dataDir;
    const to = c.nodes[i].dataDir;
    mkdirSync(to, { recursive: true, mode: 0o700 });
    cpSync(join(from, 'keys'), join(to, 'keys'), { recursive: true });
    cpSync(join(from, 'admin.token'), join(to, 'admin.token'));
  };
  c.kill = async (i) => c.nodes[i].d.kill();
  c.stopNode = async (i) => c.nodes[i].d.stop();
  c.restart = async (i) => { await c.nodes[i].d.stop(); return c.startNode(i); };

  // haproxy's view: { data: { n1: 'UP', ... }, mgmt: {...} }
  c.haproxyStates = () => new Promise((resolve, reject) => {
    const s = net.connect({ path: c.haproxySock });
    let out = '';
    s.on('data', (b) => { out += b; });
    s.on('error', reject);
    s.on('end', () => {
      const st = { data: {}, mgmt: {} };
      const lines = out.split('\n');
      const head = lines[0].replace(/^# /, '').split(',');
      const px = head.indexOf('pxname');
      const sv = head.indexOf('svname');
      const status = head.indexOf('status');
      for (const l of lines.slice(1)) {
        const f = l.split(',');
        if (f.length < head.length) continue;
        if (f[px] === 'data_nodes' && /^n\d+$/.test(f[sv])) st.data[f[sv]] = f[status];
        if (f[px] === 'mgmt_nodes' && /^n\d+$/.test(f[sv])) st.mgmt[f[sv]] = f[status];
      }
      resolve(st);
    });
    s.end('show stat\n');
  });
  c.waitAllUp = async (timeoutMs = 30000) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const st = await c.haproxyStates().catch(() => ({ data: {}, mgmt: {} }));
      const up = c.nodes.every((nd) => st.data[`n${nd.i + 1}`] === 'UP' && st.mgmt[`n${nd.i + 1}`] === 'UP');
      const ready = await Promise.all(c.nodes.map((nd) => fetch(`${nd.url}/readyz`).then((r) => r.status === 200, () => false)));
      if (up && ready.every(Boolean)) return st;
      if (Date.now() > end) throw new Error(`cluster not up: haproxy ${JSON.stringify(st)}, ready ${ready}\n${c.logs()}\n${c.haproxyLog()}`);
      await sleep(100);
    }
  };

  // the management API through haproxy (or one node: base)
  c.mgmt = (method, path, body, base = c.mgmtUrl) => request(`${base}${path}`,
    { method, body, agent: false, headers: { authorization: `Bearer ${c.adminToken}` } });
  c.mgmtOk = async (method, path, body, ok = [200, 201], base) => {
    const r = await c.mgmt(method, path, body, base);
    if (!ok.includes(r.status)) throw new Error(`${method} ${path}: wanted ${ok}, got ${r.status} ${r.text}`);
    return r.json;
  };
  // /metrics of node i, parsed: { 'name{labels}': value }
  c.metrics = async (i) => {
    const r = await request(`${c.nodes[i].mgmtUrl}/metrics`, { agent: false, headers: { authorization: `Bearer ${c.adminToken}` } });
    if (r.status !== 200) throw new Error(`metrics of node ${i + 1}: ${r.status} ${r.text}`);
    const m = {};
    for (const l of r.text.split('\n')) {
      if (!l || l.startsWith('#')) continue;
      const sp = l.lastIndexOf(' ');
      m[l.slice(0, sp)] = Number(l.slice(sp + 1));
    }
    m.text = r.text;
    return m;
  };
  // a data plane request counter of node i (all routes), from its metrics
  c.dataRequests = async (i) => {
    const m = await c.metrics(i);
    let t = 0;
    for (const [k, v] of Object.entries(m)) if (k.startsWith('coffer_http_requests_total{listener="data"') && !/route="(healthz|readyz)"/.test(k)) t += v;
    return t;
  };

  c.sql = (q) => pgQuery(q, c.dbName);

  c.stop = async () => {
    await Promise.all(c.nodes.map((nd) => nd.d?.stop().catch(() => {})));
    if (c.haproxy && c.haproxy.exitCode === null) {
      await new Promise((r) => { c.haproxy.once('exit', r); c.haproxy.kill('SIGTERM'); });
    }
    if (c.kv) { try { c.kv.proc.kill('SIGCONT'); } catch { /* running */ } await c.kv.stop(); }
    try { pgQuery(`DROP DATABASE IF EXISTS ${c.dbName} WITH (FORCE)`); } catch { /* best effort */ }
  };
}

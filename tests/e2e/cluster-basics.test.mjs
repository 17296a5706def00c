// cluster-basics: three cofferd nodes behind haproxy on one PostgreSQL
// database and one object store (docs/scale-out.md): a client cannot tell
// which node answered.
//   - every node answers /healthz and /readyz on both listeners, haproxy
//     sees all three up;
//   - an upload started on node 1 continues on node 2 and 3 and completes
//     on node 1 again (chunks with partial segments, so the part that is
//     not sealed yet travels in the checkpoint), and node 1's own copy
//     of the upload, now stale, is not used; the blob reads back equal
//     from every node;
//   - an upload of several 8 MiB parts moves between nodes: one multipart
//     upload in the bucket, its part numbers continued by each node, the
//     blob whole on every node, and nothing of the upload left after;
//   - two requests on two nodes never write one upload at once;
//   - a token from /oauth2/token on one node is accepted by the others;
//   - the management API and the identity issuer answer on every node
//     with the same keys: one JWKS, an identity made on one node seen on
//     the others, a managed identity token from one node verifying with
//     the JWKS of another;
//   - a node whose service root key is not the cluster's refuses to start;
//   - /metrics (admin bearer) on the management listener in Prometheus
//     text format, counting what was done.
// Runs on the PostgreSQL + S3 pass of scripts/test-all (needs haproxy).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, createVerify } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { startCluster, CLUSTER_SKIP } from './lib/cluster.mjs';
import { OciClient, sha256, randomBuf, rangeEnd, MT, descriptor, assertOciError, tempDir } from './lib/oci.mjs';
import { startDaemon } from './lib/daemons.mjs';
import { bucketKeys, bucketMultipartUploads } from './lib/objects.mjs';

describe('cluster-basics', { skip: CLUSTER_SKIP, timeout: 240000 }, () => {
  let c;
  const REG = 'clusterone';

  before(async () => {
    c = await startCluster({ nodes: 3, cmk: false, auth: true });
    const r = await c.mgmt('PUT', `/registries/${REG}`, { sku: { name: 'Standard' }, properties: { adminUserEnabled: true } });
    assert.equal(r.status, 201, r.text);
  });
  after(async () => { await c?.stop(); });

  const basicAuth = async () => {
    const l = await c.mgmtOk('POST', `/registries/${REG}/listCredentials`);
    return `Basic ${Buffer.from(`${l.username}:${l.passwords[0].value}`).toString('base64')}`;
  };
  // OCI client of one base URL that sends auth
  const client = (base, auth) => {
    const o = new OciClient(base, `${REG}/app`);
    const req = o.req.bind(o);
    o.req = (m, p, opts = {}) => req(m, p, { ...opts, headers: { ...(opts.headers || {}), Authorization: auth } });
    return o;
  };

  test('every node answers /healthz and /readyz on both listeners; haproxy has all three up', async () => {
    for (const nd of c.nodes) {
      for (const base of [nd.url, nd.mgmtUrl]) {
        const h = await fetch(`${base}/healthz`);
        assert.equal(h.status, 200);
        assert.deepEqual(await h.json(), { status: 'alive' });
        const r = await fetch(`${base}/readyz`);
        assert.equal(r.status, 200);
        // the management listener's readiness leaves the customer keys out
        // (the vault fetches the issuer's JWKS there before any node can load them)
        const checks = base === nd.url ? { database: 'ok', objects: 'ok', keys: 'ok' } : { database: 'ok', objects: 'ok' };
        assert.deepEqual(await r.json(), { status: 'ready', checks });
        assert.equal((await fetch(`${base}/readyz`, { method: 'POST' })).status, 405);
      }
    }
    const st = await c.haproxyStates();
    assert.deepEqual(st, { data: { n1: 'UP', n2: 'UP', n3: 'UP' }, mgmt: { n1: 'UP', n2: 'UP', n3: 'UP' } });
  });

  test('an upload started on node 1 continues on nodes 2, 3 and 1 and completes on node 3', async () => {
    const auth = await basicAuth();
    const on = c.nodes.map((nd) => client(nd.url, auth));
    // chunks that end mid-segment (64 KiB segments): the unsealed tail moves
    const chunks = [randomBuf(100000), randomBuf(70000), randomBuf(3), randomBuf(200001), randomBuf(65536)];
    const whole = Buffer.concat(chunks);
    const digest = sha256(whole);
    const start = await on[0].req('POST', '/blobs/uploads/');
    assert.equal(start.status, 202, String(start.body));
    const path = new URL(start.headers.get('location'), 'http://x').pathname;
    let off = 0;
    const order = [1, 2, 0, 1]; // node 1 had the upload in memory, then 2 and 3 took it
    for (let k = 0; k < 4; k++) {
      const r = await on[order[k]].patch(path, chunks[k], off);
      assert.equal(r.status, 202, `chunk ${k} on node ${order[k] + 1}: ${r.status} ${r.body}`);
      off += chunks[k].length;
      assert.equal(rangeEnd(r.headers.get('range')), off, `chunk ${k}: Range`);
      // every node reports the same offset
      for (const o of on) {
        const g = await o.get(path);
        assert.equal(g.status, 204);
        assert.equal(rangeEnd(g.headers.get('range')), off, `status after chunk ${k}`);
      }
    }
    // a chunk that does not continue the upload is refused on any node
    assertOciError(await on[2].patch(path, chunks[4], off - 1), 416, 'BLOB_UPLOAD_INVALID', 'stale offset');
    const done = await on[2].finish(c.nodes[2].url + path, digest, chunks[4]);
    assert.equal(done.status, 201, String(done.body));
    for (const o of on) {
      const b = await o.get(`/blobs/${digest}`);
      assert.equal(b.status, 200);
      assert.ok(b.body.equals(whole), 'the blob reads back equal');
    }
  });

  test('an upload of several S3 parts moves between nodes and completes whole', async () => {
    const auth = await basicAuth();
    const on = c.nodes.map((nd) => client(nd.url, auth));
    const MiB = 1024 * 1024;
    // each chunk fills a part (8 MiB of sealed bytes) and leaves bytes past
    // it that travel in the checkpoint (<uuid>.p<n>)
    const chunks = [randomBuf(9 * MiB + 5), randomBuf(7 * MiB + 3), randomBuf(9 * MiB + 11)];
    const whole = Buffer.concat(chunks);
    const digest = sha256(whole);
    const start = await on[0].req('POST', '/blobs/uploads/');
    assert.equal(start.status, 202, String(start.body));
    const path = new URL(start.headers.get('location'), 'http://x').pathname;
    const uuid = path.split('/').pop();
    let off = 0;
    for (let k = 0; k < 2; k++) {
      const r = await on[k].patch(path, chunks[k], off);
      assert.equal(r.status, 202, `chunk ${k} on node ${k + 1}: ${r.status} ${r.body}`);
      off += chunks[k].length;
      assert.equal(rangeEnd(r.headers.get('range')), off);
      const mpu = bucketMultipartUploads(c.bucket).filter((u) => u.key.endsWith(`/uploads/${uuid}`));
      assert.equal(mpu.length, 1, `one multipart upload after chunk ${k}: ${JSON.stringify(mpu)}`);
    }
    const done = await on[2].finish(c.nodes[2].url + path, digest, chunks[2]);
    assert.equal(done.status, 201, String(done.body));
    for (const o of on) {
      const b = await o.get(`/blobs/${digest}`);
      assert.equal(b.status, 200);
      assert.ok(b.body.equals(whole), 'the blob reads back equal');
    }
    assert.deepEqual(bucketMultipartUploads(c.bucket).filter((u) => u.key.endsWith(`/uploads/${uuid}`)), [], 'no multipart upload left');
    assert.deepEqual(bucketKeys(c.bucket).filter((k) => k.includes(uuid)), [], 'no object of the upload left');
  });

  test('two requests on two nodes never write one upload at once', async () => {
    const auth = await basicAuth();
    const on = c.nodes.map((nd) => client(nd.url, auth));
    const start = await on[0].req('POST', '/blobs/uploads/');
    const path = new URL(start.headers.get('location'), 'http://x').pathname;
    const first = randomBuf(150000);
    // node 1: a PATCH whose body arrives slowly (half, a pause, the rest)
    const u = new URL(c.nodes[0].url + path);
    const slow = new Promise((resolve, reject) => {
      const rq = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: 'PATCH',
        headers: { Authorization: auth, 'Content-Type': 'application/octet-stream', 'Content-Length': first.length,
          'Content-Range': `0-${first.length - 1}` } }, (res) => {
        const parts = [];
        res.on('data', (b) => parts.push(b));
        res.on('end', () => resolve({ status: res.statusCode, range: res.headers.range, body: Buffer.concat(parts).toString() }));
      });
      rq.on('error', reject);
      rq.write(first.subarray(0, 80000));
      setTimeout(() => rq.end(first.subarray(80000)), 1500);
    });
    await new Promise((r) => setTimeout(r, 500));
    // node 2 meanwhile: refused, the upload is in use
    const other = await on[1].patch(path, randomBuf(1000), 0);
    assertOciError(other, 416, 'BLOB_UPLOAD_INVALID', 'a second writer on another node');
    const s = await slow;
    assert.equal(s.status, 202, s.body);
    assert.equal(rangeEnd(s.range), first.length);
    // and the upload is what the first writer wrote, on every node
    const rest = randomBuf(1000);
    const done = await on[2].finish(c.nodes[2].url + path, sha256(Buffer.concat([first, rest])), rest);
    assert.equal(done.status, 201, String(done.body));
  });

  test('a token from /oauth2/token on one node is accepted by the others', async () => {
    const auth = await basicAuth();
    const t = await fetch(`${c.nodes[0].url}/oauth2/token?service=${encodeURIComponent(c.service)}&scope=repository:${REG}/app:pull,push`,
      { headers: { Authorization: auth } });
    assert.equal(t.status, 200);
    const tok = (await t.json()).token;
    const layer = randomBuf(3000);
    const cfg = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const on = c.nodes.map((nd) => client(nd.url, `Bearer ${tok}`));
    await on[1].pushBlob(layer);
    await on[2].pushBlob(cfg);
    const m = { schemaVersion: 2, mediaType: MT.manifest, config: descriptor(MT.config, cfg), layers: [descriptor(MT.layerTar, layer)] };
    assert.equal((await on[0].putManifest('v1', m)).status, 201);
    for (const o of on) assert.equal((await o.getManifest('v1')).status, 200);
    // and through haproxy, whichever node answers (several requests)
    const lb = client(c.url, `Bearer ${tok}`);
    for (let k = 0; k < 6; k++) assert.equal((await lb.get(`/blobs/${sha256(layer)}`)).status, 200);
    // the challenge names haproxy's address, the service every node shares
    const anon = await fetch(`${c.url}/v2/`);
    assert.equal(anon.status, 401);
    assert.equal(anon.headers.get('www-authenticate'), `Bearer realm="${c.url}/oauth2/token",service="${c.service}"`);
  });

  test('the management API and the issuer answer on every node with the same keys', async () => {
    const jwks = await Promise.all(c.nodes.map(async (nd) => (await fetch(`${nd.mgmtUrl}/jwks`)).text()));
    assert.equal(new Set(jwks).size, 1, 'one JWKS on every node');
    for (const nd of c.nodes) {
      const oc = await (await fetch(`${nd.mgmtUrl}/.well-known/openid-configuration`)).json();
      assert.equal(oc.issuer, c.issuer, 'the issuer is haproxy\'s address on every node');
    }
    const mi = await c.mgmtOk('PUT', '/identities/clustermi', {}, [200, 201], c.nodes[0].mgmtUrl);
    for (const nd of c.nodes) {
      const g = await c.mgmtOk('GET', '/identities/clustermi', undefined, [200], nd.mgmtUrl);
      assert.equal(g.clientId, mi.clientId);
    }
    // a managed identity token minted by node 3 verifies with node 1's JWKS
    const tr = await fetch(`${c.nodes[2].mgmtUrl}/msi/token?resource=https://vault.azure.net&client_id=${mi.clientId}`,
      { headers: { 'X-IDENTITY-HEADER': c.adminToken } });
    assert.equal(tr.status, 200, await tr.clone().text());
    const tok = (await tr.json()).access_token;
    const [h, p, sig] = tok.split('.');
    const jwk = JSON.parse(jwks[0]).keys.find((k) => k.kid === JSON.parse(Buffer.from(h, 'base64url')).kid);
    assert.ok(jwk, 'the token\'s kid is in the JWKS');
    const ok = createVerify('SHA256').update(`${h}.${p}`)
      .verify({ key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, Buffer.from(sig, 'base64url'));
    assert.ok(ok, 'signature verifies');
    assert.equal(JSON.parse(Buffer.from(p, 'base64url')).iss, c.issuer);
    // the admin token of node 1 is every node's
    for (const nd of c.nodes) assert.equal((await c.mgmt('GET', '/registries', undefined, nd.mgmtUrl)).status, 200);
  });

  test('a node whose service root key is not the cluster\'s refuses to start', async () => {
    const dataDir = tempDir('coffer-cluster-stray-');
    const args = ['--data', dataDir, '--listen', '127.0.0.1:0', '--mgmt-listen', '127.0.0.1:0',
      '--database', c.dbUrl, ...c.objects];
    await assert.rejects(startDaemon('cofferd', args, { listeners: 2 }),
      /this node's service root key is not the one of the other nodes sharing this database/);
    // nothing it made reached the database
    assert.deepEqual(c.sql('SELECT count(*) FROM shared_keys'), [['3']]);
  });

  test('/metrics on the management listener: Prometheus text, admin bearer only', async () => {
    const anon = await fetch(`${c.nodes[0].mgmtUrl}/metrics`);
    assert.equal(anon.status, 401);
    const r = await fetch(`${c.nodes[0].mgmtUrl}/metrics`, { headers: { authorization: `Bearer ${c.adminToken}` } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const m = await c.metrics(0);
    for (const fam of ['coffer_http_requests_total', 'coffer_http_request_duration_seconds', 'coffer_http_received_bytes_total',
      'coffer_http_sent_bytes_total', 'coffer_uploads_in_progress', 'coffer_ready', 'coffer_database_errors_total',
      'coffer_object_store_errors_total', 'coffer_vault_requests_total', 'coffer_cmk_key_state']) {
      assert.match(m.text, new RegExp(`^# TYPE ${fam} (counter|gauge|histogram)$`, 'm'), fam);
    }
    assert.equal(m.coffer_ready, 1);
    assert.equal(m.coffer_uploads_in_progress, 0);
    assert.ok(m['coffer_http_requests_total{listener="data",route="upload",method="PATCH",code="202"}'] >= 1, 'PATCHes counted');
    assert.ok(m['coffer_http_received_bytes_total{listener="data",route="upload"}'] >= 100000, 'bytes in counted');
    assert.ok(m['coffer_http_sent_bytes_total{listener="data",route="blob"}'] >= 370000, 'bytes out counted');
    const b = m['coffer_http_request_duration_seconds_bucket{listener="data",route="blob",le="+Inf"}'];
    assert.equal(b, m['coffer_http_request_duration_seconds_count{listener="data",route="blob"}']);
    // every sample line is name{labels} value or name value
    for (const l of m.text.split('\n')) {
      if (l === '' || l.startsWith('# HELP ') || l.startsWith('# TYPE ')) continue;
      assert.match(l, /^[a-z_:][a-z0-9_:]*(\{([a-z_]+="([^"\\\n]|\\.)*",?)*\})? -?[0-9.]+(e[+-]?[0-9]+)?$/, l);
    }
  });

});

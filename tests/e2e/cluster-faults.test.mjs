// cluster-faults: three nodes behind haproxy when things break
// (docs/scale-out.md "Faults"):
//   - a node SIGKILLed while eight clients push through haproxy: the
//     clients' retries complete on the other nodes, and every image that
//     was acknowledged (201 on its manifest) pulls back bit-identical,
//     from the survivors and from the killed node once restarted;
//   - one node cut off from PostgreSQL (a partition: its packets vanish,
//     tests/e2e/lib/tcpproxy.mjs): it stays alive (/healthz) but turns
//     unready (/readyz names the database), haproxy stops sending it
//     requests and the cluster keeps serving; healed, it comes back and
//     its first requests do not fail on connections the partition killed;
//   - one node cut off from the object store (radosgw, the same way): it
//     turns unready (/readyz names the object store) within the probe's
//     2 s, haproxy stops sending it requests, the store errors are
//     counted in its metrics; healed, it comes back;
//   - a key revocation one node notices reaches the others at once
//     (NOTIFY), well before their next round of checks (30 s here); with
//     a node's notification session cut, the resync after it reconnects
//     catches up (the poll fallback).
// Runs on the PostgreSQL + S3 pass of scripts/test-all (needs haproxy).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, CLUSTER_SKIP, sleep } from './lib/cluster.mjs';
import { startTcpProxy } from './lib/tcpproxy.mjs';
import { OciClient, sha256, randomBuf, MT, descriptor } from './lib/oci.mjs';
import { PG, pgQuery } from './lib/daemons.mjs';
import { S3 } from './lib/objects.mjs';
import { API } from './lib/vault.mjs';

const INTERVAL = 30; // seconds: news must travel by notification, not by round

describe('cluster-faults', { skip: CLUSTER_SKIP, timeout: 300000 }, () => {
  let c, proxy, s3proxy;
  const REG = 'clusterfault1';

  before(async () => {
    const pgPort = Number(new URL(PG).port);
    proxy = await startTcpProxy(pgPort);
    const s3Port = Number(new URL(S3).port);
    s3proxy = await startTcpProxy(s3Port);
    c = await startCluster({
      nodes: 3, keyCheckInterval: INTERVAL, vaultTimeout: 2,
      // node 3 reaches the database through the proxy, node 2 radosgw
      dbUrl: (i, url) => (i === 2 ? url.replace(`:${pgPort}/`, `:${proxy.port}/`) : url),
      s3Url: (i, url) => (i === 1 ? url.replace(`:${s3Port}`, `:${s3proxy.port}`) : url),
    });
    await c.mgmtOk('PUT', `/registries/${REG}`, {}, [201]);
  });
  after(async () => { await c?.stop(); await proxy?.stop(); await s3proxy?.stop(); });

  // One step of a push, retried the way a client does (skopeo --retry-times):
  // on a connection error or a 5xx, again, through haproxy.
  async function retried(what, fn, attempts) {
    for (let k = 1; ; k++) {
      let r;
      try { r = await fn(); } catch (e) { r = { status: 0, body: e.message }; }
      if (r.status > 0 && r.status < 500) return r;
      attempts.push(`${what}: ${r.status}`);
      if (k === 20) return r;
      await sleep(100);
    }
  }

  async function pushImage(o, tag, attempts) {
    const layer = randomBuf(600000 + Math.floor(Math.random() * 600000));
    const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', tag }));
    for (const b of [layer, cfg]) {
      const r = await retried(`blob of ${tag}`, async () => {
        const s = await o.req('POST', '/blobs/uploads/');
        if (s.status !== 202) return s;
        return o.finish(o.location(s), sha256(b), b);
      }, attempts);
      if (r.status !== 201) {
        attempts.push(`blob of ${tag} gave up: ${r.status} ${String(r.body).slice(0, 300)}`);
        return null;
      }
    }
    const m = { schemaVersion: 2, mediaType: MT.manifest, config: descriptor(MT.config, cfg), layers: [descriptor(MT.layerTar, layer)] };
    const r = await retried(`manifest ${tag}`, () => o.putManifest(tag, m), attempts);
    if (r.status !== 201) attempts.push(`manifest ${tag} gave up: ${r.status} ${String(r.body).slice(0, 300)}`);
    return r.status === 201 ? { tag, layer, cfg } : null;
  }

  async function pullSame(base, img, what) {
    const o = new OciClient(base, `${REG}/app`);
    const m = await o.getManifest(img.tag);
    assert.equal(m.status, 200, `${what}: manifest ${img.tag}: ${m.status} ${m.body}`);
    for (const b of [img.layer, img.cfg]) {
      const g = await o.get(`/blobs/${sha256(b)}`);
      assert.equal(g.status, 200, `${what}: blob of ${img.tag}`);
      assert.ok(g.body.equals(b), `${what}: blob of ${img.tag} is bit-identical`);
    }
  }

  test('a node SIGKILLed during pushes: retries complete elsewhere, nothing acknowledged is lost', async (t) => {
    const attempts = [];
    const acked = [];
    let killedAt = 0;
    const clients = Array.from({ length: 8 }, (_, k) => (async () => {
      const o = new OciClient(c.url, `${REG}/app`);
      for (let j = 0; j < 5; j++) {
        const img = await pushImage(o, `c${k}-${j}`, attempts);
        if (img) acked.push(img);
      }
    })());
    await sleep(1500);
    killedAt = Date.now();
    await c.kill(1);
    await Promise.all(clients);
    t.diagnostic(`acknowledged ${acked.length}/40 images; ${attempts.length} retried steps: ${attempts.slice(0, 10).join(', ')}`);
    if (acked.length !== 40) t.diagnostic(c.logs().split('\n').filter((l) => /"level":"(warn|error)"/.test(l)).slice(-30).join('\n'));
    assert.ok(killedAt > 0);
    assert.equal(acked.length, 40, 'every push completed through the retries');
    for (const img of acked) await pullSame(c.url, img, 'through haproxy, node 2 dead');
    await c.startNode(1);
    await c.waitAllUp();
    for (const img of acked) await pullSame(c.nodes[1].url, img, 'from node 2 restarted');
  });

  // Node i cut off from what link leads to (the database or the bucket,
  // checks[check] in /readyz): it turns unready, haproxy stops sending to
  // it while the cluster serves (pushes and pulls through haproxy, none
  // failing, none reaching node i); during(m) sees its metrics then.
  // Healed, it is back in haproxy and serves at once, its first requests
  // not failing on connections the partition killed.
  async function cutOff(t, { i, link, check, tag, during }) {
    const nd = c.nodes[i];
    const n = `n${i + 1}`;
    const attempts = [];
    const t0 = Date.now();
    link.partition();
    try {
      let ready;
      for (;;) {
        ready = await fetch(`${nd.url}/readyz`);
        if (ready.status === 503) break;
        assert.ok(Date.now() - t0 < 15000, `node ${i + 1} turns unready`);
        await sleep(100);
      }
      const unreadyMs = Date.now() - t0;
      const body = await ready.json();
      assert.notEqual(body.checks[check], 'ok', JSON.stringify(body));
      for (const other of ['database', 'objects'].filter((k) => k !== check)) {
        assert.equal(body.checks[other], 'ok', `only the ${check} fails: ${JSON.stringify(body)}`);
      }
      assert.equal((await fetch(`${nd.mgmtUrl}/readyz`)).status, 503, 'unready on the management listener too');
      assert.equal((await fetch(`${nd.url}/healthz`)).status, 200, 'but alive');
      for (;;) {
        const st = await c.haproxyStates();
        if (st.data[n] === 'DOWN' && st.mgmt[n] === 'DOWN') break;
        assert.ok(Date.now() - t0 < 20000, `haproxy marks node ${i + 1} down: ${JSON.stringify(st)}`);
        await sleep(100);
      }
      t.diagnostic(`${check} partition: node ${i + 1} unready after ${unreadyMs} ms, down in haproxy after ${Date.now() - t0} ms`);
      if (during) await during(await c.metrics(i));
      // the cluster serves; node i gets none of it
      const before = await c.dataRequests(i);
      const o = new OciClient(c.url, `${REG}/app`);
      for (let k = 0; k < 3; k++) {
        const img = await pushImage(o, `${tag}-${k}`, attempts);
        assert.ok(img, 'a push through haproxy during the partition');
        await pullSame(c.url, img, 'during the partition');
      }
      assert.deepEqual(attempts, [], 'no request failed');
      assert.equal(await c.dataRequests(i), before, `haproxy sent node ${i + 1} no request`);
    } finally {
      link.heal(); // also when an assertion failed: the next tests need the node
    }
    const t1 = Date.now();
    for (;;) {
      const st = await c.haproxyStates();
      if (st.data[n] === 'UP' && st.mgmt[n] === 'UP') break;
      assert.ok(Date.now() - t1 < 30000, `node ${i + 1} back: ${JSON.stringify(st)}\n${c.log(i).slice(-3000)}`);
      await sleep(200);
    }
    t.diagnostic(`healed: node ${i + 1} up in haproxy after ${Date.now() - t1} ms`);
    const img = await pushImage(new OciClient(nd.url, `${REG}/app`), `${tag}-after-heal`, attempts);
    await pullSame(nd.url, img, `node ${i + 1} after the heal`);
    assert.deepEqual(attempts, [], 'no request failed after the heal either');
  }

  test('a node cut off from the database turns unready; haproxy stops sending to it; healed, it is back', async (t) => {
    await cutOff(t, { i: 2, link: proxy, check: 'database', tag: 'part' });
  });

  test('a node cut off from the object store turns unready; haproxy stops sending to it; healed, it is back', async (t) => {
    const errorsBefore = (await c.metrics(1))['coffer_object_store_errors_total{operation="check"}'] || 0;
    await cutOff(t, {
      i: 1, link: s3proxy, check: 'objects', tag: 's3part',
      during: (m) => {
        assert.ok(m['coffer_object_store_errors_total{operation="check"}'] > errorsBefore, 'the failed probes are counted');
        assert.equal(m.coffer_ready, 0);
      },
    });
  });

  test('a revocation one node notices reaches the others by notification, and after a lost one by resync', async (t) => {
    // a CMK registry on this cluster
    const kvCall = async (method, path, body) => {
      const r = await c.kv.request(`${path}${path.includes('?') ? '&' : '?'}${API}`, { method, body, admin: true, vault: 'fkv' });
      assert.ok([200, 201].includes(r.status), `${method} ${path}: ${r.status} ${r.text}`);
      return r.json;
    };
    await c.kv.admin.createVault('fkv', { enablePurgeProtection: true });
    const mi = await c.mgmtOk('PUT', '/identities/faultmi', {});
    await c.kv.admin.allow('fkv', mi.principalId, ['get', 'wrapKey', 'unwrapKey']);
    await kvCall('POST', '/keys/fk/create', { kty: 'RSA', key_size: 2048 });
    const R = 'clusterfaultcmk';
    const r = await c.mgmt('PUT', `/registries/${R}`, {
      sku: { name: 'Premium' }, identity: { type: 'UserAssigned', userAssignedIdentities: { [mi.id]: {} } },
      properties: { encryption: { status: 'enabled', keyVaultProperties: { keyIdentifier: `${c.kv.vaultUrl('fkv')}/keys/fk`, identity: mi.clientId } } },
    });
    assert.equal(r.status, 201, r.text);
    const o0 = new OciClient(c.nodes[0].url, `${R}/app`);
    const blob = randomBuf(1000);
    await o0.pushBlob(blob);
    const status = (i) => new OciClient(c.nodes[i].url, `${R}/app`).get(`/blobs/${sha256(blob)}`).then((x) => x.status);
    for (let i = 0; i < 3; i++) {
      for (let k = 0; (await status(i)) !== 200; k++) { assert.ok(k < 50, `node ${i + 1} serves`); await sleep(100); }
    }
    const waitAll = async (want, what) => {
      const t0 = Date.now();
      const at = {};
      await Promise.all([1, 2].map(async (i) => {
        for (;;) {
          if (await status(i) === want) { at[i + 1] = Date.now() - t0; return; }
          assert.ok(Date.now() - t0 < 8000, `${what}: node ${i + 1} answers ${want} (interval ${INTERVAL} s)`);
          await sleep(50);
        }
      }));
      return at;
    };
    // revoked, and node 1 asked to check now: nodes 2 and 3 follow at once
    await c.kv.admin.disallow('fkv', mi.principalId, []);
    await c.mgmtOk('POST', `/registries/${R}/encryption/check`, undefined, [200], c.nodes[0].mgmtUrl);
    assert.equal(await status(0), 403);
    t.diagnostic(`revocation by notification (ms after node 1's check): ${JSON.stringify(await waitAll(403, 'locked'))}`);
    await c.kv.admin.allow('fkv', mi.principalId, ['get', 'wrapKey', 'unwrapKey']);
    await c.mgmtOk('POST', `/registries/${R}/encryption/check`, undefined, [200], c.nodes[0].mgmtUrl);
    t.diagnostic(`restore by notification (ms): ${JSON.stringify(await waitAll(200, 'unlocked'))}`);
    // node 2's notification session cut: the notification is lost, the
    // resync after its reconnection catches up
    const node2 = readFileSync(join(c.nodes[1].dataDir, 'node.id'), 'utf8').trim().slice(0, 16);
    await c.kv.admin.disallow('fkv', mi.principalId, []);
    const cut = pgQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'cofferd-listener-${node2}'`);
    assert.equal(cut.length, 1, 'node 2 had one notification session');
    await c.mgmtOk('POST', `/registries/${R}/encryption/check`, undefined, [200], c.nodes[0].mgmtUrl);
    t.diagnostic(`revocation with node 2's notification session cut (ms): ${JSON.stringify(await waitAll(403, 'locked after resync'))}`);
    await c.kv.admin.allow('fkv', mi.principalId, ['get', 'wrapKey', 'unwrapKey']);
  });
});

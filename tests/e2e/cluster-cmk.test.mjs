// cluster-cmk: a customer-managed key on three nodes (docs/scale-out.md
// "Keys on every node"; docs/cmk.md). Each node holds its own KEK and runs
// its own key checks (--key-check-interval 2 s here):
//   - a registry created through one node serves on every node, soon
//     (the others are told and check it at once);
//   - an automatic rotation happens once (one wrapKey under the new version
//     in the vault's audit, one "rotated" event in the nodes' key events),
//     and with the old version disabled right after, no read on any node
//     fails; the same for rotate-key to another key;
//   - a revocation (the access policy removed) locks the registry on every
//     node within 2 x the interval, measured per node; restoring access
//     unlocks every node within the same bound;
//   - a node started while the vault is down does not serve the registry
//     (503, and /readyz says why, so haproxy leaves it out) while the other
//     two keep serving through haproxy, even when it was the last to write
//     the key state before its restart (it stays out, and does not write
//     "unavailable" over the others' view); once the vault answers, it
//     loads the key and comes back.
// Runs on the PostgreSQL + S3 pass of scripts/test-all (needs haproxy).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, CLUSTER_SKIP, sleep } from './lib/cluster.mjs';
import { OciClient, sha256, randomBuf, MT, descriptor } from './lib/oci.mjs';
import { API } from './lib/vault.mjs';

const INTERVAL = 2; // seconds
const BOUND_MS = 2 * INTERVAL * 1000;

describe('cluster-cmk', { skip: CLUSTER_SKIP, timeout: 300000 }, () => {
  let c, mi, key, image;
  const REG = 'clustercmk1';
  const SM = 'clustersm1';

  const kvCall = async (vault, method, path, body, ok = [200]) => {
    const r = await c.kv.request(`${path}${path.includes('?') ? '&' : '?'}${API}`, { method, body, admin: true, vault });
    assert.ok(ok.includes(r.status), `keyvaultd ${method} ${path}: ${r.status} ${r.text}`);
    return r.json;
  };
  const keyInfo = (bundle, name) => {
    const kid = bundle.key.kid;
    return { kid, version: kid.split('/').pop(), id: `${c.kv.vaultUrl('cmkvault')}/keys/${name}` };
  };
  const oci = (base, reg = REG) => new OciClient(base, `${reg}/app`);
  const kvp = async () => (await c.mgmtOk('GET', `/registries/${REG}`)).properties.encryption.keyVaultProperties;

  // pushes a small image; returns what a read must give back
  async function pushImage(base, reg) {
    const o = oci(base, reg);
    const layer = randomBuf(150000);
    const cfg = Buffer.from(`{"architecture":"amd64","os":"linux","r":"${reg}"}`);
    await o.pushBlob(layer);
    await o.pushBlob(cfg);
    const m = { schemaVersion: 2, mediaType: MT.manifest, config: descriptor(MT.config, cfg), layers: [descriptor(MT.layerTar, layer)] };
    const r = await o.putManifest('v1', m);
    assert.equal(r.status, 201, String(r.body));
    return { layer, digest: sha256(layer) };
  }
  // one read of the image from base: the manifest and the layer
  async function read(base, reg = REG) {
    const o = oci(base, reg);
    const m = await o.getManifest('v1');
    if (m.status !== 200) return m.status;
    const b = await o.get(`/blobs/${image.digest}`);
    if (b.status === 200 && !b.body.equals(image.layer)) return 'wrong bytes';
    if (b.status >= 500) return `${b.status} ${b.body}`; // says why, and is not 200
    return b.status;
  }
  // reads from every node, every 100 ms, until stop(): the failures seen
  function readers() {
    const failures = [];
    let on = true;
    const loops = c.nodes.map(async (nd) => {
      while (on) {
        const s = await read(nd.url).catch((e) => e.message);
        if (s !== 200) failures.push({ node: nd.i + 1, s, at: Date.now() });
        await sleep(100);
      }
    });
    return { failures, stop: async () => { on = false; await Promise.all(loops); } };
  }
  const events = () => c.nodes.flatMap((nd) => {
    const p = join(nd.dataDir, 'key-events.log');
    return existsSync(p) ? readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => ({ node: nd.i + 1, ...JSON.parse(l) })) : [];
  });

  before(async () => {
    c = await startCluster({ nodes: 3, keyCheckInterval: INTERVAL, vaultTimeout: 2 });
    await c.kv.admin.createVault('cmkvault', { enablePurgeProtection: true });
    mi = await c.mgmtOk('PUT', '/identities/clustercmkmi', {});
    await c.kv.admin.allow('cmkvault', mi.principalId, ['get', 'wrapKey', 'unwrapKey']);
    key = keyInfo(await kvCall('cmkvault', 'POST', '/keys/ck/create', { kty: 'RSA', key_size: 2048 }), 'ck');
    await c.mgmtOk('PUT', `/registries/${SM}`, {}, [201]);
  });
  after(async () => { await c?.stop(); });

  test('a CMK registry created through one node serves on every node', async () => {
    const body = {
      sku: { name: 'Premium' },
      identity: { type: 'UserAssigned', userAssignedIdentities: { [mi.id]: {} } },
      properties: { encryption: { status: 'enabled', keyVaultProperties: { keyIdentifier: key.id, identity: mi.clientId } } },
    };
    const r = await c.mgmt('PUT', `/registries/${REG}`, body, c.nodes[0].mgmtUrl);
    assert.equal(r.status, 201, r.text);
    const t0 = Date.now();
    image = await pushImage(c.nodes[0].url, REG);
    // the other nodes were told: they load the key without waiting a round
    for (const nd of c.nodes) {
      for (;;) {
        if (await read(nd.url) === 200) break;
        assert.ok(Date.now() - t0 < BOUND_MS, `node ${nd.i + 1} serves the new registry within ${BOUND_MS} ms`);
        await sleep(100);
      }
    }
    await pushImage(c.url, SM);
  });

  test('an automatic rotation happens once, and the old version disabled fails no read on any node', async () => {
    const rd = readers();
    const v2 = keyInfo(await kvCall('cmkvault', 'POST', '/keys/ck/rotate'), 'ck');
    const t0 = Date.now();
    for (;;) {
      if ((await kvp()).versionedKeyIdentifier === v2.kid) break;
      assert.ok(Date.now() - t0 < 3 * BOUND_MS, 'the registry follows the new version');
      await sleep(200);
    }
    await kvCall('cmkvault', 'PATCH', `/keys/ck/${key.version}`, { attributes: { enabled: false } });
    // every node checks at least twice more with the old version disabled
    await sleep(2 * BOUND_MS);
    await rd.stop();
    assert.deepEqual(rd.failures, [], 'no read failed on any node');
    const wraps = (await c.kv.admin.audit({ objectId: mi.principalId, operation: 'KeyWrap' }))
      .filter((l) => l.result === 'success' && l.key === 'ck' && l.version === v2.version);
    assert.equal(wraps.length, 1, 'C wrapped under the new version once, by one node');
    const rotated = events().filter((e) => e.event === 'rotated');
    assert.equal(rotated.length, 1, `one rotation in the nodes' key events: ${JSON.stringify(rotated)}`);
    for (let i = 0; i < 3; i++) {
      const m = await c.metrics(i);
      assert.equal(m[`coffer_cmk_key_state{registry="${REG}",state="available"}`], 1, `node ${i + 1}: key available`);
    }
    key = v2;
  });

  test('rotate-key to another key: once, and no read fails with the old key disabled', async () => {
    const k2 = keyInfo(await kvCall('cmkvault', 'POST', '/keys/ck2/create', { kty: 'RSA', key_size: 2048 }), 'ck2');
    const rd = readers();
    const u = await c.mgmt('PATCH', `/registries/${REG}`,
      { properties: { encryption: { keyVaultProperties: { keyIdentifier: k2.kid } } } }, c.nodes[1].mgmtUrl);
    assert.equal(u.status, 200, u.text);
    await kvCall('cmkvault', 'PATCH', `/keys/ck/${key.version}`, { attributes: { enabled: false } });
    await sleep(2 * BOUND_MS);
    await rd.stop();
    assert.deepEqual(rd.failures, [], 'no read failed on any node');
    const wraps = (await c.kv.admin.audit({ objectId: mi.principalId, operation: 'KeyWrap' }))
      .filter((l) => l.result === 'success' && l.key === 'ck2');
    assert.equal(wraps.length, 1, 'C wrapped under the new key once');
    assert.equal((await kvp()).versionedKeyIdentifier, k2.kid);
    key = k2;
  });

  test('a revocation locks the registry on every node within 2 x the key check interval', async (t) => {
    const lockedAt = {};
    const t0 = Date.now();
    await c.kv.admin.disallow('cmkvault', mi.principalId, []);
    await Promise.all(c.nodes.map(async (nd) => {
      for (;;) {
        const r = await oci(nd.url).getManifest('v1');
        if (r.status === 403) { lockedAt[nd.i + 1] = Date.now() - t0; break; }
        if (Date.now() - t0 > 3 * BOUND_MS) { lockedAt[nd.i + 1] = Infinity; break; }
        await sleep(50);
      }
    }));
    t.diagnostic(`revocation to 403 per node (ms, interval ${INTERVAL} s): ${JSON.stringify(lockedAt)}`);
    for (const [n, ms] of Object.entries(lockedAt)) assert.ok(ms <= BOUND_MS, `node ${n} locked after ${ms} ms > ${BOUND_MS}`);
    // restored: every node serves again within the same bound
    const t1 = Date.now();
    await c.kv.admin.allow('cmkvault', mi.principalId, ['get', 'wrapKey', 'unwrapKey']);
    const backAt = {};
    await Promise.all(c.nodes.map(async (nd) => {
      for (;;) {
        if (await read(nd.url) === 200) { backAt[nd.i + 1] = Date.now() - t1; break; }
        if (Date.now() - t1 > 3 * BOUND_MS) { backAt[nd.i + 1] = Infinity; break; }
        await sleep(50);
      }
    }));
    t.diagnostic(`restore to 200 per node (ms): ${JSON.stringify(backAt)}`);
    for (const [n, ms] of Object.entries(backAt)) assert.ok(ms <= BOUND_MS, `node ${n} unlocked after ${ms} ms`);
  });

  test('a node started while the vault is down stays out until it has the key; the others keep serving', async () => {
    // node 3 writes the key state last before it stops: what its next life
    // finds in the row is its earlier life's view, not the others'
    await c.mgmtOk('POST', `/registries/${REG}/encryption/check`, undefined, [200], c.nodes[2].mgmtUrl);
    await c.stopNode(2);
    c.kv.proc.kill('SIGSTOP'); // the vault hangs: no answer, no reset
    try {
      await c.startNode(2);
      const r3 = await fetch(`${c.nodes[2].url}/readyz`);
      assert.equal(r3.status, 503, 'node 3 is not ready');
      const why = (await r3.json()).checks.keys;
      assert.match(why, /first round|not loaded on this node/, why);
      // its management listener stays in: the management API and the
      // issuer's JWKS (which the vault needs before any node can load a
      // key) do not need the customer keys
      assert.equal((await fetch(`${c.nodes[2].mgmtUrl}/readyz`)).status, 200, 'node 3\'s management listener is ready');
      // not ready: haproxy takes it out
      for (let k = 0; ; k++) {
        const st = await c.haproxyStates();
        if (st.data.n3 === 'DOWN') break;
        assert.ok(k < 100, `haproxy marks node 3 down: ${JSON.stringify(st)}`);
        await sleep(100);
      }
      // node 3 itself: 503 for the CMK registry, its other registries serve
      const direct = await oci(c.nodes[2].url).getManifest('v1');
      assert.equal(direct.status, 503, String(direct.body));
      assert.equal(direct.json().errors[0].code, 'UNAVAILABLE');
      assert.equal((await oci(c.nodes[2].url, SM).getManifest('v1')).status, 200, 'node 3 serves the other registry');
      // it stays out while the vault hangs, past its first checks, and its
      // view never replaces the serving nodes' in the row
      for (const until = Date.now() + 6000; Date.now() < until; await sleep(200)) {
        const rz = await fetch(`${c.nodes[2].url}/readyz`);
        assert.equal(rz.status, 503, `node 3 stays unready: ${await rz.text()}`);
        const [[ks, by]] = c.sql(`SELECT key_status, key_checked_by FROM registries WHERE name = '${REG}'`);
        assert.equal(ks, 'available', `the row keeps the serving nodes' view (written by ${by})`);
      }
      // through haproxy nothing fails: the two nodes with the key answer
      for (let k = 0; k < 12; k++) {
        const m = await oci(c.url).getManifest('v1');
        assert.equal(m.status, 200, `read ${k} through haproxy: ${m.status} ${m.body} ${JSON.stringify(await c.haproxyStates())}`);
        assert.equal(await read(c.url), 200, `read ${k} through haproxy`);
      }
      const st = await c.haproxyStates();
      assert.equal(st.data.n1, 'UP');
      assert.equal(st.data.n2, 'UP');
    } finally {
      c.kv.proc.kill('SIGCONT');
    }
    // the vault answers again: node 3 loads the key and comes back
    const t0 = Date.now();
    for (;;) {
      const st = await c.haproxyStates();
      if (st.data.n3 === 'UP' && await read(c.nodes[2].url) === 200) break;
      assert.ok(Date.now() - t0 < 20000, `node 3 back: ${JSON.stringify(st)}`);
      await sleep(200);
    }
  });
});

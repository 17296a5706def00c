// registry-gc.test.mjs -- online garbage collection and the retention
// policy (docs/operations.md), through the coffer CLI against cofferd,
// on SQLite + files and (second pass of scripts/test-all) PostgreSQL +
// radosgw:
//   - `acr gc show|run`: what no manifest references goes, only past the
//     grace period; what a manifest references stays; the store shrinks;
//   - `acr config retention update|show`: untagged manifests older than
//     the policy's days are deleted by a run, and their blobs follow;
//   - race-freedom: pushers (the OCI client and skopeo: uploads, a
//     pusher's HEAD-and-skip of a shared layer, cross-repository mounts),
//     a deleter and back-to-back collections (cofferd --gc-grace 4s, every
//     fourth with --grace 0s) all at once;
//     afterwards every image the registry acknowledged and nobody deleted
//     pulls bit-identical, the only refusal a push may meet is
//     MANIFEST_BLOB_UNKNOWN (a layer collected before its manifest came),
//     and once every image is deleted a run leaves no blob object.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { startRegistry, OciClient, sha256, MT, tempDir, randomBuf, descriptor } from './lib/oci.mjs';
import { cofferRunner } from './lib/cli.mjs';
import { BUILD } from './lib/daemons.mjs';
import { registryId, sql } from './lib/harden.mjs';
import { objectKeys, objectHas, objectSize, blobKey } from './lib/objects.mjs';
import { buildImage, put, writeRandomFile, readLayout, skopeo } from './lib/images.mjs';

const run = promisify(execFile);
let reg, env, regId;
const { ok } = cofferRunner(() => env);

before(async () => {
  // a short default grace period (--gc-grace), for the race below
  reg = await startRegistry({ args: ['--gc-grace', '4s'] });
  env = {
    PATH: process.env.PATH,
    HOME: tempDir('coffer-gc-home-'),
    COFFER_URL: reg.daemon.mgmtUrl,
    COFFER_TOKEN: reg.daemon.adminToken,
  };
  regId = registryId(reg.dataDir, reg.registry);
});
after(async () => { await reg?.stop(); });

const gc = (verb, grace) => ok(['acr', 'gc', verb, '-n', reg.registry, ...(grace ? ['--grace', grace] : [])]).json;
const blobPrefix = () => `registries/${regId}/blobs/`;
const storeBytes = () => objectKeys(reg.dataDir, blobPrefix()).reduce((n, k) => n + objectSize(reg.dataDir, k), 0);
const has = (d) => objectHas(reg.dataDir, blobKey(regId, d));

// An image of random layers (plus the given shared ones) on client c.
async function pushImage(c, ref, { layers = [randomBuf(40000)], shared = [] } = {}) {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', n: randomBuf(8).toString('hex') }));
  const blobs = [config, ...layers];
  for (const b of blobs) await c.pushBlob(b);
  const m = {
    schemaVersion: 2, mediaType: MT.manifest,
    config: descriptor(MT.config, config),
    layers: [...layers, ...shared].map((l) => descriptor(MT.layerGzip, l)),
  };
  const raw = Buffer.from(JSON.stringify(m));
  const r = await c.putManifest(ref, raw);
  return { r, raw, digest: sha256(raw), blobs: [config, ...layers, ...shared] };
}

test('gc show and run: unreferenced blobs go past the grace period, referenced ones stay, the store shrinks', async () => {
  const c = new OciClient(reg.url, `${reg.registry}/app`);
  const shared = randomBuf(50000);
  await c.pushBlob(shared);
  const a = await pushImage(c, 'a', { layers: [randomBuf(300000)], shared: [shared] });
  const b = await pushImage(c, 'b', { layers: [randomBuf(30000)], shared: [shared] });
  assert.equal(a.r.status, 201);
  assert.equal(b.r.status, 201);

  let s = gc('show', '0s');
  assert.equal(s.dryRun, true);
  assert.equal(s.blobs.count, 0, 'everything is referenced');

  assert.equal((await c.del(`/manifests/${a.digest}`)).status, 202);
  const [aConfig, aLayer] = a.blobs;
  const before = storeBytes();

  s = gc('show', '1h');
  assert.equal(s.gracePeriodSeconds, 3600);
  assert.equal(s.blobs.count, 0, 'uploaded a moment ago: within the grace period');
  s = gc('show', '0s');
  assert.equal(s.blobs.count, 2, 'a\'s config and its own layer');
  assert.equal(s.blobs.bytes, aConfig.length + aLayer.length);
  assert.ok(has(sha256(aLayer)), 'a show removes nothing');

  const d = gc('run', '0s');
  assert.equal(d.dryRun, false);
  assert.equal(d.blobs.count, 2);
  assert.equal(d.blobs.bytes, aConfig.length + aLayer.length);
  assert.ok(!has(sha256(aLayer)) && !has(sha256(aConfig)), 'their objects are gone');
  assert.ok(has(sha256(shared)), 'the layer b shares stays');
  assert.ok(storeBytes() < before - aLayer.length, `the store shrank: ${before} -> ${storeBytes()}`);
  assert.equal((await c.get(`/blobs/${sha256(aLayer)}`)).status, 404);
  for (const blob of b.blobs) {
    const g = await c.get(`/blobs/${sha256(blob)}`);
    assert.equal(g.status, 200);
    assert.ok(g.body.equals(blob), 'b pulls bit-identical');
  }
  assert.equal(gc('run', '0s').blobs.count, 0, 'a second run finds nothing');
  // without --grace: cofferd's --gc-grace
  assert.equal(gc('show').gracePeriodSeconds, 4);
});

test('retention: untagged manifests older than the policy\'s days are deleted by a run, their blobs follow', async () => {
  const c = new OciClient(reg.url, `${reg.registry}/ret`);
  let p = ok(['acr', 'config', 'retention', 'show', '-r', reg.registry]).json;
  assert.deepEqual([p.status, p.days], ['disabled', 7]);
  const tagged = await pushImage(c, 'keep');
  const untagged = await pushImage(c, 'tmp');
  assert.equal(untagged.r.status, 201);
  // the tag moves away: the first image is now untagged
  const moved = await pushImage(c, 'tmp');
  assert.equal(moved.r.status, 201);
  const byDigest = await pushImage(c, 'placeholder');
  assert.equal((await c.del('/manifests/placeholder')).status, 202, 'tag deleted');
  // a multi-platform image: its platform manifest is untagged, its index is not
  const child = await pushImage(c, 'child-tmp');
  const index = { schemaVersion: 2, mediaType: MT.index, manifests: [descriptor(MT.manifest, child.raw, { platform: { architecture: 'amd64', os: 'linux' } })] };
  assert.equal((await c.putManifest('multi', index)).status, 201);
  assert.equal((await c.del('/manifests/child-tmp')).status, 202);

  p = ok(['acr', 'config', 'retention', 'update', '-r', reg.registry, '--status', 'enabled', '--days', '0',
    '--type', 'UntaggedManifests']).json;
  assert.equal(p.status, 'enabled');
  assert.equal(p.days, 0);
  assert.match(p.lastUpdatedTime, /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual(ok(['acr', 'config', 'retention', 'show', '-r', reg.registry]).json, p);
  await new Promise((r) => setTimeout(r, 1100)); // "older than 0 days": created before this second

  const s = gc('show', '0s');
  assert.ok(s.untaggedManifests.count >= 1, JSON.stringify(s));
  const d = gc('run', '0s');
  assert.equal(d.retentionPolicy.status, 'enabled');
  assert.ok(d.untaggedManifests.count >= 1, JSON.stringify(d));
  assert.equal((await c.getManifest(untagged.digest)).status, 404, 'the untagged manifest is gone');
  assert.equal((await c.getManifest('tmp')).status, 200, 'the tagged ones stay');
  assert.equal((await c.getManifest('keep')).status, 200);
  assert.equal((await c.getManifest(byDigest.digest)).status, 404, 'the manifest whose tag was deleted is untagged too');
  assert.equal((await c.getManifest(child.digest)).status, 200, 'an untagged manifest a tagged index references stays');
  assert.ok(has(sha256(child.blobs[1])), 'and so does its layer');
  assert.ok(!has(sha256(untagged.blobs[1])), 'its layer followed');
  assert.ok(has(sha256(tagged.blobs[1])), 'the tagged image\'s layer stays');
  ok(['acr', 'config', 'retention', 'update', '-r', reg.registry, '--status', 'disabled', '--type', 'UntaggedManifests']);
});

test('race: pushes, deletes and back-to-back collections (grace 4 s) at once; every acknowledged image pulls bit-identical', async () => {
  const repos = ['race/a', 'race/b', 'race/c'];
  const clients = repos.map((r) => new OciClient(reg.url, `${reg.registry}/${r}`));
  // layers every pusher uses: each pusher HEADs them and skips the upload
  // when its repository has them, as real clients do
  const pool = [randomBuf(20000), randomBuf(20000), randomBuf(20000)];
  const acked = new Map(); // `${repo}@${digest}` -> {c, raw, blobs}
  const refused = [];
  let ackedTotal = 0; // kept or deleted since
  let stop = false;

  // a push the registry refuses (a layer collected before its manifest
  // came) is pushed again, as a client's retry would
  async function pushOnce(c, i, n) {
    const shared = [pool[n % pool.length]];
    for (const l of shared) {
      const h = await c.head(`/blobs/${sha256(l)}`);
      if (h.status === 200) continue;
      // another repository may have it: mount, else upload
      const from = `${reg.registry}/${repos[(i + 1) % repos.length]}`;
      const m = await c.req('POST', `/blobs/uploads/?mount=${sha256(l)}&from=${from}`);
      if (m.status === 201) continue;
      const r = await c.finish(c.location(m), sha256(l), l);
      assert.equal(r.status, 201, `upload: ${r.status} ${r.body}`);
    }
    return pushImage(c, `t${n}`, { layers: [randomBuf(10000 + n * 3000)], shared });
  }
  async function pusher(i) {
    const c = clients[i];
    for (let n = 0; n < 10; n++) {
      for (let attempt = 0; attempt < 10; attempt++) {
        try {
          const img = await pushOnce(c, i, n);
          if (img.r.status === 201) {
            acked.set(`${i}@${img.digest}`, { c, ...img });
            ackedTotal++;
            break;
          }
          refused.push(`${img.r.status} ${img.r.body}`);
        } catch (e) {
          refused.push(String(e.message || e));
        }
      }
    }
  }
  async function deleter() {
    while (!stop) {
      const keys = [...acked.keys()].filter((k) => !k.startsWith('skopeo'));
      if (keys.length > 4) {
        const k = keys[Math.floor(keys.length / 2)];
        const img = acked.get(k);
        acked.delete(k);
        const r = await img.c.del(`/manifests/${img.digest}`);
        assert.equal(r.status, 202, `delete: ${r.status} ${r.body}`);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  let runs = 0;
  async function collector() {
    while (!stop) {
      // mostly the default grace; every fourth run --grace 0s, which takes
      // the layers of pushes whose manifest has not come yet (then a pause,
      // so that pushes get through too)
      const zero = runs % 4 === 3;
      const { stdout } = await run(join(BUILD, 'coffer'), ['acr', 'gc', 'run', '-n', reg.registry, ...(zero ? ['--grace', '0s'] : [])], { env });
      JSON.parse(stdout);
      runs++;
      await new Promise((r) => setTimeout(r, (zero ? 1000 : 20) + Math.floor(Math.random() * 200)));
    }
  }
  // skopeo pushes a real image beside them
  const src = await buildImage({
    tag: 'v1',
    layers: [(r) => { put(r, 'etc/motd', 'gc race\n'); writeRandomFile(join(r, 'data.bin'), 4 << 20); }],
  });
  const ref = `127.0.0.1:${new URL(reg.url).port}/${reg.registry}/race/skopeo`;
  async function skopeoPusher() {
    for (let n = 0; n < 3; n++) {
      for (let attempt = 0; attempt < 6; attempt++) {
        try {
          await skopeo(['copy', '--preserve-digests', '--dest-tls-verify=false', `oci:${src}:v1`, `docker://${ref}:v${n}`]);
          acked.set(`skopeo:v${n}`, { skopeo: `v${n}` });
          ackedTotal++;
          break;
        } catch (e) {
          refused.push(`skopeo: ${e.message}`);
        }
      }
    }
  }

  const bg = [deleter(), collector()];
  await Promise.all([pusher(0), pusher(1), pusher(2), skopeoPusher()]);
  stop = true;
  await Promise.all(bg);
  gc('run', '0s');
  assert.ok(runs > 0, 'collections ran during the pushes');
  for (const why of refused)
    assert.match(why, /MANIFEST_BLOB_UNKNOWN|manifest blob unknown/i, `the only refusal a push may meet: ${why}`);
  console.log(`race: ${ackedTotal} images acknowledged (${acked.size} kept), ${refused.length} pushes refused, ${runs} collections`);
  // nearly every push gets through within its attempts: the test is about
  // them, not about refusals
  assert.ok(ackedTotal >= 25, `enough images acknowledged (${ackedTotal} of 33, refused ${refused.length}: ${refused.slice(0, 2).join(' | ').slice(0, 600)})`);
  assert.ok(acked.size >= 5, `enough left to pull (${acked.size})`);

  const s = readLayout(src, 'v1');
  for (const [k, img] of acked) {
    if (img.skopeo) {
      const dst = join(tempDir('coffer-gc-pull-'), 'layout');
      await skopeo(['copy', '--src-tls-verify=false', `docker://${ref}:${img.skopeo}`, `oci:${dst}:v1`]);
      const d = readLayout(dst, 'v1');
      assert.equal(d.digest, s.digest);
      for (const dg of [d.configDigest, ...d.layers]) assert.ok(d.blob(dg).equals(s.blob(dg)), `skopeo ${k} ${dg}`);
      continue;
    }
    const m = await img.c.getManifest(img.digest);
    assert.equal(m.status, 200, `manifest ${k}`);
    assert.ok(m.body.equals(img.raw), `manifest ${k} bit-identical`);
    for (const b of img.blobs) {
      const g = await img.c.get(`/blobs/${sha256(b)}`);
      assert.equal(g.status, 200, `blob of ${k}`);
      assert.ok(g.body.equals(b), `blob of ${k} bit-identical`);
    }
  }

  // every image deleted: a run leaves no blob object of the race's repositories
  const before = storeBytes();
  for (const img of acked.values()) if (!img.skopeo) assert.equal((await img.c.del(`/manifests/${img.digest}`)).status, 202);
  for (let n = 0; n < 3; n++) {
    const c = new OciClient(reg.url, `${reg.registry}/race/skopeo`);
    const r = await c.getManifest(`v${n}`);
    if (r.status === 200) await c.del(`/manifests/${r.headers.get('docker-content-digest')}`);
  }
  const d = gc('run', '0s');
  assert.ok(d.blobs.count > 0);
  assert.ok(storeBytes() < before, `the store shrank: ${before} -> ${storeBytes()}`);
  for (const img of acked.values())
    for (const b of img.blobs || []) assert.ok(!has(sha256(b)), 'no blob of the race is left');
  for (const dg of [s.configDigest, ...s.layers]) assert.ok(!has(dg), 'nor of skopeo\'s image');
});

test('after it all: every blob a manifest references is linked in its repository and stored', async () => {
  const unlinked = sql(reg.dataDir, 'SELECT f.repo, f.ref FROM manifest_refs f WHERE f.is_manifest = 0 AND NOT EXISTS'
    + ' (SELECT 1 FROM repo_blobs l WHERE l.registry_id = f.registry_id AND l.repo = f.repo AND l.digest = f.ref)');
  assert.deepEqual(unlinked, []);
  for (const [r, digest] of sql(reg.dataDir, 'SELECT registry_id, digest FROM blobs'))
    assert.ok(objectHas(reg.dataDir, blobKey(r, digest)), `blob ${digest} has its object`);
});

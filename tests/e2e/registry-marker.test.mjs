// registry-marker: no pushed blob is ever on disk in plaintext. A layer
// carries a unique marker string, many times over and also across a 64 KiB
// segment boundary (and the image config carries it too); every file under
// the data dir (SQLite database, its WAL, sealed blobs, uploads and their
// checkpoints) and the daemon's log is searched for it, while an upload
// holding the marker is in progress, after the image is pushed, and after a
// clean stop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { startRegistry, OciClient, sha256, descriptor, MT, SEGMENT, filesContaining, listFiles, tempDir, rangeEnd } from './lib/oci.mjs';
import { sh, put } from './lib/images.mjs';
import { metaBytes, PG } from './lib/daemons.mjs';

const MARKER = `coffer-marker-${randomBytes(12).toString('hex')}`;
let reg;
let c;
let layer;
before(async () => {
  reg = await startRegistry();
  c = new OciClient(reg.url, `${reg.registry}/marker`);
  layer = await markerLayer();
});
after(async () => { await reg?.stop(); });

// An uncompressed tar layer whose single file repeats the marker and has
// one copy straddling the plaintext offset 2 * SEGMENT of the blob.
async function markerLayer() {
  const dir = tempDir('coffer-marker-');
  const body = Buffer.alloc(3 * SEGMENT, 0x2e);
  for (let o = 100; o + MARKER.length < body.length; o += 4096) body.write(MARKER, o);
  const straddle = 2 * SEGMENT - 512 - 10; // the file's data starts at tar offset 512
  body.fill(0x2e, straddle - 64, straddle + 64);
  body.write(MARKER, straddle);
  put(join(dir, 'root'), 'marker.txt', body);
  await sh('tar', ['--format=ustar', '--owner=0', '--group=0', '--mtime=@0', '-cf', join(dir, 'layer.tar'), '-C', join(dir, 'root'), 'marker.txt']);
  const tar = readFileSync(join(dir, 'layer.tar'));
  const at = tar.indexOf(MARKER, 2 * SEGMENT - MARKER.length);
  assert.ok(at < 2 * SEGMENT && at + MARKER.length > 2 * SEGMENT, 'a marker straddles the segment boundary');
  return tar;
}

function searchAll(what) {
  const files = listFiles(reg.dataDir);
  assert.ok(files.length > 0, 'the data dir holds files');
  const extra = reg.logPath ? [reg.logPath] : [];
  const hits = filesContaining(reg.dataDir, MARKER, extra);
  assert.deepEqual(hits, [], `${what}: marker found in plaintext`);
  // the metadata too where it is not a file of the data dir (a pg_dump)
  if (PG && reg.dataDir) assert.ok(!metaBytes(reg.dataDir).includes(MARKER), `${what}: marker in the database`);
  return files;
}

test('the marker is nowhere on disk while an upload holding it is in progress', async () => {
  // The whole layer but its last bytes: full segments are sealed on disk,
  // the partial one sits in memory; the marker is in both.
  let loc = await c.startUpload();
  const part = layer.length - 3000;
  const r = await c.patch(loc, layer.subarray(0, 100000), 0);
  assert.equal(r.status, 202);
  loc = c.location(r);
  const r2 = await c.patch(loc, layer.subarray(100000, part), 100000);
  assert.equal(r2.status, 202);
  assert.ok(rangeEnd(r2.headers.get('range')) > 2 * SEGMENT);
  searchAll('mid-upload');
  const done = await c.finish(c.location(r2), sha256(layer), layer.subarray(part));
  assert.equal(done.status, 201, `${done.status} ${done.body}`);
});

test('the marker is nowhere on disk after the layer is pushed in an image and read back', async () => {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { note: MARKER } }, rootfs: { type: 'layers', diff_ids: [sha256(layer)] } }));
  await c.pushBlob(config);
  const m = {
    schemaVersion: 2, mediaType: MT.manifest,
    config: descriptor(MT.config, config), layers: [descriptor(MT.layerTar, layer)],
  };
  const put1 = await c.putManifest('v1', m);
  assert.equal(put1.status, 201, `${put1.status} ${put1.body}`);
  // A monolithic push of the same bytes into another repository too.
  await new OciClient(reg.url, `${reg.registry}/marker2`).pushBlob(layer);

  const g = await c.get(`/blobs/${sha256(layer)}`);
  assert.ok(g.body.equals(layer), 'the layer reads back');
  assert.equal((await c.get('/manifests/v1')).status, 200, 'the manifest reads back');

  const files = searchAll('after push');
  assert.ok(PG || files.some((f) => /cofferd\.db/.test(f)) || reg.daemon === undefined, 'the database was searched');
});

test('the marker is nowhere on disk after a clean stop (WAL checkpointed)', async () => {
  await reg.stop();
  searchAll('after stop');
});

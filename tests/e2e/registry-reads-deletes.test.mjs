// registry-reads-deletes: Range reads of a sealed blob (single ranges,
// across 64 KiB segment boundaries, 416 when unsatisfiable), the headers of
// HEAD on blobs and manifests, then every kind of delete and the spec's 404
// codes after it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, OciClient, sha256, descriptor, MT, SEGMENT, randomBuf, assertOciError } from './lib/oci.mjs';

let reg;
let c;
const blob = randomBuf(3 * SEGMENT + 1000);
let digest;
before(async () => {
  reg = await startRegistry();
  c = new OciClient(reg.url, `${reg.registry}/reads`);
  digest = await c.pushBlob(blob);
});
after(async () => { await reg?.stop(); });

test('GET blob returns the whole blob with its digest', async () => {
  const r = await c.get(`/blobs/${digest}`);
  assert.equal(r.status, 200);
  assert.ok(r.body.equals(blob));
  assert.equal(r.headers.get('docker-content-digest'), digest);
  assert.equal(Number(r.headers.get('content-length')), blob.length);
});

test('single Range requests answer 206 with Content-Range and exactly those bytes', async () => {
  const n = blob.length;
  const cases = [
    ['bytes=0-0', 0, 0],
    ['bytes=0-99', 0, 99],
    [`bytes=${SEGMENT - 10}-${SEGMENT + 9}`, SEGMENT - 10, SEGMENT + 9], // across a segment boundary
    [`bytes=${SEGMENT}-${3 * SEGMENT - 1}`, SEGMENT, 3 * SEGMENT - 1], // two whole segments
    [`bytes=5-${2 * SEGMENT + 77}`, 5, 2 * SEGMENT + 77], // three segments
    [`bytes=${n - 1}-${n - 1}`, n - 1, n - 1], // last byte (in the short last segment)
    [`bytes=${n - 500}-`, n - 500, n - 1], // open-ended
    ['bytes=-300', n - 300, n - 1], // suffix
    [`bytes=100-${n + 5000}`, 100, n - 1], // end past the blob is clamped
  ];
  for (const [range, a, b] of cases) {
    const r = await c.get(`/blobs/${digest}`, { headers: { Range: range } });
    assert.equal(r.status, 206, `${range}: ${r.status}`);
    assert.equal(r.headers.get('content-range'), `bytes ${a}-${b}/${n}`, range);
    assert.equal(Number(r.headers.get('content-length')), b - a + 1, range);
    assert.ok(r.body.equals(blob.subarray(a, b + 1)), `${range}: bytes`);
  }
});

test('large blobs read ahead on helpers come back exact: whole, concurrently and by ranges', async () => {
  // From 4 MiB on, a response on files is decrypted up to two 1 MiB
  // blocks ahead, on helper threads the process shares (api.c): four
  // pulls at once compete for two helpers, so some read inline, and a
  // range starts mid-segment and ends mid-block.
  const big = randomBuf(9 * 1048576 + 12345);
  const bd = await c.pushBlob(big);
  const rs = await Promise.all([0, 1, 2, 3].map(() => c.get(`/blobs/${bd}`)));
  for (const r of rs) {
    assert.equal(r.status, 200);
    assert.equal(sha256(r.body), bd);
  }
  const n = big.length;
  for (const [a, b] of [[1572867, 8 * 1048576 + 5], [SEGMENT + 1, n - 1], [0, 4 * 1048576 - 1]]) {
    const r = await c.get(`/blobs/${bd}`, { headers: { Range: `bytes=${a}-${b}` } });
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('content-range'), `bytes ${a}-${b}/${n}`);
    assert.ok(r.body.equals(big.subarray(a, b + 1)), `bytes=${a}-${b}`);
  }
});

test('unsatisfiable ranges answer 416 with Content-Range: bytes */size', async () => {
  const n = blob.length;
  for (const range of [`bytes=${n}-`, `bytes=${n + 10}-${n + 20}`]) {
    const r = await c.get(`/blobs/${digest}`, { headers: { Range: range } });
    assert.equal(r.status, 416, `${range}: ${r.status}`);
    assert.equal(r.headers.get('content-range'), `bytes */${n}`, range);
  }
});

test('HEAD blob gives length and digest and no body', async () => {
  const r = await c.head(`/blobs/${digest}`);
  assert.equal(r.status, 200);
  assert.equal(Number(r.headers.get('content-length')), blob.length);
  assert.equal(r.headers.get('docker-content-digest'), digest);
  assert.equal(r.body.length, 0);
  const missing = await c.head(`/blobs/${sha256(Buffer.from('absent'))}`);
  assert.equal(missing.status, 404);
  assert.equal(missing.body.length, 0);
});

let manifestBuf;
let manifestDigest;
let config;
test('HEAD manifest by tag and digest gives Content-Type, Content-Length, Docker-Content-Digest', async () => {
  config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  await c.pushBlob(config);
  manifestBuf = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MT.manifest,
    config: descriptor(MT.config, config), layers: [descriptor(MT.layerGzip, blob)],
  }));
  manifestDigest = sha256(manifestBuf);
  const p = await c.putManifest('t1', manifestBuf, MT.manifest);
  assert.equal(p.status, 201, `${p.status} ${p.body}`);
  assert.equal((await c.putManifest('t2', manifestBuf, MT.manifest)).status, 201);
  for (const ref of ['t1', manifestDigest]) {
    const r = await c.head(`/manifests/${ref}`, { headers: { Accept: MT.manifest } });
    assert.equal(r.status, 200, ref);
    assert.equal(r.headers.get('content-type'), MT.manifest);
    assert.equal(Number(r.headers.get('content-length')), manifestBuf.length);
    assert.equal(r.headers.get('docker-content-digest'), manifestDigest);
    assert.equal(r.body.length, 0);
  }
  assertOciError(await c.get('/manifests/nosuchtag'), 404, 'MANIFEST_UNKNOWN', 'unknown tag');
});

test('DELETE of a tag removes only that tag', async () => {
  const r = await c.del('/manifests/t2');
  assert.equal(r.status, 202, `${r.status} ${r.body}`);
  assertOciError(await c.get('/manifests/t2'), 404, 'MANIFEST_UNKNOWN', 'deleted tag');
  assert.equal((await c.get('/manifests/t1')).status, 200, 'the other tag stays');
  assert.equal((await c.get(`/manifests/${manifestDigest}`)).status, 200, 'the manifest stays');
  assert.deepEqual((await c.get('/tags/list')).json().tags, ['t1']);
});

test('DELETE of a manifest by digest removes it and its tags', async () => {
  const r = await c.del(`/manifests/${manifestDigest}`);
  assert.equal(r.status, 202, `${r.status} ${r.body}`);
  assertOciError(await c.get(`/manifests/${manifestDigest}`), 404, 'MANIFEST_UNKNOWN', 'deleted manifest');
  assertOciError(await c.get('/manifests/t1'), 404, 'MANIFEST_UNKNOWN', 'tag of a deleted manifest');
  assert.equal((await c.head(`/manifests/${manifestDigest}`)).status, 404);
  assertOciError(await c.del(`/manifests/${manifestDigest}`), 404, 'MANIFEST_UNKNOWN', 'second delete');
  // The blobs it referenced are still there until deleted themselves.
  assert.equal((await c.head(`/blobs/${digest}`)).status, 200);
});

test('DELETE of a blob removes it', async () => {
  const r = await c.del(`/blobs/${digest}`);
  assert.equal(r.status, 202, `${r.status} ${r.body}`);
  assertOciError(await c.get(`/blobs/${digest}`), 404, 'BLOB_UNKNOWN', 'deleted blob');
  assert.equal((await c.head(`/blobs/${digest}`)).status, 404);
  assertOciError(await c.del(`/blobs/${digest}`), 404, 'BLOB_UNKNOWN', 'second delete');
  assert.equal((await c.head(`/blobs/${sha256(config)}`)).status, 200, 'other blobs stay');
});

test('a blob deleted in one repository stays readable in another that has it', async () => {
  const other = new OciClient(reg.url, `${reg.registry}/reads2`);
  const b = randomBuf(1000);
  const d = await c.pushBlob(b);
  await other.pushBlob(b);
  assert.equal((await c.del(`/blobs/${d}`)).status, 202);
  assert.equal((await c.get(`/blobs/${d}`)).status, 404);
  const g = await other.get(`/blobs/${d}`);
  assert.equal(g.status, 200);
  assert.ok(g.body.equals(b));
});

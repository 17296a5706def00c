// registry-basics -- quick end-to-end checks of cofferd's OCI data plane
// over real HTTP with fetch: push (monolithic, chunked, streamed), pull
// with ranges, manifests, tags, referrers, deletes, errors, resume after
// kill -9, and no plaintext on disk. The big client scenarios (skopeo,
// podman, umoci) live in the regtest suite.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startCofferd, freshDir } from './lib/daemons.mjs';
import { objectKeys, multipartUploads, bucketObjectsContaining } from './lib/objects.mjs';

const REG = 'basics1';
let d;
before(async () => { d = await startCofferd({ args: ['--registry', REG] }); });
after(async () => { await d?.stop(); });

const sha256 = (b) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const url = (p) => `${d.url}/v2/${REG}/${p}`;

async function errCode(r) {
  const j = await r.json();
  return j.errors[0].code;
}

async function pushBlob(repo, bytes) {
  const dg = sha256(bytes);
  const r = await fetch(url(`${repo}/blobs/uploads/?digest=${dg}`), { method: 'POST', body: bytes });
  assert.equal(r.status, 201);
  assert.equal(r.headers.get('docker-content-digest'), dg);
  return dg;
}

async function pushManifest(repo, ref, obj, mt = 'application/vnd.oci.image.manifest.v1+json') {
  const body = Buffer.from(JSON.stringify(obj));
  const r = await fetch(url(`${repo}/manifests/${ref}`), { method: 'PUT', body, headers: { 'content-type': mt } });
  return { r, digest: sha256(body), body };
}

test('monolithic push, then HEAD, GET and range reads', async () => {
  const blob = randomBytes(200_000);
  const dg = await pushBlob('mono', blob);
  const h = await fetch(url(`mono/blobs/${dg}`), { method: 'HEAD' });
  assert.equal(h.status, 200);
  assert.equal(h.headers.get('content-length'), '200000');
  const g = await fetch(url(`mono/blobs/${dg}`));
  assert.deepEqual(Buffer.from(await g.arrayBuffer()), blob);
  const p = await fetch(url(`mono/blobs/${dg}`), { headers: { range: 'bytes=65530-65545' } });
  assert.equal(p.status, 206);
  assert.equal(p.headers.get('content-range'), 'bytes 65530-65545/200000');
  assert.deepEqual(Buffer.from(await p.arrayBuffer()), blob.subarray(65530, 65546));
  const bad = await fetch(url(`mono/blobs/${dg}`), { headers: { range: 'bytes=200000-' } });
  assert.equal(bad.status, 416);
  assert.equal(bad.headers.get('content-range'), 'bytes */200000');
  // not linked into another repository of the same registry
  assert.equal((await fetch(url(`other/blobs/${dg}`), { method: 'HEAD' })).status, 404);
});

test('chunked upload: 416 on a gap, status, streamed chunk, digest verified', async () => {
  const blob = randomBytes(150_000);
  const start = await fetch(url('chunk/blobs/uploads/'), { method: 'POST' });
  assert.equal(start.status, 202);
  const loc = start.headers.get('location');
  assert.match(start.headers.get('docker-upload-uuid'), /^[0-9a-f-]{36}$/);
  let r = await fetch(d.url + loc, { method: 'PATCH', body: blob.subarray(0, 70_000), headers: { 'content-range': '0-69999' } });
  assert.equal(r.status, 202);
  assert.equal(r.headers.get('range'), '0-69999');
  r = await fetch(d.url + loc, { method: 'PATCH', body: blob.subarray(70_001, 80_000), headers: { 'content-range': '70001-79999' } });
  assert.equal(r.status, 416);
  r = await fetch(d.url + loc);
  assert.equal(r.status, 204);
  assert.equal(r.headers.get('range'), '0-69999');
  // streamed (no Content-Range, chunked transfer encoding)
  const rest = blob.subarray(70_000);
  r = await fetch(d.url + loc, {
    method: 'PATCH', duplex: 'half',
    body: new ReadableStream({ start(c) { c.enqueue(rest.subarray(0, 1000)); c.enqueue(rest.subarray(1000)); c.close(); } }),
  });
  assert.equal(r.status, 202);
  assert.equal(r.headers.get('range'), '0-149999');
  r = await fetch(`${d.url}${loc}?digest=${sha256(Buffer.from('nope'))}`, { method: 'PUT' });
  assert.equal(r.status, 400);
  assert.equal(await errCode(r), 'DIGEST_INVALID');
  r = await fetch(`${d.url}${loc}?digest=${sha256(blob)}`, { method: 'PUT' });
  assert.equal(r.status, 201);
  const g = await fetch(url(`chunk/blobs/${sha256(blob)}`));
  assert.deepEqual(Buffer.from(await g.arrayBuffer()), blob);
  assert.equal((await fetch(d.url + loc)).status, 404);
});

test('manifests: missing blobs refused, tags, pagination, referrers, deletes', async () => {
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const layer = randomBytes(1000);
  const m = {
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
  };
  let { r } = await pushManifest('app', 'v1', m);
  assert.equal(r.status, 400);
  assert.equal(await errCode(r), 'MANIFEST_BLOB_UNKNOWN');
  assert.equal((await fetch(url('app/tags/list'))).status, 404); // nothing was stored
  await pushBlob('app', config);
  await pushBlob('app', layer);
  const pushed = await pushManifest('app', 'v1', m);
  assert.equal(pushed.r.status, 201);
  assert.equal(pushed.r.headers.get('docker-content-digest'), pushed.digest);
  for (const t of ['v2', 'v3', 'a0']) assert.equal((await pushManifest('app', t, m)).r.status, 201);
  const g = await fetch(url('app/manifests/v1'), { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(g.status, 200);
  assert.equal(g.headers.get('content-type'), 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(g.headers.get('docker-content-digest'), pushed.digest);
  assert.deepEqual(Buffer.from(await g.arrayBuffer()), pushed.body);
  // tags, two at a time
  let t = await fetch(url('app/tags/list?n=2'));
  assert.deepEqual(await t.json(), { name: `${REG}/app`, tags: ['a0', 'v1'] });
  assert.equal(t.headers.get('link'), `</v2/${REG}/app/tags/list?last=v1&n=2>; rel="next"`);
  t = await fetch(url('app/tags/list?n=2&last=v1'));
  assert.deepEqual((await t.json()).tags, ['v2', 'v3']);
  // an artifact that refers to the image
  const empty = Buffer.from('{}');
  await pushBlob('app', empty);
  const art = {
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: 'application/vnd.example.sbom',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: 2 },
    layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: 2 }],
    subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: pushed.digest, size: pushed.body.length },
    annotations: { 'org.example': 'yes' },
  };
  const a = await pushManifest('app', sha256(Buffer.from(JSON.stringify(art))), art);
  assert.equal(a.r.status, 201);
  assert.equal(a.r.headers.get('oci-subject'), pushed.digest);
  let ref = await fetch(url(`app/referrers/${pushed.digest}`));
  assert.equal(ref.status, 200);
  assert.equal(ref.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
  let idx = await ref.json();
  assert.equal(idx.manifests.length, 1);
  assert.equal(idx.manifests[0].digest, a.digest);
  assert.equal(idx.manifests[0].artifactType, 'application/vnd.example.sbom');
  assert.deepEqual(idx.manifests[0].annotations, { 'org.example': 'yes' });
  ref = await fetch(url(`app/referrers/${pushed.digest}?artifactType=application/x-other`));
  assert.equal(ref.headers.get('oci-filters-applied'), 'artifactType');
  assert.equal((await ref.json()).manifests.length, 0);
  // deletes: a tag, then the manifest by digest, then a blob
  assert.equal((await fetch(url('app/manifests/v3'), { method: 'DELETE' })).status, 202);
  assert.equal((await fetch(url('app/manifests/v3'))).status, 404);
  assert.equal((await fetch(url(`app/manifests/${a.digest}`), { method: 'DELETE' })).status, 202);
  assert.equal((await fetch(url(`app/manifests/${a.digest}`))).status, 404);
  assert.equal((await fetch(url(`app/blobs/${sha256(layer)}`), { method: 'DELETE' })).status, 202);
  const gone = await fetch(url(`app/blobs/${sha256(layer)}`));
  assert.equal(gone.status, 404);
  assert.equal(await errCode(gone), 'BLOB_UNKNOWN');
});

test('an index needs its child manifests in the repository', async () => {
  const config = Buffer.from('{"os":"linux"}');
  await pushBlob('multi', config);
  const children = [];
  for (const arch of ['amd64', 'arm64']) {
    const layer = randomBytes(100);
    await pushBlob('multi', layer);
    const m = {
      schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: sha256(layer), size: 100 }],
    };
    const body = Buffer.from(JSON.stringify(m));
    children.push({ mediaType: m.mediaType, digest: sha256(body), size: body.length, platform: { architecture: arch, os: 'linux' }, m });
  }
  const list = {
    schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
    manifests: children.map(({ m, ...d }) => d),
  };
  const lt = 'application/vnd.docker.distribution.manifest.list.v2+json';
  let p = await pushManifest('multi', 'latest', list, lt);
  assert.equal(p.r.status, 400);
  assert.equal(await errCode(p.r), 'MANIFEST_BLOB_UNKNOWN');
  for (const c of children) {
    const q = await pushManifest('multi', c.digest, c.m, c.mediaType);
    assert.equal(q.r.status, 201);
  }
  p = await pushManifest('multi', 'latest', list, lt);
  assert.equal(p.r.status, 201);
  const h = await fetch(url('multi/manifests/latest'), { method: 'HEAD' });
  assert.equal(h.status, 200);
  assert.equal(h.headers.get('content-type'), lt);
  assert.equal(h.headers.get('docker-content-digest'), p.digest);
  assert.equal(Number(h.headers.get('content-length')), p.body.length);
  // an old client that accepts only image manifests gets linux/amd64
  const old = await fetch(url('multi/manifests/latest'), { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
  assert.equal(old.headers.get('content-type'), 'application/vnd.docker.distribution.manifest.v2+json');
  assert.equal(old.headers.get('docker-content-digest'), children[0].digest);
  await old.arrayBuffer();
  const both = await fetch(url('multi/manifests/latest'), { headers: { accept: `${lt}, application/vnd.docker.distribution.manifest.v2+json` } });
  assert.equal(both.headers.get('docker-content-digest'), p.digest);
  await both.arrayBuffer();
  // a manifest pushed by a digest it does not have
  const wrong = await pushManifest('multi', sha256(Buffer.from('x')), children[0].m, children[0].mediaType);
  assert.equal(wrong.r.status, 400);
  assert.equal(await errCode(wrong.r), 'DIGEST_INVALID');
});

test('malformed requests get the spec errors', async () => {
  let r = await fetch(url('app/blobs/sha256:xyz'));
  assert.equal(r.status, 400);
  assert.equal(await errCode(r), 'DIGEST_INVALID');
  r = await fetch(`${d.url}/v2/${REG}/Bad_Name/tags/list`);
  assert.equal(r.status, 400);
  assert.equal(await errCode(r), 'NAME_INVALID');
  r = await fetch(`${d.url}/v2/nosuchregistry/app/tags/list`);
  assert.equal(r.status, 404);
  assert.equal(await errCode(r), 'NAME_UNKNOWN');
  r = await fetch(url('app/blobs/uploads/00000000-0000-4000-8000-000000000000'));
  assert.equal(r.status, 404);
  assert.equal(await errCode(r), 'BLOB_UPLOAD_UNKNOWN');
  r = await fetch(url('app/manifests/v9'), { method: 'PUT', body: 'not json', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(r.status, 400);
  assert.equal(await errCode(r), 'MANIFEST_INVALID');
  r = await fetch(url('app/manifests/v9'), { method: 'PUT', body: Buffer.alloc(4 * 1024 * 1024 + 1, 32) });
  assert.equal(r.status, 413);
  assert.equal((await fetch(url('app/manifests/v9'))).status, 404);
});

test('an upload resumes after kill -9 from its durable offset', async () => {
  const dataDir = freshDir();
  let c = await startCofferd({ dataDir, args: ['--registry', REG] });
  const blob = randomBytes(300_000);
  const s = await fetch(`${c.url}/v2/${REG}/resume/blobs/uploads/`, { method: 'POST' });
  const loc = s.headers.get('location');
  let r = await fetch(c.url + loc, { method: 'PATCH', body: blob.subarray(0, 100_000), headers: { 'content-range': '0-99999' } });
  assert.equal(r.status, 202);
  await c.kill();
  c = await startCofferd({ dataDir, args: ['--registry', REG] });
  try {
    r = await fetch(c.url + loc);
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('range'), '0-99999');
    r = await fetch(`${c.url}${loc}?digest=${sha256(blob)}`, { method: 'PUT', body: blob.subarray(100_000), headers: { 'content-range': '100000-299999' } });
    assert.equal(r.status, 201);
    const g = await fetch(`${c.url}/v2/${REG}/resume/blobs/${sha256(blob)}`);
    assert.deepEqual(Buffer.from(await g.arrayBuffer()), blob);
  } finally {
    await c.stop();
  }
});

test('an abandoned upload expires after the idle timeout', async () => {
  const c = await startCofferd({ args: ['--registry', REG, '--upload-ttl', '1'] });
  try {
    const s = await fetch(`${c.url}/v2/${REG}/idle/blobs/uploads/`, { method: 'POST' });
    const loc = s.headers.get('location');
    const uuid = s.headers.get('docker-upload-uuid');
    let r = await fetch(c.url + loc, { method: 'PATCH', body: randomBytes(1000) });
    assert.equal(r.status, 202);
    // the janitor runs every second; poll (no timing assertion, just a bound)
    let status = 202;
    for (let i = 0; i < 100 && status !== 404; i++) {
      await new Promise((res) => setTimeout(res, 100));
      status = (await fetch(c.url + loc)).status;
    }
    assert.equal(status, 404);
    const left = [...files(c.dataDir), ...objectKeys(c.dataDir),
      ...multipartUploads(c.dataDir).map((u) => u.key)].filter((f) => f.includes(uuid));
    assert.deepEqual(left, []);
  } finally {
    await c.stop();
  }
});

function* files(dir) {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) yield* files(p); else yield p;
  }
}

test('a marker pushed in a blob and a manifest is nowhere on disk', async () => {
  const marker = 'COFFER-MARKER-' + randomBytes(8).toString('hex');
  const blob = Buffer.concat([randomBytes(70_000), Buffer.from(marker), randomBytes(10)]);
  await pushBlob('marker', blob);
  // an interrupted upload too (its tail sits in the checkpoint)
  const s = await fetch(url('marker/blobs/uploads/'), { method: 'POST' });
  await fetch(d.url + s.headers.get('location'), { method: 'PATCH', body: Buffer.from(marker) });
  for (const f of files(d.dataDir)) {
    assert.equal(readFileSync(f).includes(marker), false, `marker found in ${f}`);
  }
  assert.deepEqual(bucketObjectsContaining(d.dataDir, marker), [], 'marker found in the bucket');
});

test('cofferd stops on SIGTERM with exit code 0', async () => {
  const res = await d.stop();
  assert.equal(res.code, 0);
});

// registry-errors: malformed requests get the spec's status and error code
// and change nothing: the repository reads the same before and after.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startRegistry, OciClient, sha256, descriptor, MT, SEGMENT, randomBuf, assertOciError, rangeEnd, TARGET } from './lib/oci.mjs';

let reg;
let c;
let config;
before(async () => {
  reg = await startRegistry();
  c = new OciClient(reg.url, `${reg.registry}/errs`);
  config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  await c.pushBlob(config);
});
after(async () => { await reg?.stop(); });

const absent = sha256(Buffer.from('never pushed'));

function manifestOf(layers) {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.manifest, config: descriptor(MT.config, config), layers }));
}

async function assertNoTags() {
  const r = await c.get('/tags/list');
  if (r.status === 200) assert.deepEqual(r.json().tags ?? [], [], 'no tag was created');
  else assertOciError(r, 404, 'NAME_UNKNOWN', 'tags of an empty repository');
}

test('bad digests: malformed or mismatched, on blob reads and upload completion', async () => {
  for (const bad of ['sha256:xyz', 'sha256:' + 'a'.repeat(63), 'md5:' + 'a'.repeat(32), 'sha256:' + 'A'.repeat(64)]) {
    const r = await c.get(`/blobs/${bad}`);
    assert.ok([400, 404].includes(r.status), `GET blob ${bad}: ${r.status}`);
    assertOciError(r, r.status, ['DIGEST_INVALID', 'BLOB_UNKNOWN'], `GET blob ${bad}`);
  }
  const data = randomBuf(1000);
  // PUT completing an upload with a malformed digest.
  const loc = await c.startUpload();
  assertOciError(await c.finish(loc, 'sha256:nothex', data), 400, 'DIGEST_INVALID', 'PUT ?digest=sha256:nothex');
  // PUT with a well-formed digest of other content.
  const loc2 = await c.startUpload();
  assertOciError(await c.finish(loc2, sha256(Buffer.from('other')), data), 400, 'DIGEST_INVALID', 'PUT with a mismatched digest');
  assert.equal((await c.head(`/blobs/${sha256(data)}`)).status, 404, 'no blob under the real digest');
  assert.equal((await c.head(`/blobs/${sha256(Buffer.from('other'))}`)).status, 404, 'no blob under the claimed digest');
  // Monolithic POST ?digest= with a mismatched digest.
  const r = await c.req('POST', `/blobs/uploads/?digest=${sha256(Buffer.from('other'))}`, {
    headers: { 'Content-Type': 'application/octet-stream' }, body: data,
  });
  assertOciError(r, 400, 'DIGEST_INVALID', 'monolithic POST with a mismatched digest');
  assert.equal((await c.head(`/blobs/${sha256(data)}`)).status, 404);
  // sha512 is a valid algorithm: a correct sha512 digest completes.
  const { createHash } = await import('node:crypto');
  const d512 = 'sha512:' + createHash('sha512').update(data).digest('hex');
  const loc3 = await c.startUpload();
  const ok = await c.finish(loc3, d512, data);
  assert.equal(ok.status, 201, `sha512 upload: ${ok.status} ${ok.body}`);
  const g = await c.get(`/blobs/${d512}`);
  assert.equal(g.status, 200);
  assert.ok(g.body.equals(data));
});

test('bad names: invalid repository names answer NAME_INVALID and create nothing', async () => {
  for (const name of [`${reg.registry}/UPPER`, `${reg.registry}/a..b`, `${reg.registry}/-lead`, `${reg.registry}/trail-`, `${reg.registry}/a//b`]) {
    const r = await c.req('POST', `/v2/${name}/blobs/uploads/`);
    assertOciError(r, 400, 'NAME_INVALID', `POST upload to ${name}`);
  }
  // A tag that breaks the tag grammar.
  const m = manifestOf([]);
  for (const tag of ['-bad', 'x'.repeat(129), 'a+b']) {
    const r = await c.putManifest(tag, m, MT.manifest);
    assert.equal(r.status, 400, `PUT manifest tag ${tag}: ${r.status}`);
    assertOciError(r, 400, ['MANIFEST_INVALID', 'TAG_INVALID', 'NAME_INVALID'], `tag ${tag}`);
  }
  await assertNoTags();
});

// The distribution spec's conformance suite asks GET of ".INVALID_MANIFEST_NAME"
// (neither a tag nor a digest) for 404, as CNCF Distribution answers: no
// manifest can be there. Only a PUT names a tag it means to create, so only
// a PUT answers TAG_INVALID.
test('a reference that is neither a tag nor a digest: 404 MANIFEST_UNKNOWN on GET, HEAD and DELETE; PUT keeps 400 TAG_INVALID', async () => {
  for (const ref of ['.INVALID_MANIFEST_NAME', '-lead', 'a+b', 'x'.repeat(129)]) {
    const g = await c.get(`/manifests/${ref}`);
    assert.equal(g.status, 404, `GET manifests/${ref}: ${g.status} ${g.body}`);
    if (TARGET === 'cofferd') assertOciError(g, 404, 'MANIFEST_UNKNOWN', `GET manifests/${ref}`);
    const h = await c.head(`/manifests/${ref}`);
    assert.equal(h.status, 404, `HEAD manifests/${ref}: ${h.status}`);
    const d = await c.req('DELETE', `/manifests/${ref}`);
    assert.equal(d.status, 404, `DELETE manifests/${ref}: ${d.status} ${d.body}`);
    if (TARGET === 'cofferd') assertOciError(d, 404, 'MANIFEST_UNKNOWN', `DELETE manifests/${ref}`);
  }
  const p = await c.putManifest('.INVALID_MANIFEST_NAME', manifestOf([]), MT.manifest);
  if (TARGET === 'cofferd') assertOciError(p, 400, 'TAG_INVALID', 'PUT manifests/.INVALID_MANIFEST_NAME');
  else assert.ok(p.status >= 400, `PUT manifests/.INVALID_MANIFEST_NAME: ${p.status}`);
  await assertNoTags();
});

test('an oversized manifest (> 4 MiB) is refused and nothing is stored', async () => {
  const pad = 'x'.repeat((4 << 20) + 100);
  const big = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.manifest, config: descriptor(MT.config, config), layers: [], annotations: { pad } }));
  const r = await c.putManifest('big', big, MT.manifest);
  assert.ok([400, 413].includes(r.status), `oversized manifest: ${r.status}`);
  assertOciError(r, r.status, ['MANIFEST_INVALID', 'SIZE_INVALID'], 'oversized manifest');
  assertOciError(await c.get('/manifests/big'), 404, 'MANIFEST_UNKNOWN', 'the oversized manifest');
  assert.equal((await c.head(`/manifests/${sha256(big)}`)).status, 404);
  await assertNoTags();
});

test('malformed manifests: not JSON, wrong schema, digest reference mismatch', async () => {
  assertOciError(await c.putManifest('t', Buffer.from('{not json'), MT.manifest), 400, 'MANIFEST_INVALID', 'not JSON');
  assertOciError(await c.putManifest('t', Buffer.from('{"schemaVersion":2,"mediaType":"' + MT.manifest + '"}'), MT.manifest),
    400, 'MANIFEST_INVALID', 'no config');
  const m = manifestOf([]);
  assertOciError(await c.putManifest(sha256(Buffer.from('something else')), m, MT.manifest), 400, 'DIGEST_INVALID', 'PUT by a digest that does not match');
  await assertNoTags();
});

test('wrong Content-Range (a gap or an overlap) answers 416 and keeps the upload', async () => {
  const data = randomBuf(SEGMENT + 500);
  let loc = await c.startUpload();
  const r1 = await c.patch(loc, data.subarray(0, 1000), 0);
  assert.equal(r1.status, 202);
  loc = c.location(r1);
  const gap = await c.patch(loc, data.subarray(2000, 3000), 2000);
  assert.equal(gap.status, 416, `gap: ${gap.status} ${gap.body}`);
  const overlap = await c.patch(loc, data.subarray(500, 1500), 500);
  assert.equal(overlap.status, 416, `overlap: ${overlap.status} ${overlap.body}`);
  const st = await c.get(loc);
  assert.equal(st.status, 204);
  assert.equal(rangeEnd(st.headers.get('range')), 1000, 'offset unchanged');
  // Body longer than the Content-Range declares.
  const long = await c.req('PATCH', loc, {
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '1000-1099' },
    body: data.subarray(1000, 1300),
  });
  assert.ok([400, 416].includes(long.status), `body longer than declared: ${long.status}`);
  assert.equal(rangeEnd((await c.get(loc)).headers.get('range')), 1000, 'offset unchanged after the long body');
  // The upload still completes correctly.
  const r2 = await c.patch(loc, data.subarray(1000), 1000);
  assert.equal(r2.status, 202);
  const done = await c.finish(c.location(r2), sha256(data));
  assert.equal(done.status, 201, `${done.status} ${done.body}`);
  assert.ok((await c.get(`/blobs/${sha256(data)}`)).body.equals(data));
});

test('unknown uploads answer 404 BLOB_UPLOAD_UNKNOWN on every verb', async () => {
  const loc = `/blobs/uploads/${randomUUID()}`;
  assertOciError(await c.get(loc), 404, 'BLOB_UPLOAD_UNKNOWN', 'GET');
  assertOciError(await c.patch(c.url(loc), Buffer.from('abc'), 0), 404, 'BLOB_UPLOAD_UNKNOWN', 'PATCH');
  assertOciError(await c.finish(c.url(loc), sha256(Buffer.from('abc')), Buffer.from('abc')), 404, 'BLOB_UPLOAD_UNKNOWN', 'PUT');
  assertOciError(await c.del(loc), 404, 'BLOB_UPLOAD_UNKNOWN', 'DELETE');
  // A cancelled upload is unknown afterwards.
  const l2 = await c.startUpload();
  assert.equal((await c.patch(l2, Buffer.from('abc'), 0)).status, 202);
  assert.equal((await c.del(l2)).status, 204);
  assertOciError(await c.get(l2), 404, 'BLOB_UPLOAD_UNKNOWN', 'GET after cancel');
  // An upload of one repository is unknown in another.
  const l3 = await c.startUpload();
  const other = new URL(l3);
  other.pathname = other.pathname.replace(`/${reg.registry}/errs/`, `/${reg.registry}/errs-other/`);
  assertOciError(await c.get(other.toString()), 404, 'BLOB_UPLOAD_UNKNOWN', 'upload via another repository');
});

test('unknown blobs, manifests and registries answer 404 with their codes', async () => {
  assertOciError(await c.get(`/blobs/${absent}`), 404, 'BLOB_UNKNOWN', 'blob');
  assertOciError(await c.get(`/manifests/${absent}`), 404, 'MANIFEST_UNKNOWN', 'manifest by digest');
  assertOciError(await c.get('/v2/zzzzznoregistry/app/manifests/v1'), 404, ['NAME_UNKNOWN', 'MANIFEST_UNKNOWN'], 'unknown registry');
  assertOciError(await c.get('/v2/zzzzznoregistry/app/tags/list'), 404, 'NAME_UNKNOWN', 'tags of an unknown registry');
});

// 400, the status CNCF Distribution answers and the OCI conformance suite expects
test('a manifest referencing a missing blob answers 400 MANIFEST_BLOB_UNKNOWN', async () => {
  const m = manifestOf([{ mediaType: MT.layerGzip, digest: absent, size: 12 }]);
  assertOciError(await c.putManifest('v1', m, MT.manifest), 400, 'MANIFEST_BLOB_UNKNOWN', 'missing layer');
  assertOciError(await c.get('/manifests/v1'), 404, 'MANIFEST_UNKNOWN', 'tag after refused PUT');
  // An index naming a child manifest that is not there.
  const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: [{ mediaType: MT.manifest, digest: absent, size: 100 }] }));
  const r = await c.putManifest('idx', idx, MT.index);
  assertOciError(r, 400, ['MANIFEST_BLOB_UNKNOWN', 'MANIFEST_UNKNOWN'], 'missing child manifest');
  const tags = await c.get('/tags/list');
  if (tags.status === 200) assert.deepEqual(tags.json().tags ?? [], []);
});

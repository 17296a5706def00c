// registry-push-modes: the other ways clients push, and discovery.
// Monolithic POST ?digest=, streamed PATCH without Content-Range (how
// podman uploads), cross-repository mount (skopeo's hot path) and its
// fallback, registries isolated from each other, tags list and catalog
// pagination with Link headers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, OciClient, sha256, descriptor, MT, SEGMENT, randomBuf, rangeEnd, TARGET } from './lib/oci.mjs';

let reg;
let c;
const REG2 = 'demo2';
before(async () => {
  reg = await startRegistry({ args: TARGET === 'cofferd' ? ['--registry', REG2] : [] });
  c = new OciClient(reg.url, `${reg.registry}/push`);
});
after(async () => { await reg?.stop(); });

test('monolithic POST ?digest= stores the blob in one request', async () => {
  const data = randomBuf(70000);
  const r = await c.req('POST', `/blobs/uploads/?digest=${sha256(data)}`, {
    headers: { 'Content-Type': 'application/octet-stream' }, body: data,
  });
  assert.equal(r.status, 201, `${r.status} ${r.body}`);
  assert.equal(r.headers.get('docker-content-digest'), sha256(data));
  assert.ok(r.headers.get('location'));
  assert.ok((await c.get(`/blobs/${sha256(data)}`)).body.equals(data));
});

test('streamed PATCH without Content-Range (chunked transfer) then PUT', async () => {
  const data = randomBuf(3 * SEGMENT + 999);
  let loc = await c.startUpload();
  // Two streamed PATCHes, the first with Transfer-Encoding: chunked.
  const stream = new ReadableStream({
    start(ctl) { ctl.enqueue(data.subarray(0, 100000)); ctl.enqueue(data.subarray(100000, 150000)); ctl.close(); },
  });
  let r = await fetch(loc, { method: 'PATCH', body: stream, duplex: 'half', headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(r.status, 202, `streamed PATCH: ${r.status}`);
  assert.equal(rangeEnd(r.headers.get('range')) <= 150000, true);
  loc = new URL(r.headers.get('location'), reg.url).toString();
  const r2 = await c.patch(loc, data.subarray(150000));
  assert.equal(r2.status, 202, `second PATCH: ${r2.status} ${r2.body}`);
  const st = await c.get(c.location(r2));
  assert.equal(st.status, 204);
  assert.ok(rangeEnd(st.headers.get('range')) <= data.length);
  const done = await c.finish(c.location(r2), sha256(data));
  assert.equal(done.status, 201, `${done.status} ${done.body}`);
  r = await fetch(`${reg.url}/v2/${c.name}/blobs/${sha256(data)}`);
  assert.ok(Buffer.from(await r.arrayBuffer()).equals(data));
});

test('cross-repository mount: 201 when the source has the blob, a new upload (202) when not', async () => {
  const data = randomBuf(5000);
  const d = await c.pushBlob(data);
  const other = new OciClient(reg.url, `${reg.registry}/mounted`);
  const m = await other.req('POST', `/blobs/uploads/?mount=${d}&from=${encodeURIComponent(c.name)}`);
  assert.equal(m.status, 201, `mount: ${m.status} ${m.body}`);
  assert.equal(m.headers.get('docker-content-digest'), d);
  assert.ok((await other.get(`/blobs/${d}`)).body.equals(data));

  const absent = sha256(Buffer.from('not anywhere'));
  const f = await other.req('POST', `/blobs/uploads/?mount=${absent}&from=${encodeURIComponent(c.name)}`);
  assert.equal(f.status, 202, `fallback: ${f.status} ${f.body}`);
  assert.ok(f.headers.get('location'), 'an upload to continue with');
  // From a repository that does not hold it (the blob exists elsewhere in the registry).
  const g = await other.req('POST', `/blobs/uploads/?mount=${d}&from=${encodeURIComponent(`${reg.registry}/nothere`)}`);
  assert.ok([201, 202].includes(g.status), `mount from an unrelated repository: ${g.status}`);
});

test('registries are isolated: no mount or read across registries', { skip: TARGET !== 'cofferd' && 'one registry only' }, async () => {
  const data = randomBuf(4000);
  const d = await c.pushBlob(data);
  const foreign = new OciClient(reg.url, `${REG2}/app`);
  assert.equal((await foreign.head(`/blobs/${d}`)).status, 404);
  const m = await foreign.req('POST', `/blobs/uploads/?mount=${d}&from=${encodeURIComponent(c.name)}`);
  assert.equal(m.status, 202, `cross-registry mount must fall back to an upload: ${m.status}`);
  assert.equal((await foreign.head(`/blobs/${d}`)).status, 404, 'still not readable in the other registry');
  // The same content pushed to the second registry is stored there on its own.
  await foreign.pushBlob(data);
  assert.ok((await foreign.get(`/blobs/${d}`)).body.equals(data));
});

test('tags list paginates with n and last, with a Link header to the next page', async () => {
  const t = new OciClient(reg.url, `${reg.registry}/tagged`);
  const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  await t.pushBlob(config);
  const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.manifest, config: descriptor(MT.config, config), layers: [] }));
  const tags = ['v1', 'v2', 'v3', 'latest', 'a-1', 'b_2'];
  for (const tag of tags) assert.equal((await t.putManifest(tag, m, MT.manifest)).status, 201);
  const sorted = [...tags].sort();
  const all = await t.get('/tags/list');
  assert.deepEqual(all.json(), { name: t.name, tags: sorted });

  const p1 = await t.get('/tags/list?n=4');
  assert.equal(p1.status, 200);
  assert.deepEqual(p1.json().tags, sorted.slice(0, 4));
  const link = p1.headers.get('link');
  assert.match(link || '', /^<[^>]*\/v2\/[^>]*tags\/list\?[^>]*>; rel="next"$/, `Link: ${link}`);
  const next = link.slice(1, link.indexOf('>'));
  const p2 = await t.get(new URL(next, reg.url).toString());
  assert.deepEqual(p2.json().tags, sorted.slice(4));
  assert.equal(p2.headers.get('link'), null, 'no next page after the last');

  const p3 = await t.get(`/tags/list?n=2&last=${sorted[1]}`);
  assert.deepEqual(p3.json().tags, sorted.slice(2, 4));
  const p0 = await t.get('/tags/list?n=0');
  assert.equal(p0.status, 200);
  assert.deepEqual(p0.json().tags ?? [], []);
});

test('catalog lists repositories with pagination', async () => {
  const all = await c.get('/v2/_catalog');
  assert.equal(all.status, 200, `${all.status} ${all.body}`);
  const repos = all.json().repositories;
  for (const r of [`${reg.registry}/push`, `${reg.registry}/mounted`, `${reg.registry}/tagged`]) assert.ok(repos.includes(r), `${r} in ${repos}`);
  assert.deepEqual(repos, [...repos].sort());
  const p1 = await c.get('/v2/_catalog?n=1');
  assert.equal(p1.json().repositories.length, 1);
  assert.match(p1.headers.get('link') || '', /rel="next"/);
});

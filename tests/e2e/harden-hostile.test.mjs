// harden-hostile: hostile requests over raw sockets (node:net), where fetch
// would refuse to send them or would fix them up. Each gets the right status
// and OCI error code, and changes nothing: the catalog, the tags and the
// files under the data dir are the same before and after.
//
// Covers path traversal in names (.., %2F, %2e%2e), a 64 KiB URL and huge
// headers, negative/overlapping/overflowing Content-Range, a body longer than
// its Content-Range, mismatched digests, a manifest nested 10000 levels deep,
// invalid UTF-8 in a manifest, and slow clients (idle connections are closed
// after --idle-timeout, and 200 of them do not stop a normal request).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { OciClient, MT, sha256, listFiles, rangeEnd } from './lib/oci.mjs';
import { startServer } from './lib/harden.mjs';
import { objectKeys, multipartUploads } from './lib/objects.mjs';

let srv;
let c;
let manifest;
before(async () => {
  srv = await startServer({ args: ['--idle-timeout', '2'] });
  c = new OciClient(() => srv.url, `${srv.registry}/app`);
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const layer = Buffer.from('layer bytes');
  await c.pushBlob(config);
  await c.pushBlob(layer);
  manifest = {
    schemaVersion: 2, mediaType: MT.manifest,
    config: { mediaType: MT.config, digest: sha256(config), size: config.length },
    layers: [{ mediaType: MT.layerTar, digest: sha256(layer), size: layer.length }],
  };
  const r = await c.putManifest('v1', manifest);
  assert.equal(r.status, 201);
});
after(async () => { await srv?.stop(); });

// One request on a fresh connection; resolves with the parsed response once
// the server closes (Connection: close) or after `wait` ms.
function raw(req, { wait = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect(srv.d.port, '127.0.0.1');
    const chunks = [];
    const timer = setTimeout(() => s.destroy(), wait);
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const sep = all.indexOf('\r\n\r\n');
      const head = (sep < 0 ? all : all.subarray(0, sep)).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      const headers = {};
      for (const l of head.split('\r\n').slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: m ? Number(m[1]) : 0, headers, body: sep < 0 ? Buffer.alloc(0) : all.subarray(sep + 4), raw: all });
    });
    s.write(req, (err) => { if (err) reject(err); });
  });
}

function request(method, path, { headers = {}, body } = {}) {
  const b = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
  const h = { Host: '127.0.0.1', Connection: 'close', ...headers };
  if (body !== undefined && !('Content-Length' in h)) h['Content-Length'] = String(b.length);
  const head = `${method} ${path} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  return raw(Buffer.concat([Buffer.from(head, 'latin1'), b]));
}

function ociCode(r) {
  try { return JSON.parse(r.body.toString()).errors[0].code; } catch { return null; }
}

function assertError(r, status, codes, what) {
  const want = Array.isArray(status) ? status : [status];
  assert.ok(want.includes(r.status), `${what}: status ${r.status} not in ${want}: ${r.raw.subarray(0, 400)}`);
  if (codes) {
    const cs = Array.isArray(codes) ? codes : [codes];
    assert.ok(cs.includes(ociCode(r)), `${what}: code ${ociCode(r)} not in ${cs}: ${r.body}`);
  }
}

// Everything a client or the disk can see.
async function snapshot() {
  const cat = await request('GET', '/v2/_catalog');
  const tags = await request('GET', `/v2/${c.name}/tags/list`);
  assert.equal(tags.status, 200);
  const files = listFiles(srv.dataDir).filter((f) => !/cofferd\.db(-wal|-shm)?$/.test(f)).sort();
  // the objects, where they are not files of the data dir (a bucket)
  const objects = [...objectKeys(srv.dataDir), ...multipartUploads(srv.dataDir).map((u) => `${u.key} (multipart)`)];
  return { catalog: cat.body.toString(), tags: tags.body.toString(), files, objects };
}

async function unchanged(fn) {
  const before = await snapshot();
  await fn();
  assert.deepEqual(await snapshot(), before, 'state unchanged');
}

test('path traversal in repository names: NAME_INVALID, nothing written', async () => {
  const body = JSON.stringify(manifest);
  const names = [
    'demo1/../app', 'demo1/app/..', 'demo1/%2e%2e/app', 'demo1/app%2F..%2F..%2Fetc',
    'demo1/%2E%2E%2Fkeys', 'demo1/..%2f..%2fkeys', 'demo1/app/%2e%2e/%2e%2e/x', 'demo1/./app',
    '..%2F..%2Fdemo1/app', 'demo1/app%00x',
  ];
  await unchanged(async () => {
    for (const n of names) {
      for (const [method, path, opts] of [
        ['PUT', `/v2/${n}/manifests/evil`, { headers: { 'Content-Type': MT.manifest }, body }],
        ['POST', `/v2/${n}/blobs/uploads/`, { body: '' }],
        ['GET', `/v2/${n}/tags/list`, {}],
      ]) {
        const r = await request(method, path, opts);
        // NOT_FOUND: the decoded path is no endpoint at all (e.g. a NUL cuts it)
        assertError(r, [400, 404], ['NAME_INVALID', 'NAME_UNKNOWN', 'NOT_FOUND'], `${method} ${path}`);
      }
    }
  });
  // the keys and the database are not served whatever the path
  for (const p of ['/v2/demo1/..%2F..%2Fkeys/blobs/srk', '/../keys/srk', '/v2/../../cofferd.db']) {
    const r = await request('GET', p);
    assert.ok(r.status >= 400, `${p}: ${r.status}`);
    assert.ok(!r.body.includes(Buffer.from('SQLite format')), `${p} served the database`);
  }
});

test('a 64 KiB URL and oversized headers are refused; the server keeps serving', async () => {
  await unchanged(async () => {
    const long = 'a'.repeat(64 * 1024);
    const r1 = await request('GET', `/v2/demo1/${long}/tags/list`);
    assertError(r1, [400, 414], r1.status === 400 ? 'NAME_INVALID' : null, '64 KiB URL');
    const r2 = await request('PUT', `/v2/demo1/app/manifests/${long}`, { headers: { 'Content-Type': MT.manifest }, body: JSON.stringify(manifest) });
    assertError(r2, [400, 414], r2.status === 400 ? 'TAG_INVALID' : null, '64 KiB tag');
    const r3 = await request('GET', '/v2/', { headers: { 'X-Junk': 'x'.repeat(512 * 1024) } });
    assertError(r3, [413, 431, 400], null, '512 KiB header');
    const many = {};
    for (let i = 0; i < 5000; i++) many[`X-H${i}`] = 'y'.repeat(60);
    const r4 = await request('GET', '/v2/', { headers: many });
    assertError(r4, [413, 431, 400], null, '5000 headers');
  });
  assert.equal((await request('GET', '/v2/')).status, 200);
});

// On a connection of its own, like every request here: a pooled keep-alive
// connection idle past the server's 2 s --idle-timeout may be closed by the
// server just as the client reuses it ("other side closed"), which slower
// steps (S3) made happen.
async function newUpload() {
  const r = await request('POST', `/v2/${c.name}/blobs/uploads/`);
  assert.equal(r.status, 202, `POST upload: ${r.raw.subarray(0, 300)}`);
  const loc = new URL(r.headers.location, srv.url);
  return loc.pathname + loc.search;
}

async function uploadLength(path) {
  const r = await request('GET', path);
  assert.equal(r.status, 204, `upload status: ${r.status}`);
  return r.headers.range === '0-0' ? 0 : rangeEnd(r.headers.range);
}

test('negative, overlapping, reversed and overflowing Content-Range: 416, upload unchanged', async () => {
  const up = await newUpload();
  const first = Buffer.alloc(100, 1);
  const r0 = await request('PATCH', up, { headers: { 'Content-Range': '0-99', 'Content-Type': 'application/octet-stream' }, body: first });
  assert.equal(r0.status, 202);
  const ranges = [
    ['-5-94', 100], ['100-18446744073709551615', 100], ['0-18446744073709551615', 100],
    ['100-18446744073709551616', 100], ['18446744073709551615-18446744073709551615', 1],
    ['50-149', 100], ['0-99', 100], ['199-100', 100], ['100-', 100], ['bytes=0-99', 100], ['bytes 50-149', 100],
    ['100-199/200', 100], ['1e2-199', 100], ['+100-199', 100], ['0x64-199', 100], ['100--199', 100],
    ['99999999999999999999999-1', 100],
  ];
  for (const [cr, n] of ranges) {
    const r = await request('PATCH', up, { headers: { 'Content-Range': cr, 'Content-Type': 'application/octet-stream' }, body: Buffer.alloc(n, 2) });
    assertError(r, [400, 416], 'BLOB_UPLOAD_INVALID', `Content-Range ${cr}`);
    assert.equal(await uploadLength(up), 100, `after Content-Range ${cr}`);
  }
  // the upload still continues and completes with the right content
  const rest = Buffer.alloc(50, 3);
  const r1 = await request('PATCH', up, { headers: { 'Content-Range': '100-149', 'Content-Type': 'application/octet-stream' }, body: rest });
  assert.equal(r1.status, 202);
  const all = Buffer.concat([first, rest]);
  const loc = new URL(r1.headers.location, srv.url);
  loc.searchParams.set('digest', sha256(all));
  const fin = await request('PUT', loc.pathname + loc.search, { body: '' });
  assert.equal(fin.status, 201, `complete: ${fin.raw.subarray(0, 300)}`);
});

test('a body longer or shorter than its Content-Range: 416, upload unchanged', async () => {
  const up = await newUpload();
  const r1 = await request('PATCH', up, { headers: { 'Content-Range': '0-9', 'Content-Type': 'application/octet-stream' }, body: Buffer.alloc(20, 7) });
  assertError(r1, 416, 'BLOB_UPLOAD_INVALID', 'body longer than Content-Range');
  assert.equal(await uploadLength(up), 0);
  const r2 = await request('PATCH', up, { headers: { 'Content-Range': '0-99', 'Content-Type': 'application/octet-stream' }, body: Buffer.alloc(20, 7) });
  assertError(r2, 416, 'BLOB_UPLOAD_INVALID', 'body shorter than Content-Range');
  assert.equal(await uploadLength(up), 0);
  // more bytes on the wire than Content-Length: the extra is a (bad) next
  // request, never part of the upload
  const s = Buffer.concat([Buffer.from(`PATCH ${up} HTTP/1.1\r\nHost: x\r\nContent-Range: 0-9\r\nContent-Length: 10\r\nContent-Type: application/octet-stream\r\n\r\n`), Buffer.alloc(10, 5), Buffer.from('GARBAGE GARBAGE GARBAGE\r\n\r\n')]);
  const r3 = await raw(s, { wait: 3000 });
  assert.equal(r3.status, 202, 'the declared 10 bytes are taken');
  assert.equal(await uploadLength(up), 10);
});

test('mismatched and invalid digests: DIGEST_INVALID, nothing stored', async () => {
  await unchanged(async () => {
    const up = await newUpload();
    const data = Buffer.from('some blob bytes');
    const wrong = sha256(Buffer.from('other bytes'));
    const r = await request('PUT', `${up}&digest=${wrong}`.replace('&', up.includes('?') ? '&' : '?'), { headers: { 'Content-Type': 'application/octet-stream' }, body: data });
    assertError(r, 400, 'DIGEST_INVALID', 'completion with the wrong digest');
    const h = await request('HEAD', `/v2/${c.name}/blobs/${wrong}`);
    assert.equal(h.status, 404);
    for (const d of ['sha256:xyz', 'sha256:' + 'A'.repeat(64), 'md5:' + 'a'.repeat(32), 'sha256:' + 'a'.repeat(63), 'sha256:../../keys/srk']) {
      const r2 = await request('GET', `/v2/${c.name}/blobs/${encodeURIComponent(d)}`);
      assertError(r2, [400, 404], ['DIGEST_INVALID', 'BLOB_UNKNOWN', 'NAME_INVALID', 'NOT_FOUND'], `digest ${d}`);
    }
    const body = JSON.stringify(manifest);
    const r3 = await request('PUT', `/v2/${c.name}/manifests/${sha256(Buffer.from(body + ' '))}`, { headers: { 'Content-Type': MT.manifest }, body });
    assertError(r3, 400, 'DIGEST_INVALID', 'manifest PUT by a digest of other bytes');
    await request('DELETE', up);
  });
});

test('a manifest nested 10000 levels deep and invalid UTF-8: MANIFEST_INVALID, no tag', async () => {
  await unchanged(async () => {
    const deep = '{"schemaVersion":2,"mediaType":"' + MT.manifest + '","x":' + '['.repeat(10000) + ']'.repeat(10000) + '}';
    const r1 = await request('PUT', `/v2/${c.name}/manifests/deep`, { headers: { 'Content-Type': MT.manifest }, body: deep });
    assertError(r1, 400, 'MANIFEST_INVALID', 'deeply nested JSON');
    const deepObj = '{"a":'.repeat(10000) + '1' + '}'.repeat(10000);
    const r2 = await request('PUT', `/v2/${c.name}/manifests/deep2`, { headers: { 'Content-Type': MT.manifest }, body: deepObj });
    assertError(r2, 400, 'MANIFEST_INVALID', 'deeply nested objects');
    const good = Buffer.from(JSON.stringify({ ...manifest, annotations: { note: 'XX' } }));
    const i = good.indexOf('XX');
    for (const bad of [[0xff, 0xfe], [0xc0, 0xaf], [0xed, 0xa0], [0xe2, 0x28]]) {
      const b = Buffer.from(good);
      b[i] = bad[0]; b[i + 1] = bad[1];
      const r = await request('PUT', `/v2/${c.name}/manifests/utf8`, { headers: { 'Content-Type': MT.manifest }, body: b });
      assertError(r, 400, 'MANIFEST_INVALID', `invalid UTF-8 ${bad}`);
    }
  });
});

test('slow clients: idle connections are closed after --idle-timeout; 200 of them do not block service', async () => {
  const socks = [];
  const closed = [];
  for (let i = 0; i < 200; i++) {
    const s = net.connect(srv.d.port, '127.0.0.1');
    s.on('error', () => {});
    const p = new Promise((res) => s.on('close', res));
    closed.push(p);
    // half a request line, or a request whose body never comes
    s.write(i % 2 ? 'GET /v2/ HT' : `PATCH /v2/${c.name}/blobs/uploads/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc`);
    socks.push(s);
  }
  await sleep(200);
  // (raw requests on fresh connections: a pooled fetch connection may itself
  // have been closed by the 2 s idle timeout)
  const r = await request('GET', '/v2/');
  assert.equal(r.status, 200, 'a normal request is served while 200 connections dawdle');
  const t = await request('GET', `/v2/${c.name}/manifests/v1`, { headers: { Accept: MT.manifest } });
  assert.equal(t.status, 200);
  assert.equal(t.body.toString(), JSON.stringify(manifest));
  // every idle connection is closed by the server (bounded wait, not a timing assertion)
  const all = Promise.all(closed).then(() => 'closed');
  const res = await Promise.race([all, sleep(20000).then(() => 'timeout')]);
  assert.equal(res, 'closed', 'the server closed every idle connection');
  assert.equal((await request('GET', '/v2/')).status, 200);
});

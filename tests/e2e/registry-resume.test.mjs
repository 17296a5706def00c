// registry-resume: a chunked upload survives `kill -9` of cofferd. After
// the restart the upload status reports its durable offset: never more than
// was sent, never less than the whole 64 KiB segments acknowledged, and
// either a segment boundary (DESIGN §3: the partial segment lived in
// memory) or exactly the acknowledged length (a sealed checkpoint kept the
// partial segment too). Of a PATCH cut by the kill, at most whole segments
// that arrived may count. The client resumes from the reported offset and
// the blob's digest matches.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRegistry, OciClient, sha256, rangeEnd, SEGMENT, randomBuf, assertOciError } from './lib/oci.mjs';

let reg;
let c;
before(async () => {
  reg = await startRegistry();
  c = new OciClient(() => reg.url, `${reg.registry}/resume`);
});
after(async () => { await reg?.stop(); });

function assertDurable(durable, acked, sent) {
  assert.ok(durable <= sent, `durable ${durable} <= sent ${sent}`);
  assert.ok(durable >= Math.floor(acked / SEGMENT) * SEGMENT, `durable ${durable} keeps the acknowledged full segments (${acked})`);
  assert.ok(durable % SEGMENT === 0 || durable === acked,
    `durable ${durable} is a segment boundary or the acknowledged length ${acked}`);
}

async function statusAfterRestart(loc, uuid) {
  const st = await c.get(c.rebase(loc));
  assert.equal(st.status, 204, `upload status after restart: ${st.status} ${st.body}`);
  assert.equal(st.headers.get('docker-upload-uuid'), uuid);
  return { st, durable: rangeEnd(st.headers.get('range')) };
}

test('a chunked upload resumes from the durable offset after kill -9', async () => {
  const blob = randomBuf(5 * SEGMENT + 12345);
  const chunks = [100000, 70001, 50003]; // unaligned; 3 segments and a partial one
  let loc = await c.startUpload();
  const uuid = new URL(loc).pathname.split('/').pop();
  let sent = 0;
  let acked = 0;
  for (const n of chunks) {
    const r = await c.patch(loc, blob.subarray(sent, sent + n), sent);
    assert.equal(r.status, 202, `PATCH ${sent}: ${r.status} ${r.body}`);
    sent += n;
    acked = rangeEnd(r.headers.get('range'));
    assert.ok(acked <= sent, `PATCH reports ${acked} of ${sent} bytes`);
    assert.ok(acked > sent - SEGMENT, `PATCH reports ${acked}: at most the trailing partial segment is pending`);
    loc = c.location(r);
  }

  await reg.kill();
  await reg.restart();
  loc = c.rebase(loc);

  const { st, durable } = await statusAfterRestart(loc, uuid);
  assertDurable(durable, acked, sent);

  // Resuming past the durable offset is a gap: 416, state unchanged.
  const gap = await c.patch(c.location(st), blob.subarray(durable + 10, durable + 20), durable + 10);
  assert.equal(gap.status, 416, `PATCH past the durable offset: ${gap.status} ${gap.body}`);
  const st2 = await c.get(loc);
  assert.equal(rangeEnd(st2.headers.get('range')), durable);

  // The client finishes from the durable offset, in two pieces.
  let at = durable;
  let r = await c.patch(c.location(st2), blob.subarray(at, at + 70000), at);
  assert.equal(r.status, 202, `PATCH resume: ${r.status} ${r.body}`);
  at += 70000;
  r = await c.finish(c.location(r), sha256(blob), blob.subarray(at));
  assert.equal(r.status, 201, `PUT: ${r.status} ${r.body}`);
  assert.equal(r.headers.get('docker-content-digest'), sha256(blob));

  const g = await c.get(`/blobs/${sha256(blob)}`);
  assert.equal(g.status, 200);
  assert.equal(sha256(g.body), sha256(blob));
  assert.equal(g.body.length, blob.length);

  // The finished upload is gone.
  assertOciError(await c.get(loc), 404, 'BLOB_UPLOAD_UNKNOWN', 'status of a finished upload');
});

test('a PATCH cut by kill -9 mid-body: the status counts no more than arrived, the client finishes', async () => {
  const blob = randomBuf(6 * SEGMENT + 4321);
  let loc = await c.startUpload();
  const uuid = new URL(loc).pathname.split('/').pop();
  const first = await c.patch(loc, blob.subarray(0, 90000), 0);
  assert.equal(first.status, 202);
  const acked = rangeEnd(first.headers.get('range'));
  loc = c.location(first);

  // A second PATCH streams 3 segments' worth, then stalls; cofferd dies under it.
  const inflight = 3 * SEGMENT;
  let pushed = 0;
  let release;
  const stall = new Promise((r) => { release = r; });
  const body = new ReadableStream({
    async pull(ctl) {
      if (pushed >= inflight) { await stall; ctl.close(); return; }
      const piece = blob.subarray(90000 + pushed, 90000 + Math.min(inflight, pushed + 32768));
      pushed += piece.length;
      ctl.enqueue(piece);
    },
  });
  const cut = fetch(loc, {
    method: 'PATCH', body, duplex: 'half',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `90000-${90000 + 5 * SEGMENT - 1}` },
  }).then((r) => r.status, (e) => e);
  while (pushed < inflight) await sleep(20);
  await sleep(300); // let the server read (and perhaps seal) what arrived
  await reg.kill();
  const res = await cut;
  release();
  assert.ok(res instanceof Error || res >= 400, `the cut PATCH was not acknowledged: ${res}`);

  await reg.restart();
  const { st, durable } = await statusAfterRestart(loc, uuid);
  // A server may keep whole segments of the cut PATCH, never more than arrived.
  assertDurable(durable, acked, 90000 + inflight);

  const r = await c.finish(c.location(st), sha256(blob), blob.subarray(durable));
  assert.equal(r.status, 201, `PUT from ${durable}: ${r.status} ${r.body}`);
  const g = await c.get(`/blobs/${sha256(blob)}`);
  assert.ok(g.body.equals(blob));
});

test('a long streamed PATCH cut by kill -9 keeps what its checkpoint made durable, and the digest still holds', async () => {
  // cofferd checkpoints a streamed PATCH (no Content-Range) every 16 MiB on
  // files; in a bucket only at the request's end. The hash runs beside the
  // seal, so the checkpointed hash state must be the one of exactly the
  // durable bytes, or the final digest fails.
  const CHECKPOINT = 16 * 1024 * 1024;
  const blob = randomBuf(24 * 1024 * 1024 + 777);
  const inflight = 20 * 1024 * 1024 + 12345;
  const loc = await c.startUpload();
  const uuid = new URL(loc).pathname.split('/').pop();
  let pushed = 0;
  let release;
  const stall = new Promise((r) => { release = r; });
  const sizes = [300000, 65536, 1, 131072, 777777]; // unaligned pieces
  let k = 0;
  const body = new ReadableStream({
    async pull(ctl) {
      if (pushed >= inflight) { await stall; ctl.close(); return; }
      const n = Math.min(sizes[k++ % sizes.length], inflight - pushed);
      ctl.enqueue(blob.subarray(pushed, pushed + n));
      pushed += n;
    },
  });
  const cut = fetch(loc, {
    method: 'PATCH', body, duplex: 'half', headers: { 'Content-Type': 'application/octet-stream' },
  }).then((r) => r.status, (e) => e);
  while (pushed < inflight) await sleep(20);
  await sleep(1000); // let the server read what arrived
  await reg.kill();
  const res = await cut;
  release();
  assert.ok(res instanceof Error || res >= 400, `the cut PATCH was not acknowledged: ${res}`);

  await reg.restart();
  const { st, durable: end } = await statusAfterRestart(loc, uuid);
  const durable = end === 1 ? 0 : end; // "0-0": nothing kept (a bucket checkpoints at the end only)
  assert.ok(durable <= inflight && durable % SEGMENT === 0, `durable ${durable}: whole segments that arrived`);
  if (!process.env.COFFER_TEST_S3)
    assert.ok(durable >= CHECKPOINT, `durable ${durable}: the checkpoint at 16 MiB kept`);

  const r = await c.finish(c.location(st), sha256(blob), blob.subarray(durable));
  assert.equal(r.status, 201, `PUT from ${durable}: ${r.status} ${r.body}`);
  const g = await c.get(`/blobs/${sha256(blob)}`);
  assert.equal(sha256(g.body), sha256(blob));
});

test('a completed blob survives kill -9 right after the 201', async () => {
  const blob = randomBuf(3 * SEGMENT + 7);
  const d = await c.pushBlob(blob);
  await reg.kill();
  await reg.restart();
  const g = await c.get(`/blobs/${d}`);
  assert.equal(g.status, 200);
  assert.ok(g.body.equals(blob));
});

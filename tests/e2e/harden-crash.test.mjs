// harden-crash: cofferd killed with SIGKILL during 20 concurrent pushes loses
// nothing it acknowledged and leaves nothing dangling.
//
// Each round starts cofferd on the same data dir, runs 20 workers that push
// small random images (chunked PATCH uploads with Content-Range, completion
// PUT, manifest PUT with a tag), and kills the daemon at a moment chosen by
// the round: while a PATCH is in flight, while an upload completion is in
// flight, or while a manifest PUT is in flight (plus a few purely random
// moments). After each restart:
//   * every manifest whose PUT got 201 pulls back bit-identical, and so does
//     every blob it references;
//   * every upload the kill interrupted reports a durable offset no smaller
//     than what its last 202 acknowledged and no larger than what was sent,
//     and resumes from there to a blob with the right digest; an upload
//     whose completion was cut either still resumes or is complete;
// At the end cofferd is stopped and its database is opened read-only with
// the sqlite3 CLI: PRAGMA integrity_check is ok and no row points at a
// missing object. Uploads left interrupted expire under --upload-ttl 1.
// Seeded (HARDEN_SEED), bounded: 7 rounds, ~20 s.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { OciClient, MT, sha256, rangeEnd, assertOciError } from './lib/oci.mjs';
import { prng, seedFromEnv, startServer, checkMetadata, registryId } from './lib/harden.mjs';
import { S3, objectKeys, multipartUploads } from './lib/objects.mjs';

const WORKERS = 20;
const PLAN = ['patch', 'complete', 'manifest', 'patch', 'complete', 'manifest', 'random'];

let srv;
after(async () => { await srv?.stop(); });

// A bound, not a speed claim: on S3 every push and every expiry is a few
// round trips more than on files.
test('SIGKILL during 20 concurrent pushes: acknowledged images survive, uploads resume or expire', { timeout: S3 ? 240000 : 60000 }, async () => {
  const rnd = prng(seedFromEnv('harden-crash'));
  srv = await startServer();
  const base = () => srv.url;
  const acked = [];      // { repo, tag, body, digest, blobs: [{digest, buf}] }
  const interrupted = []; // { repo, loc, buf, digest, acked, sent, phase }
  const hits = { patch: 0, complete: 0, manifest: 0, random: 0 };

  for (let round = 0; round < PLAN.length; round++) {
    const want = PLAN[round];
    // The killer: on the k-th time a worker enters phase `want`, SIGKILL
    // after 0-3 ms (the request is on the wire or being served).
    const k = rnd.int(3, 25);
    let seen = 0;
    let killed = false;
    let resolveKill;
    const killDone = new Promise((r) => { resolveKill = r; });
    const doKill = async () => {
      if (killed) return;
      killed = true;
      await sleep(rnd.int(0, 3));
      await srv.kill();
      resolveKill();
    };
    const phase = (p) => {
      if (killed) throw new Error('killed');
      if (p === want && ++seen === k) { hits[p]++; doKill(); }
    };
    if (want === 'random') setTimeout(() => { hits.random++; doKill(); }, rnd.int(50, 400));
    const safety = setTimeout(doKill, 8000); // never hang: kill anyway

    const workers = [];
    for (let w = 0; w < WORKERS; w++) {
      const wr = prng(rnd.int(0, 2 ** 31));
      workers.push(worker(base, `${srv.registry}/app${w}`, round, wr, phase, acked, interrupted));
    }
    await killDone;
    clearTimeout(safety);
    for (const res of await Promise.allSettled(workers)) if (res.status === 'rejected') throw res.reason;

    await srv.start();
    await verifyAcked(base, acked);
    // Resume about half of what this round interrupted; keep the rest for
    // the expiry check at the end.
    for (const up of interrupted.filter((u) => u.round === round)) {
      up.resumed = rnd.next() < 0.5 || up.phase === 'complete';
      if (up.resumed) await resume(base, up);
    }
  }
  console.log(`# completions cut between rename and commit (pushed again): ${interrupted.filter((u) => u.repushed).length}`);
  console.log(`# kills landed: ${JSON.stringify(hits)}; acknowledged manifests ${acked.length}; interrupted uploads ${interrupted.length}`);
  assert.ok(acked.length > 0, 'some pushes were acknowledged');
  assert.ok(interrupted.length > 0, 'some uploads were interrupted');

  await srv.stop();
  const counts = checkMetadata(srv.dataDir);
  console.log(`# metadata after the kills: ${JSON.stringify(counts)}`);

  // Expiry: uploads left interrupted vanish under a 1 s upload TTL.
  await srv.start(['--upload-ttl', '1']);
  const left = interrupted.filter((u) => !u.resumed);
  let gone = false;
  for (let i = 0; i < 40 && !gone; i++) {
    await sleep(250);
    gone = true;
    for (const up of left) {
      const r = await new OciClient(base, up.repo).get(rebase(base, up.loc));
      if (r.status !== 404) { gone = false; break; }
      assertOciError(r, 404, 'BLOB_UPLOAD_UNKNOWN', 'expired upload');
    }
  }
  assert.ok(gone, 'interrupted uploads expire under --upload-ttl 1');
  await verifyAcked(base, acked);
  await srv.stop();
  checkMetadata(srv.dataDir);
  const reg = registryId(srv.dataDir, srv.registry);
  const prefix = `registries/${reg}/uploads/`;
  assert.deepEqual(objectKeys(srv.dataDir, prefix), [], 'no upload object left after expiry');
  assert.deepEqual(multipartUploads(srv.dataDir, prefix), [], 'no multipart upload (no part) left after expiry');
});

function rebase(base, loc) {
  const u = new URL(loc);
  return base() + u.pathname + u.search;
}

// Pushes images until the daemon dies: config + 1-3 layers, each by a
// POST and 1-4 chunked PATCHes and a completion PUT, then the manifest.
async function worker(base, repo, round, r, phase, acked, interrupted) {
  const c = new OciClient(base, repo);
  for (let img = 0; ; img++) {
    const blobs = [];
    const n = r.int(1, 3);
    for (let i = 0; i <= n; i++) blobs.push(r.bytes(i === 0 ? r.int(50, 500) : r.int(1000, 200000)));
    const done = [];
    for (const buf of blobs) {
      const up = { round, repo, buf, digest: sha256(buf), acked: 0, sent: 0, loc: null, phase: 'post' };
      try {
        phase('post');
        const p = await c.req('POST', '/blobs/uploads/');
        if (p.status !== 202) throw new Error(`POST ${p.status}`);
        up.loc = c.location(p);
        const cuts = r.int(1, 4);
        let off = 0;
        for (let i = 0; i < cuts; i++) {
          const end = i === cuts - 1 ? buf.length : Math.min(buf.length, off + r.int(1000, Math.ceil(buf.length / cuts)));
          if (end <= off) continue;
          up.phase = 'patch';
          up.sent = end;
          phase('patch');
          const pr = await c.patch(up.loc, buf.subarray(off, end), off);
          assert.equal(pr.status, 202, `PATCH ${pr.status} ${pr.body}`);
          up.acked = rangeEnd(pr.headers.get('range'));
          assert.equal(up.acked, end, 'PATCH acknowledges what it was sent');
          up.loc = c.location(pr);
          off = end;
        }
        up.phase = 'complete';
        phase('complete');
        const fr = await c.finish(up.loc, up.digest);
        assert.equal(fr.status, 201, `PUT ${fr.status} ${fr.body}`);
        done.push({ digest: up.digest, buf });
      } catch (err) {
        if (err.code === 'ERR_ASSERTION') throw err;
        if (up.loc) interrupted.push(up);
        return;
      }
    }
    const [config, ...layers] = done;
    const manifest = {
      schemaVersion: 2, mediaType: MT.manifest,
      config: { mediaType: MT.config, digest: config.digest, size: config.buf.length },
      layers: layers.map((l) => ({ mediaType: MT.layerTar, digest: l.digest, size: l.buf.length })),
      annotations: { round: String(round), img: String(img) },
    };
    const body = Buffer.from(JSON.stringify(manifest));
    const tag = `r${round}-i${img}`;
    try {
      phase('manifest');
      const mr = await c.putManifest(tag, body, MT.manifest);
      assert.equal(mr.status, 201, `manifest PUT ${mr.status} ${mr.body}`);
      acked.push({ repo, tag, body, digest: sha256(body), blobs: done });
    } catch (err) {
      if (err.code === 'ERR_ASSERTION') throw err;
      return;
    }
  }
}

async function verifyAcked(base, acked) {
  for (const m of acked) {
    const c = new OciClient(base, m.repo);
    const r = await c.getManifest(m.tag);
    assert.equal(r.status, 200, `${m.repo}:${m.tag} after restart: ${r.status} ${r.body}`);
    assert.ok(r.body.equals(m.body), `${m.repo}:${m.tag} bit-identical`);
    assert.equal(r.headers.get('docker-content-digest'), m.digest);
    for (const b of m.blobs) {
      const br = await c.get(`/blobs/${b.digest}`);
      assert.equal(br.status, 200, `${m.repo} blob ${b.digest}: ${br.status}`);
      assert.ok(br.body.equals(b.buf), `${m.repo} blob ${b.digest} bit-identical`);
    }
  }
}

// An interrupted upload: its status reports a durable offset within
// [acknowledged, sent]; resume from it and complete. A completion cut by the
// kill may have finished: then the upload is gone and the blob is there.
async function resume(base, up) {
  const c = new OciClient(base, up.repo);
  const loc = rebase(base, up.loc);
  const st = await c.get(loc);
  if (st.status === 404 && up.phase === 'complete') {
    // The completion either committed (the blob is there) or was cut
    // between moving the sealed file into blobs/ and the commit: then the
    // upload is unknown (its row lingers until the TTL) and the client,
    // never having had a 201, pushes the blob again, which reuses the file.
    assertOciError(st, 404, 'BLOB_UPLOAD_UNKNOWN', 'completed upload');
    let br = await c.get(`/blobs/${up.digest}`);
    if (br.status === 404) {
      up.repushed = true;
      await c.pushBlob(up.buf);
      br = await c.get(`/blobs/${up.digest}`);
    }
    assert.equal(br.status, 200, `blob after a cut completion: ${br.status} ${br.body}`);
    assert.ok(br.body.equals(up.buf));
    return;
  }
  assert.equal(st.status, 204, `status of interrupted upload (${up.phase}, acked ${up.acked}): ${st.status} ${st.body}`);
  const rh = st.headers.get('range');
  const durable = rh === '0-0' && up.acked === 0 ? 0 : rangeEnd(rh);
  assert.ok(durable >= up.acked, `durable ${durable} >= acknowledged ${up.acked} (${up.phase})`);
  assert.ok(durable <= Math.max(up.sent, up.acked), `durable ${durable} <= sent ${up.sent}`);
  let cur = c.location(st);
  if (durable < up.buf.length) {
    const pr = await c.patch(rebase(base, cur), up.buf.subarray(durable), durable);
    assert.equal(pr.status, 202, `resume PATCH from ${durable}: ${pr.status} ${pr.body}`);
    cur = c.location(pr);
  }
  const fr = await c.finish(rebase(base, cur), up.digest);
  assert.equal(fr.status, 201, `resumed completion: ${fr.status} ${fr.body}`);
  const br = await c.get(`/blobs/${up.digest}`);
  assert.ok(br.body.equals(up.buf), 'resumed blob bit-identical');
}

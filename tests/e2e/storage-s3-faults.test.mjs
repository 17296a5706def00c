// storage-s3-faults.test.mjs -- cofferd on S3 when the object store goes
// away and comes back (docs/storage.md, "Failure modes").
//
// A radosgw of this test's own (tests/fixtures/rgw-fixture) is stopped
// while pushes and a long pull run, then started again on the same port
// (its objects stay in the OSD):
//   * while it is down, requests that need objects answer 503 UNAVAILABLE
//     (never 500, never a wrong 404); a pull streaming when it went down is
//     cut short, and what it got is a prefix of the blob: never a wrong byte;
//   * once it is back, service resumes without a restart of cofferd;
//   * every push acknowledged before, during or after the outage pulls
//     back bit-identical: nothing acknowledged is lost.
// (A byte flipped in the bucket: harden-tamper, which runs on S3 in the
// second pass.) Runs in the second pass of scripts/test-all, beside its
// PostgreSQL, with a radosgw of its own (stopping the pass's would fail
// the tests running beside it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { join } from 'node:path';
import { ROOT, startCofferd, freshDir } from './lib/daemons.mjs';
import { OciClient, sha256, assertOciError, startMarkedPushers, checkOutage } from './lib/oci.mjs';
import { S3 } from './lib/objects.mjs';

const run = promisify(execFile);
const FIXTURE = join(ROOT, 'tests/fixtures/rgw-fixture');
const MARKER = 'coffer-s3-fault-image';
let fix = null;
let d = null;

const skip = !S3 && 'the second pass (COFFER_TEST_S3) only';

before(async () => {
  if (skip) return;
  const { stdout } = await run(FIXTURE, ['start'], { timeout: 180000 });
  fix = Object.fromEntries(stdout.split(/\s+/).filter((w) => w.includes('=')).map((w) => w.split('=')));
  d = await startCofferd({
    dataDir: freshDir(),
    args: ['--registry', 'demo1', '--objects', 's3://faults', '--s3-endpoint', fix.COFFER_TEST_S3],
    env: { AWS_ACCESS_KEY_ID: fix.COFFER_TEST_S3_KEY, AWS_SECRET_ACCESS_KEY: fix.COFFER_TEST_S3_SECRET },
  });
});

after(async () => {
  await d?.stop();
  if (fix) await run(FIXTURE, ['stop', fix.RGWFIX_DIR]);
});


// A GET read slowly (a paused stream), keeping every byte that arrived.
function slowGet(url, onFirst) {
  return new Promise((resolve) => {
    const chunks = [];
    let first = true;
    const req = http.get(url, { agent: false }, (res) => {
      res.on('data', (b) => {
        chunks.push(b);
        if (first) { first = false; onFirst(); }
        res.pause();
        setTimeout(() => res.resume(), 20);
      });
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks), complete: res.complete }));
      res.on('error', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks), complete: false }));
      res.on('aborted', () => {});
    });
    req.on('error', () => resolve({ status: 0, body: Buffer.concat(chunks), complete: false }));
  });
}

test('radosgw stopped under pushes and a pull: 503 UNAVAILABLE, no wrong byte, then service resumes and nothing acknowledged is lost', { skip, timeout: 240000 }, async () => {
  const c = new OciClient(d.url, 'demo1/app');
  // a blob of many parts, to be pulled while the store goes away
  const big = randomBytes(40 << 20);
  const bigDigest = await c.pushBlob(big);
  const pushers = startMarkedPushers(c, MARKER);
  const { acked, seen, until } = pushers;
  await until(() => acked.length >= 3);
  const before = acked.length;

  // the store goes away while the big blob streams out slowly
  let downDone;
  const pulled = slowGet(`${d.url}/v2/demo1/app/blobs/${bigDigest}`, () => {
    downDone = run(FIXTURE, ['down', fix.RGWFIX_DIR]);
  });
  const p = await pulled;
  await downDone;
  assert.ok(big.subarray(0, p.body.length).equals(p.body), `the pull cut by the outage got ${p.body.length} bytes that are a prefix of the blob`);
  console.log(`# pull during the outage: status ${p.status}, ${p.body.length} of ${big.length} bytes, complete ${p.complete}`);

  const down = await c.getManifest('t0');
  assertOciError(down, 503, 'UNAVAILABLE', 'manifest GET while the object store is down');
  const blobDown = await c.get(`/blobs/${bigDigest}`);
  assertOciError(blobDown, 503, 'UNAVAILABLE', 'blob GET while the object store is down');
  await new Promise((r) => setTimeout(r, 500));
  await run(FIXTURE, ['up', fix.RGWFIX_DIR], { timeout: 120000 });

  // back: service resumes without restarting cofferd (bounded wait)
  let resumed = false;
  for (let i = 0; i < 200 && !resumed; i++) {
    const r = await c.getManifest('t0');
    resumed = r.status === 200;
    if (!resumed) await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(resumed, 'service resumed after the object store came back');
  const at = acked.length;
  await until(() => acked.length > at);
  await pushers.stop();
  console.log(`# acknowledged images: ${before} before the outage, ${at} when service resumed, ${acked.length} in all; ${seen.filter((r) => r.status === 503).length} answers 503`);
  assert.ok(before > 0 && acked.length > at, 'pushes were acknowledged before and after the outage');

  await checkOutage(c, seen, acked);
  const g = await c.get(`/blobs/${bigDigest}`);
  assert.equal(g.status, 200);
  assert.ok(g.body.equals(big), 'the big blob pulls back whole after the outage');
});

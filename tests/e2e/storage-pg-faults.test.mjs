// storage-pg-faults.test.mjs -- cofferd on PostgreSQL when the database
// goes away and comes back (docs/storage.md, "Failure modes").
//
// A PostgreSQL cluster of this test's own (tests/fixtures/pg-fixture) is
// stopped while pushes run, then started again on the same port and data:
//   * while it is down, requests that need metadata answer 503 UNAVAILABLE
//     (never 500, never a wrong 404);
//   * once it is back, service resumes without a restart of cofferd (each
//     worker's broken connection is replaced on its next call);
//   * every push acknowledged (201 on the manifest) before, during or
//     after the outage pulls back bit-identical: nothing acknowledged is
//     lost;
//   * a pg_dump of the database holds none of the pushed plaintext.
// Runs in both passes of scripts/test-all (it brings its own server).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { ROOT, startCofferd, freshDir } from './lib/daemons.mjs';
import { OciClient, assertOciError, startMarkedPushers, checkOutage } from './lib/oci.mjs';

const run = promisify(execFile);
const FIXTURE = join(ROOT, 'tests/fixtures/pg-fixture');
let fix = null;
let d = null;

before(async () => {
  const { stdout } = await run(FIXTURE, ['start']);
  fix = Object.fromEntries(stdout.split(/\s+/).filter((w) => w.includes('=')).map((w) => w.split('=')));
  execFileSync('psql', [fix.COFFER_TEST_PG, '-qc', 'CREATE DATABASE faults']);
  d = await startCofferd({
    dataDir: freshDir(),
    args: ['--registry', 'demo1', '--database', fix.COFFER_TEST_PG.replace(/\/postgres$/, '/faults')],
  });
});

after(async () => {
  await d?.stop();
  if (fix) await run(FIXTURE, ['stop', fix.PGFIX_DIR]);
});

const MARKER = 'coffer-pg-plaintext-marker';


test('PostgreSQL stopped under pushes: 503 UNAVAILABLE, then service resumes and nothing acknowledged is lost', { timeout: 90000 }, async () => {
  const c = new OciClient(d.url, 'demo1/app');
  const pushers = startMarkedPushers(c, MARKER);
  const { acked, seen, until } = pushers;
  await until(() => acked.length >= 3);
  const before = acked.length;

  await run(FIXTURE, ['down', fix.PGFIX_DIR]);
  // down: a read that needs the metadata answers 503 in the protocol's format
  const down = await c.getManifest('t0');
  assertOciError(down, 503, 'UNAVAILABLE', 'manifest GET while the database is down');
  await new Promise((r) => setTimeout(r, 500));
  await run(FIXTURE, ['up', fix.PGFIX_DIR]);

  // back: service resumes without restarting cofferd (bounded wait)
  let resumed = false;
  for (let i = 0; i < 100 && !resumed; i++) {
    const r = await c.getManifest('t0');
    resumed = r.status === 200;
    if (!resumed) await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(resumed, 'service resumed after the database came back');
  const at = acked.length;
  await until(() => acked.length >= at + 3);
  await pushers.stop();
  console.log(`# acknowledged images: ${before} before the outage, ${at} when service resumed, ${acked.length} in all; ${seen.filter((r) => r.status === 503).length} answers 503`);
  assert.ok(before > 0 && acked.length > at, 'pushes were acknowledged before and after the outage');

  await checkOutage(c, seen, acked);
  // a dump of the database (what a backup holds) has no plaintext
  const dump = execFileSync('pg_dump', [fix.COFFER_TEST_PG.replace(/\/postgres$/, '/faults')], { maxBuffer: 1 << 28 });
  assert.ok(dump.length > 0 && dump.includes('CREATE TABLE'), 'pg_dump ran');
  assert.ok(!dump.includes(MARKER), 'pushed plaintext in the pg_dump');
});

// harden-load: the short variant of bench/load. wrk with 200 connections
// against a manifest GET for HARDEN_LOAD_SECONDS (default 10) while 4
// clients push images in a loop: no failed request (wrk's non-2xx and
// socket errors are 0, every push gets its 201s), the manifest still pulls
// back bit-identical, and cofferd's RSS settles back near where it started
// (within 16 MiB; the peak is the 200 connections' buffers), and it stops
// with status 0 (with COFFER_BUILD=build/asan: no leak at exit).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startServer, seedFromEnv } from './lib/harden.mjs';
import { runLoad } from './lib/load.mjs';

let srv;
after(async () => { await srv?.stop(); });

test('200 connections of manifest GETs plus concurrent pushes: no failed request, RSS back near its start', { timeout: 120000 }, async () => {
  srv = await startServer();
  const seconds = Number(process.env.HARDEN_LOAD_SECONDS || 10);
  const r = await runLoad(srv, { seconds, connections: 200, pushers: 4, seed: seedFromEnv('harden-load') });
  console.log(`# load ${seconds}s: ${r.wrk.requests} GETs (${r.wrk.rps}/s, latency avg/stdev/max ${r.wrk.latency}), ${r.pushed} images pushed; VmRSS KiB before ${r.rssBeforeKiB}, peak ${r.rssPeakKiB}, end ${r.rssEndKiB}, after ${r.rssAfterKiB}; threads before ${r.threadsBefore}, after ${r.threadsAfter}`);
  assert.equal(r.wrkExit, 0, r.wrkOutput);
  assert.ok(r.wrk.requests > 0, r.wrkOutput);
  assert.equal(r.wrk.non2xx, 0, `non-2xx responses:\n${r.wrkOutput}`);
  assert.equal(r.wrk.socketErrors, 0, `socket errors:\n${r.wrkOutput}`);
  assert.ok(r.pushed > 0, 'pushes went through under load');
  assert.ok(r.targetIntact, 'the manifest pulls back bit-identical after the load');
  // under ASan the quarantine keeps freed memory: the RSS check means nothing there
  const sanitized = readFileSync(`/proc/${srv.d.proc.pid}/maps`, 'utf8').includes('libasan');
  if (!sanitized) assert.ok(r.rssAfterKiB <= r.rssBeforeKiB + 16 * 1024, `RSS after ${r.rssAfterKiB} KiB, before ${r.rssBeforeKiB} KiB (threads ${r.threadsAfter}, before ${r.threadsBefore})`);
  // a clean stop (under ASan, LeakSanitizer would make the exit status non-zero)
  const st = await srv.stop();
  srv = null;
  assert.equal(st.code, 0, `cofferd exit after the load: ${JSON.stringify(st)}`);
});

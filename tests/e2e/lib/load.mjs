// load.mjs -- the load run shared by bench/load (60 s) and the e2e variant
// tests/e2e/harden-load.test.mjs (short): wrk with C connections against a
// manifest GET for S seconds while P clients push images in a loop, and
// cofferd's VmRSS (from /proc) before, at the end of, and after the load.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OciClient, MT, sha256, tempDir } from './oci.mjs';
import { prng } from './harden.mjs';

export function vmRssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

export function threadCount(pid) {
  const m = /Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

// After a load, a connection's thread ends (and frees its buffers and its
// database connection) once the server has seen the close; on a loaded
// machine that can take longer than any fixed pause. Waits until the
// thread count is back at its baseline, or `ms` passes.
async function threadsSettled(pid, baseline, ms = 30000) {
  const deadline = Date.now() + ms;
  while (threadCount(pid) > baseline && Date.now() < deadline) await sleep(250);
  return threadCount(pid);
}

async function pushImage(c, rnd, tag) {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', tag }));
  const layer = rnd.bytes(rnd.int(1000, 300000));
  await c.pushBlob(config);
  await c.pushBlob(layer);
  const body = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MT.manifest,
    config: { mediaType: MT.config, digest: sha256(config), size: config.length },
    layers: [{ mediaType: MT.layerTar, digest: sha256(layer), size: layer.length }],
  }));
  const r = await c.putManifest(tag, body, MT.manifest);
  if (r.status !== 201) throw new Error(`manifest PUT ${tag}: ${r.status} ${r.body}`);
  return body;
}

// Parses wrk's summary.
export function parseWrk(out) {
  const num = (re) => { const m = re.exec(out); return m ? Number(m[1]) : 0; };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests: num(/(\d+) requests in/),
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: sock ? sock.slice(1).map(Number).reduce((a, b) => a + b, 0) : 0,
    latency: (/Latency\s+(\S+)\s+(\S+)\s+(\S+)/.exec(out) || []).slice(1).join(' / '),
  };
}

// srv: a startServer() handle. Returns the measurements; throws on a failed push.
export async function runLoad(srv, { seconds = 15, connections = 200, pushers = 4, seed = 1 } = {}) {
  const rnd = prng(seed);
  const c = new OciClient(() => srv.url, `${srv.registry}/load`);
  const body = await pushImage(c, rnd, 'target');
  // warm up, then the baseline RSS
  for (let i = 0; i < 50; i++) await c.getManifest('target');
  await sleep(500);
  const pid = srv.d.proc.pid;
  const rssBefore = vmRssKiB(pid);
  const threadsBefore = threadCount(pid);

  const lua = join(tempDir('coffer-wrk-'), 'accept.lua');
  writeFileSync(lua, `wrk.headers["Accept"] = "${MT.manifest}"\n`);
  const url = `${srv.url}/v2/${srv.registry}/load/manifests/target`;
  const wrk = spawn('wrk', ['-t2', `-c${connections}`, `-d${seconds}s`, '--timeout', '30s', '--latency', '-s', lua, url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  wrk.stdout.on('data', (d) => { out += d; });
  wrk.stderr.on('data', (d) => { out += d; });
  const wrkDone = new Promise((res) => wrk.on('exit', res));

  let stop = false;
  let pushed = 0;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => { try { rssPeak = Math.max(rssPeak, vmRssKiB(pid)); } catch { /* exited */ } }, 250);
  const workers = [];
  for (let p = 0; p < pushers; p++) {
    const pr = prng(rnd.int(0, 2 ** 31));
    const pc = new OciClient(() => srv.url, `${srv.registry}/push${p}`);
    workers.push((async () => {
      for (let i = 0; !stop; i++) {
        await pushImage(pc, pr, `t${i}`);
        pushed++;
      }
    })());
  }
  const code = await wrkDone;
  stop = true;
  await Promise.all(workers);
  clearInterval(sampler);
  const rssEnd = vmRssKiB(pid);
  const threadsAfter = await threadsSettled(pid, threadsBefore);
  await sleep(2000);
  const rssAfter = vmRssKiB(pid);
  const check = await c.getManifest('target');
  return {
    wrkExit: code, wrk: parseWrk(out), wrkOutput: out, pushed,
    rssBeforeKiB: rssBefore, rssPeakKiB: rssPeak, rssEndKiB: rssEnd, rssAfterKiB: rssAfter,
    threadsBefore, threadsAfter,
    targetIntact: check.status === 200 && check.body.equals(body),
  };
}

// script.mjs: one of the project's long-running start scripts
// (scripts/run-demo, scripts/run-cluster) under a test. The script and the
// daemons it starts run in a process group of their own, so a failed test
// takes them all down: an assertion that fails before stop() must not leave
// daemons that keep node --test waiting.
//
//   const demo = scriptRunner('scripts/run-demo', { banner: 'Ctrl-C stops both.', readyMs: 60000 });
//   after(() => demo.cleanup());
//   const d = await demo.start(env);   // resolves once the banner is printed
//   d.out();                           // everything printed so far
//   const { code, sig } = await demo.stop(d);   // SIGTERM, then its exit
import { spawn } from 'node:child_process';
import { basename, join } from 'node:path';
import { ROOT } from './daemons.mjs';

export function scriptRunner(script, { banner, readyMs, killAfterMs = 5000 }) {
  const name = basename(script);
  let running = null;
  const killGroup = (proc, sig) => { try { process.kill(-proc.pid, sig); } catch { /* gone */ } };

  function start(env) {
    const proc = spawn(join(ROOT, script), [], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    running = proc;
    let out = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        killGroup(proc, 'SIGKILL');
        reject(new Error(`${name} not ready in ${readyMs / 1000} s:\n${out}`));
      }, readyMs);
      const onData = (b) => {
        out += b.toString();
        if (out.includes(banner)) { clearTimeout(timer); resolve({ proc, out: () => out }); }
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited ${code}:\n${out}`)); });
    });
  }

  function stop(d) {
    return new Promise((resolve) => {
      d.proc.removeAllListeners('exit');
      d.proc.on('exit', (code, sig) => { running = null; resolve({ code, sig }); });
      d.proc.kill('SIGTERM');
    });
  }

  // For after(): whatever still runs gets SIGTERM, then SIGKILL after
  // killAfterMs, and any daemon the script did not reap goes with its group.
  async function cleanup() {
    if (!running) return;
    const proc = running;
    const gone = new Promise((r) => { if (proc.exitCode !== null || proc.signalCode !== null) r(); else proc.once('exit', r); });
    killGroup(proc, 'SIGTERM');
    const t = setTimeout(() => killGroup(proc, 'SIGKILL'), killAfterMs);
    await gone;
    clearTimeout(t);
    killGroup(proc, 'SIGKILL');
  }

  return { start, stop, cleanup };
}

// harness.test.mjs -- the e2e harness itself: a test file whose before
// hook starts one daemon and then fails to start the next must end, failed,
// with the daemon it did start stopped, instead of hanging the suite (which
// is what a live keyvaultd child did to a whole CI pass).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './lib/daemons.mjs';

test('a before hook that fails part-way stops the daemons it started, and the file ends', { timeout: 90000 }, async () => {
  // the file run as node runs a test file (not nested in this runner's own
  // context, which NODE_TEST_CONTEXT would tell it it is)
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, [join(ROOT, 'tests/e2e/fixtures/before-fails.mjs')],
    { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout.on('data', (b) => { out += b; });
  child.stderr.on('data', (b) => { out += b; });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
  const [code, sig] = await new Promise((r) => child.once('exit', (c, s) => r([c, s])));
  clearTimeout(timer);
  const pid = Number(/vault-pid (\d+)/.exec(out)?.[1]);
  let vaultLeft = false;
  if (pid > 0) {
    try { process.kill(pid, 'SIGKILL'); vaultLeft = true; } catch { /* gone, as it should be */ }
  }
  assert.equal(sig, null, `the file did not end within 60 s (killed); its output:\n${out}`);
  assert.notEqual(code, 0, `the file must fail:\n${out}`);
  assert.match(out, /cofferd exited \(\d+\) before listening/);
  assert.match(out, /stopping 1 daemon\(s\) the test file left running/);
  assert.ok(pid > 0, out);
  assert.equal(vaultLeft, false, 'keyvaultd was still running after the file ended');
});

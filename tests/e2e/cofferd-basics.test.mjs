import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startCofferd, freshDir, BUILD } from './lib/daemons.mjs';

let d;
before(async () => { d = await startCofferd(); });
after(async () => { await d?.stop(); });

test('GET /v2/ answers 200 with the distribution API version header', async () => {
  const r = await fetch(`${d.url}/v2/`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0');
  assert.match(r.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
});

test('cofferd stops cleanly on SIGTERM', async () => {
  const res = await d.stop();
  assert.equal(res.code, 0);
});

// The SIGTERM hang seen once in a loaded harden-load run: a worker thread
// that holds as many connections as it may (its share of the listener's
// limit: the management API's 256 over 2 threads) stops watching the
// listening socket, and libmicrohttpd's stop woke the workers only through
// that socket, so that worker slept in epoll_wait until a connection timed
// out (--idle-timeout) while the main thread waited to join it. 260 idle
// keep-alive connections put both management workers there.
test('cofferd stops on SIGTERM while every worker holds its full share of connections', { timeout: 60000 }, async () => {
  const c = await startCofferd({ args: ['--idle-timeout', '3600'] });
  const socks = [];
  let answered = 0;
  try {
    for (let i = 0; i < 260; i++) {
      const s = net.connect(c.ports.mgmt, '127.0.0.1');
      s.on('error', () => {});
      s.once('data', () => { answered++; });
      s.write('GET /jwks HTTP/1.1\r\nHost: x\r\n\r\n');
      socks.push(s);
    }
    // every connection the listener accepts is answered and kept open
    for (let i = 0; i < 100 && answered < 256; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(answered >= 256, `connections answered: ${answered}`);
    let timer;
    const hung = new Promise((r) => { timer = setTimeout(() => r('hung'), 30000); });
    const res = await Promise.race([c.stop(), hung]);
    clearTimeout(timer);
    assert.notEqual(res, 'hung', 'cofferd did not exit within 30 s of SIGTERM');
    assert.equal(res.code, 0);
  } finally {
    for (const s of socks) s.destroy();
    await c.kill();
  }
});

// DESIGN §9: cofferd [--config FILE]. The file's keys are the flags' long
// names; flags on the command line come after it and win.
test('--config FILE: its flags apply, the command line overrides them, bad keys are refused', async () => {
  const dir = freshDir('coffer-config-');
  const cfg = join(dir, 'cofferd.json');
  writeFileSync(cfg, JSON.stringify({ registry: ['cfgone1', 'cfgtwo2'], 'upload-ttl': 120, 'insecure-no-auth': false }));
  // --insecure-no-auth from the command line wins over the file's false
  const c = await startCofferd({ args: ['--config', cfg, '--insecure-no-auth'] });
  try {
    for (const reg of ['cfgone1', 'cfgtwo2']) {
      const r = await fetch(`${c.url}/v2/${reg}/app/tags/list`);
      assert.equal(r.status, 404, `${reg} exists (NAME_UNKNOWN for the repository, not the registry)`);
      assert.match(await r.text(), /NAME_UNKNOWN/);
    }
    const r = await fetch(`${c.url}/v2/nosuchreg1/app/tags/list`);
    assert.match(await r.text(), /registry nosuchreg1 unknown/);
  } finally {
    await c.stop();
  }
  for (const [body, why] of [
    [{ nope: 1 }, /unknown argument '--nope'/],
    [{ threads: 'x' }, /--threads wants 1\.\.256/],
    [{ 'insecure-no-auth': 'yes' }, /'insecure-no-auth' wants true or false/],
    [{ config: 'other.json' }, /key 'config' is not allowed/],
    [[1, 2], /not a JSON object/],
    // a refused --registry NAME states ACR's rule and shows a name that keeps it
    [{ registry: ['my-registry'] }, /--registry 'my-registry': a registry name is 5-50 letters and digits only .*for example 'myregistry1'/],
  ]) {
    writeFileSync(cfg, JSON.stringify(body));
    const r = spawnSync(join(BUILD, 'cofferd'), ['--data', join(dir, 'data'), '--config', cfg], { encoding: 'utf8' });
    assert.equal(r.status, 2, `${JSON.stringify(body)}: exit ${r.status}`);
    assert.match(r.stderr, why);
  }
  rmSync(dir, { recursive: true, force: true });
});

// A daemon says "listening" only once every listener is bound: a client
// (or a script such as bench/run) that waits for the line must never be
// told to go ahead by a daemon that is about to exit because its second
// port is taken.
test('a listener that cannot bind fails the start before anything is announced', async () => {
  const busy = createServer();
  await new Promise((res, rej) => { busy.once('error', rej); busy.listen(0, '127.0.0.1', res); });
  const port = busy.address().port;
  const dir = freshDir('coffer-busy-');
  try {
    for (const [flags, which] of [
      [['--listen', '127.0.0.1:0', '--mgmt-listen', `127.0.0.1:${port}`], 'management'],
      [['--listen', `127.0.0.1:${port}`, '--mgmt-listen', '127.0.0.1:0'], 'data plane'],
    ]) {
      const r = spawnSync(join(BUILD, 'cofferd'), ['--data', join(dir, 'data'), '--insecure-no-auth', ...flags],
        { encoding: 'utf8', timeout: 30000 });
      assert.equal(r.status, 1, `${which} port taken: exit ${r.status} ${r.signal ?? ''}\n${r.stderr}`);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      assert.deepEqual(lines.filter((j) => j.msg === 'listening'), [], `${which} port taken: nothing may be announced\n${r.stderr}`);
      assert.ok(lines.some((j) => j.msg === 'cannot start' && j.level === 'error'), r.stderr);
    }
  } finally {
    busy.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

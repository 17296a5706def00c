// daemons.mjs -- start the real coffer daemons for end-to-end tests.
//
// Each daemon gets a fresh data directory under the OS temp dir and listens
// on 127.0.0.1 port 0; the port it bound is read from its JSON log line
// {"msg":"listening","port":"N"}. Logs go to <dataDir>.log so a failing test
// can show them. stop() sends SIGTERM and waits; kill() sends SIGKILL.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, createWriteStream, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BUILD = process.env.COFFER_BUILD || join(ROOT, 'build');

// A TCP port free on 127.0.0.1 now (for daemons whose port must be known
// before they start: the issuer URL keyvaultd trusts, run-demo's ports).
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

export function freshDir(prefix = 'coffer-e2e-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

// Starts `bin` with args; resolves once the daemon logs that it listens.
// opts.portMsg: the log message carrying "port" (default "listening").
export function startDaemon(bin, args, opts = {}) {
  const logPath = opts.logPath || `${freshDir('coffer-log-')}/daemon.log`;
  const log = createWriteStream(logPath);
  const proc = spawn(join(BUILD, bin), args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(opts.env || {}) } });
  const ports = {};
  let buffered = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${bin} did not start in time; log:\n${safeRead(logPath)}`));
    }, opts.timeoutMs || 15000);
    const want = opts.listeners || 1;
    let seen = 0;
    proc.stderr.on('data', (chunk) => {
      log.write(chunk);
      buffered += chunk.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const j = JSON.parse(line);
          if (j.msg === (opts.portMsg || 'listening') && j.port) {
            // cofferd logs two: "api":"data" (main) and "api":"management" (mgmt)
            ports[j.name || (j.api === 'management' ? 'mgmt' : 'main')] = Number(j.port);
            seen++;
            if (seen === want) {
              clearTimeout(timer);
              resolvePromise(handle);
            }
          }
        } catch { /* not JSON: keep it in the log */ }
      }
    });
    proc.stdout.on('data', (chunk) => log.write(chunk));
    proc.on('exit', (code, sig) => {
      clearTimeout(timer);
      handle.exited = { code, sig };
      if (seen < want) reject(new Error(`${bin} exited (${code ?? sig}) before listening; log:\n${safeRead(logPath)}`));
    });
    const handle = {
      proc, ports, logPath,
      get port() { return ports.main; },
      log: () => safeRead(logPath),
      // The daemon's stderr reaches the log file asynchronously: wait (up to
      // ms) until the log matches re; returns the log either way.
      async waitLog(re, ms = 5000) {
        const end = Date.now() + ms;
        let text = safeRead(logPath);
        while (!re.test(text) && Date.now() < end) {
          await new Promise((r) => setTimeout(r, 50));
          text = safeRead(logPath);
        }
        return text;
      },
      async stop() { return stopProc(proc, 'SIGTERM'); },
      async kill() { return stopProc(proc, 'SIGKILL'); },
    };
  });
}

function safeRead(p) {
  try { return readFileSync(p, 'utf8'); } catch { return ''; }
}

function stopProc(proc, sig) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    proc.once('exit', (code, signal) => res({ code, signal }));
    proc.kill(sig);
  });
}

// cofferd on free loopback ports (data plane and management API) with a
// fresh data dir. d.url is the data plane, d.mgmtUrl the management API
// (each https:// when args give it a certificate),
// d.adminToken its bearer credential. The data plane runs without
// authentication (--insecure-no-auth: protocol tests) unless auth is true.
export async function startCofferd({ dataDir = freshDir(), args = [], env, auth = false } = {}) {
  const mgmt = args.includes('--mgmt-listen') ? [] : ['--mgmt-listen', '127.0.0.1:0'];
  const open = auth || args.includes('--insecure-no-auth') ? [] : ['--insecure-no-auth'];
  const d = await startDaemon('cofferd', ['--data', dataDir, '--listen', '127.0.0.1:0', ...mgmt, ...open, ...args],
    { env, listeners: 2 });
  d.dataDir = dataDir;
  // https where a certificate serves the listener (docs/tls.md)
  const has = (f) => args.includes(f);
  d.url = `${has('--tls-cert') || has('--data-tls-cert') ? 'https' : 'http'}://127.0.0.1:${d.port}`;
  d.mgmtUrl = `${has('--tls-cert') || has('--mgmt-tls-cert') ? 'https' : 'http'}://127.0.0.1:${d.ports.mgmt}`;
  d.adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  return d;
}

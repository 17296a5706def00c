// daemons.mjs -- start the real coffer daemons for end-to-end tests.
//
// Each daemon gets a fresh data directory under the OS temp dir and listens
// on 127.0.0.1 port 0; the port it bound is read from its JSON log line
// {"msg":"listening","port":"N"}. Logs go to <dataDir>.log so a failing test
// can show them. stop() sends SIGTERM and waits; kill() sends SIGKILL.
//
// Backends: by default cofferd keeps its metadata in SQLite and its sealed
// objects in files, both in its data directory. With COFFER_TEST_PG set (a
// libpq URI of a PostgreSQL server's "postgres" database,
// tests/fixtures/pg-fixture), every cofferd started here gets `--database`
// on a database of its own on that server; with COFFER_TEST_S3 set (an S3
// endpoint, tests/fixtures/rgw-fixture), `--objects` on a bucket of its
// own (lib/objects.mjs), its keys in the environment. One database and one
// bucket per data directory: a restart with the same directory finds its
// data.
import { after } from 'node:test';
import { spawn, execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, createWriteStream, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3, s3Args, s3Env } from './objects.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BUILD = process.env.COFFER_BUILD || join(ROOT, 'build');

// A TCP port free on 127.0.0.1 now (for daemons whose port must be known
// before they start: the issuer URL keyvaultd trusts, run-demo's ports),
// or the first of count consecutive free ports: tests/fixtures/free-port,
// which takes it below the kernel's ephemeral range, where neither another
// test's bind to port 0 nor any outgoing connection's source port can take
// it before the daemon binds it (run-cluster binds haproxy half a minute
// after it was chosen).
export function freePort(count = 1) {
  return new Promise((resolve, reject) => {
    execFile(join(ROOT, 'tests/fixtures/free-port'), [String(count)], (err, out) => {
      if (err) reject(err); else resolve(Number(out.trim()));
    });
  });
}

// The metadata backend the e2e tests run on: 'sqlite' or 'postgres'.
export const PG = process.env.COFFER_TEST_PG || '';
export const BACKEND = PG ? 'postgres' : 'sqlite';

// Runs one SQL statement on the PostgreSQL test server (database db, or
// its "postgres" database); rows as arrays of strings (psql -At, tab).
export function pgQuery(sql, db = null) {
  const url = db ? PG.replace(/\/[^/]*$/, `/${db}`) : PG;
  const out = execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-AtF', '\t', '-c', sql], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

// The PostgreSQL database of cofferd's data directory dataDir (created on
// first use): its name, and the URI cofferd's --database gets.
export function pgDatabase(dataDir) {
  const name = 'c' + createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 24);
  if (pgQuery(`SELECT 1 FROM pg_database WHERE datname = '${name}'`).length === 0) pgQuery(`CREATE DATABASE ${name}`);
  return { name, url: PG.replace(/\/[^/]*$/, `/${name}`) };
}

// One SQL statement on the metadata of cofferd's data directory dataDir
// (the daemon stopped, or between its transactions): its SQLite file, or
// its PostgreSQL database. query: text both engines accept, or
// { sqlite, postgres } where they differ. Rows as arrays of strings (a
// NULL is ''). readonly: false to write (SQLite opens read-only otherwise).
export function metaSql(dataDir, query, { readonly = true } = {}) {
  const q = typeof query === 'string' ? query : query[BACKEND];
  if (PG) return pgQuery(q, pgDatabase(dataDir).name);
  const out = execFileSync('sqlite3', [...(readonly ? ['-readonly'] : []), '-separator', '\t',
    join(dataDir, 'cofferd.db'), q], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.length).map((l) => l.split('\t'));
}

// The same as objects named by their columns (a SELECT).
export function metaRows(dataDir, query) {
  const q = typeof query === 'string' ? query : query[BACKEND];
  if (PG) {
    const [[json]] = pgQuery(`SELECT coalesce(json_agg(t), '[]'::json) FROM (${q}) t`, pgDatabase(dataDir).name);
    return JSON.parse(json);
  }
  const out = execFileSync('sqlite3', ['-readonly', '-json', join(dataDir, 'cofferd.db'), q]).toString().trim();
  return out ? JSON.parse(out) : [];
}

// The metadata as it is at rest: the SQLite file and its write-ahead log,
// or a pg_dump of the PostgreSQL database (what a backup of it holds).
export function metaBytes(dataDir) {
  if (PG) return execFileSync('pg_dump', [pgDatabase(dataDir).url], { maxBuffer: 1 << 28 });
  const f = join(dataDir, 'cofferd.db');
  return Buffer.concat([readFileSync(f), existsSync(`${f}-wal`) ? readFileSync(`${f}-wal`) : Buffer.alloc(0)]);
}

// The engine's own consistency check: SQLite's integrity_check; a
// PostgreSQL server is not the process the tests crash, so it only has
// to answer.
export function metaIntegrity(dataDir) {
  return metaSql(dataDir, { sqlite: 'PRAGMA integrity_check', postgres: "SELECT 'ok'" });
}

// cofferd's arguments on the backends under test.
function backendArgs(bin, args) {
  if (bin !== 'cofferd' || args[0] === 'migrate') return args;
  const i = args.indexOf('--data');
  if (i < 0 || i + 1 >= args.length) return args;
  const extra = [];
  if (PG && !args.includes('--database')) extra.push('--database', pgDatabase(args[i + 1]).url);
  if (S3 && !args.includes('--objects')) extra.push(...s3Args(args[i + 1]));
  return [...args, ...extra];
}

// Every daemon started here (and haproxy, docker-registry: track()) that
// has not exited yet. A test file whose before hook fails part-way (the
// vault up, then cofferd refused to start) never stops the daemons that
// did start: its after hook only knows what the before hook assigned, and
// one live child keeps node, and with it the file and the whole suite,
// from ever ending. So the file's root after hook, which node:test runs
// once every test of the file is over, however they ended, stops what is
// left (SIGTERM, SIGKILL 5 s later) and says so.
const live = new Set();
export function track(proc) {
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  return proc;
}
after(async () => {
  if (live.size === 0) return;
  process.stderr.write(`daemons.mjs: stopping ${live.size} daemon(s) the test file left running\n`);
  await Promise.all([...live].map(async (p) => {
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await stopProc(p, 'SIGTERM');
    clearTimeout(t);
  }));
});

export function freshDir(prefix = 'coffer-e2e-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

// Starts `bin` with args; resolves once the daemon logs that it listens.
// opts.portMsg: the log message carrying "port" (default "listening").
// A bind to port 0 that the kernel refuses (EADDRINUSE: no free port left
// for a moment, every one held by a TIME_WAIT socket of the suites that
// share the machine: a fresh-machine run beside two test suites) is tried
// again, twice, after a pause, and says so on stderr; any other failure
// to start is the test's.
export async function startDaemon(bin, args, opts = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDaemonOnce(bin, args, opts);
    } catch (err) {
      if (attempt >= 3 || !/Failed to bind to port 0: Address already in use/.test(err.message)) throw err;
      process.stderr.write(`${bin}: no free loopback port (attempt ${attempt}); trying again\n`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

function startDaemonOnce(bin, args, opts) {
  const logPath = opts.logPath || `${freshDir('coffer-log-')}/daemon.log`;
  const log = createWriteStream(logPath);
  args = backendArgs(bin, args);
  const s3env = S3 && bin === 'cofferd' ? s3Env() : {};
  const proc = track(spawn(join(BUILD, bin), args,
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...s3env, ...(opts.env || {}) } }));
  const ports = {};
  let buffered = '';
  let early = ''; // what it printed before listening, for the error when it exits first
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${bin} did not start in time; log:\n${safeRead(logPath)}`));
    }, opts.timeoutMs || 15000);
    const want = opts.listeners || 1;
    let seen = 0;
    proc.stderr.on('data', (chunk) => {
      log.write(chunk);
      if (seen < want) early += chunk.toString();
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
    proc.stdout.on('data', (chunk) => {
      log.write(chunk);
      if (seen < want) early += chunk.toString();
    });
    proc.on('exit', (code, sig) => {
      clearTimeout(timer);
      handle.exited = { code, sig };
    });
    // 'close', not 'exit': only then has all the daemon wrote come through
    // its pipes (at 'exit' its last lines, the reason it stopped, may still
    // be in flight, and the log file is written asynchronously besides)
    proc.on('close', (code, sig) => {
      if (seen < want) reject(new Error(`${bin} exited (${code ?? sig}) before listening; log:\n${early}`));
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

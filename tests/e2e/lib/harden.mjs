// harden.mjs -- helpers shared by the hardening e2e tests (tests/e2e/harden-*).
//
// A seeded PRNG (so a failing run can be replayed with HARDEN_SEED=N), a
// cofferd handle that can be killed and restarted on the same data dir with
// other flags, SQL on a stopped daemon's metadata (SQLite or PostgreSQL), and the
// cross-check "every metadata row points at an object that exists".
import { dirname } from 'node:path';
import assert from 'node:assert/strict';
import { startCofferd, metaSql, metaIntegrity } from './daemons.mjs';
import { tempDir, removeAtExit } from './oci.mjs';
import { S3, blobKey, uploadKey, objectHas } from './objects.mjs';

// mulberry32: small, fast, good enough to pick sizes and moments.
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int(lo, hi) { return lo + Math.floor(next() * (hi - lo + 1)); },
    bytes(n) {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i += 4) {
        const v = (next() * 4294967296) >>> 0;
        b[i] = v & 0xff; if (i + 1 < n) b[i + 1] = (v >>> 8) & 0xff;
        if (i + 2 < n) b[i + 2] = (v >>> 16) & 0xff; if (i + 3 < n) b[i + 3] = v >>> 24;
      }
      return b;
    },
  };
}

export function seedFromEnv(name) {
  const s = process.env.HARDEN_SEED ? Number(process.env.HARDEN_SEED) : (Date.now() ^ process.pid) >>> 0;
  console.log(`# ${name}: seed ${s} (replay with HARDEN_SEED=${s})`);
  return s;
}

// cofferd with registry `registry` on dataDir; restart(args) starts it again
// on the same dir (new port) with other extra flags.
export async function startServer({ registry = 'demo1', args = [], dataDir = tempDir('coffer-harden-') } = {}) {
  const h = {
    registry, dataDir, d: null,
    get url() { return this.d.url; },
    log() { return this.d.log(); },
    waitLog(re, ms) { return this.d.waitLog(re, ms); },
    async start(extra = args) {
      this.d = await startCofferd({ dataDir, args: ['--registry', registry, ...extra] });
      removeAtExit(dirname(this.d.logPath));
      return this;
    },
    kill() { return this.d.kill(); },
    stop() { return this.d.stop(); },
  };
  return h.start();
}

// Runs one SQL statement on the daemon's metadata (SQLite or PostgreSQL,
// daemons.mjs metaSql); rows as arrays of strings.
export const sql = metaSql;

export function registryId(dataDir, name) {
  const rows = sql(dataDir, `SELECT id FROM registries WHERE name='${name}'`);
  assert.equal(rows.length, 1, `registry ${name} in the database`);
  return rows[0][0];
}

// On a stopped daemon: PRAGMA integrity_check is ok and no row points at a
// missing object or row (objects on the backend under test: lib/objects.mjs).
// Returns counts for the log.
// uploadsWithoutFile: tolerate upload rows whose data is gone (a
// completion cut between the install as a blob and the commit: the upload
// answers 404 and its row and checkpoint go at the TTL); counted instead.
// An upload's data is its file, or in a bucket its checkpoint (every
// upload a client comes back to gets one at creation there).
export function checkMetadata(dataDir, { uploadsWithoutFile = false } = {}) {
  assert.deepEqual(metaIntegrity(dataDir), [['ok']], 'integrity_check');
  const missing = [];
  let lingering = 0;
  for (const [reg, digest] of sql(dataDir, 'SELECT registry_id, digest FROM blobs')) {
    if (!objectHas(dataDir, blobKey(reg, digest))) missing.push(`blob ${digest}`);
  }
  for (const [reg, repo, digest] of sql(dataDir, 'SELECT registry_id, repo, digest FROM manifests')) {
    if (!objectHas(dataDir, blobKey(reg, digest))) missing.push(`manifest ${repo}@${digest}`);
  }
  for (const [reg, uuid] of sql(dataDir, 'SELECT registry_id, uuid FROM uploads')) {
    if (!objectHas(dataDir, uploadKey(reg, uuid) + (S3 ? '.state' : ''))) {
      if (uploadsWithoutFile) lingering++;
      else missing.push(`upload ${uuid} without its data file`);
    }
  }
  const dangling = (q, what) => { for (const r of sql(dataDir, q)) missing.push(`${what} ${r.join(' ')}`); };
  dangling('SELECT t.repo, t.tag FROM tags t LEFT JOIN manifests m ON m.registry_id=t.registry_id AND m.repo=t.repo AND m.digest=t.digest WHERE m.digest IS NULL', 'tag without manifest');
  dangling('SELECT r.repo, r.digest FROM repo_blobs r LEFT JOIN blobs b ON b.registry_id=r.registry_id AND b.digest=r.digest WHERE b.digest IS NULL', 'repo link without blob');
  dangling('SELECT f.repo, f.digest, f.ref FROM manifest_refs f LEFT JOIN manifests m ON m.registry_id=f.registry_id AND m.repo=f.repo AND m.digest=f.digest WHERE m.digest IS NULL', 'reference of a missing manifest');
  assert.deepEqual(missing, [], 'metadata rows pointing at nothing');
  return {
    blobs: sql(dataDir, 'SELECT count(*) FROM blobs')[0][0],
    manifests: sql(dataDir, 'SELECT count(*) FROM manifests')[0][0],
    uploads: sql(dataDir, 'SELECT count(*) FROM uploads')[0][0],
    uploadRowsWithoutFile: lingering,
  };
}

// The JSON log lines of a daemon, parsed.
export function logLines(text) {
  const out = [];
  for (const l of text.split('\n')) { try { out.push(JSON.parse(l)); } catch { /* not JSON */ } }
  return out;
}


// oci.mjs -- a small OCI Distribution client over fetch, for end-to-end tests.
//
// It speaks the wire protocol directly (no client library between the test
// and the registry) so a test can send exactly the request it means,
// including malformed ones, and look at every status, header and error body.
//
//   const reg = await startRegistry();           // cofferd with registry "demo1"
//   const c = new OciClient(reg.url, `${reg.registry}/app`);
//   const d = await c.pushBlob(buf);             // POST + PUT ?digest=
//   await c.putManifest('v1', manifestObject);   // returns the response
//   const r = await c.get(`/blobs/${d}`, { headers: { Range: 'bytes=0-9' } });
//
// startRegistry() starts cofferd (tests/e2e/lib/daemons.mjs). With
// COFFER_E2E_TARGET=distribution it starts Debian's docker-registry (CNCF
// Distribution) instead: the way to check that a test is right about the
// protocol, and that coffer-only checks (sealing, durable offsets) can fail.
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync, readdirSync, statSync, openSync, readSync, closeSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import assert from 'node:assert/strict';
import { startCofferd, freshDir, freePort, track } from './daemons.mjs';
import { bucketObjectsContaining } from './objects.mjs';

export const SEGMENT = 65536; // sealed-object plaintext segment (DESIGN §3)

export const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerTar: 'application/vnd.oci.image.layer.v1.tar',
  empty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
};

export const EMPTY_JSON = Buffer.from('{}');

export function sha256(buf) {
  return 'sha256:' + createHash('sha256').update(buf).digest('hex');
}

export function descriptor(mediaType, buf, extra = {}) {
  return { mediaType, digest: sha256(buf), size: buf.length, ...extra };
}

// Temp dirs made by these helpers, removed when the test process exits
// (keep them with COFFER_E2E_KEEP=1 to look at a failure).
const scratch = [];
export function tempDir(prefix = 'coffer-e2e-') {
  const d = freshDir(prefix);
  scratch.push(d);
  return d;
}
export function removeAtExit(path) { scratch.push(path); }
process.on('exit', () => {
  if (process.env.COFFER_E2E_KEEP) return;
  for (const d of scratch) { try { rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ } }
});

export const TARGET = process.env.COFFER_E2E_TARGET || 'cofferd';

// A registry under test: { url, registry, dataDir, logPath, kill(), stop(),
// restart() }. restart() starts the same server again on the same data dir
// (a new port: read url again). Without authentication (--insecure-no-auth,
// as docker-registry) unless auth is true.
export async function startRegistry({ registry = 'demo1', args = [], auth = false } = {}) {
  if (TARGET === 'distribution') return startDistribution({ registry });
  const cofferArgs = ['--registry', registry, ...args];
  const d = await startCofferd({ dataDir: tempDir('coffer-data-'), args: cofferArgs, auth });
  removeAtExit(dirname(d.logPath));
  const h = {
    registry, dataDir: d.dataDir, daemon: d,
    get url() { return this.daemon.url; },
    get logPath() { return this.daemon.logPath; },
    log() { return this.daemon.log(); },
    kill() { return this.daemon.kill(); },
    stop() { return this.daemon.stop(); },
    async restart() {
      this.daemon = await startCofferd({ dataDir: this.dataDir, args: cofferArgs, auth });
      removeAtExit(dirname(this.daemon.logPath));
      return this;
    },
  };
  return h;
}

// Debian's docker-registry with filesystem storage on a free loopback port.
// It logs no JSON "listening" line, so take a port ourselves.
export async function startDistribution({ registry }) {
  const dataDir = tempDir('coffer-dist-');
  const start = async () => {
    const port = await freePort();
    const cfg = join(tempDir('coffer-distcfg-'), 'config.yml');
    writeFileSync(cfg, [
      'version: 0.1',
      'log: {level: error}',
      `storage: {filesystem: {rootdirectory: ${dataDir}}, delete: {enabled: true}}`,
      `http: {addr: "127.0.0.1:${port}"}`,
      '',
    ].join('\n'));
    const { spawn } = await import('node:child_process');
    const proc = track(spawn('docker-registry', ['serve', cfg], { stdio: 'ignore' }));
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      try { if ((await fetch(`${url}/v2/`)).ok) break; } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 50));
    }
    const stopWith = (sig) => new Promise((res) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return res();
      proc.once('exit', res); proc.kill(sig);
    });
    return { url, kill: () => stopWith('SIGKILL'), stop: () => stopWith('SIGTERM') };
  };
  let cur = await start();
  return {
    registry, dataDir, logPath: null,
    get url() { return cur.url; },
    log() { return ''; },
    kill() { return cur.kill(); },
    stop() { return cur.stop(); },
    async restart() { cur = await start(); return this; },
  };
}


export class OciClient {
  // base: http://127.0.0.1:PORT (or a function returning it, so a client
  // survives a restart); name: repository name, e.g. "demo1/app".
  constructor(base, name) {
    this.baseOf = typeof base === 'function' ? base : () => base;
    this.name = name;
  }

  get base() { return this.baseOf(); }

  // path relative to /v2/<name> ("/blobs/...") or absolute ("/v2/...").
  url(path) {
    if (/^https?:/.test(path)) return path;
    if (path.startsWith('/v2/')) return this.base + path;
    return `${this.base}/v2/${this.name}${path}`;
  }

  async req(method, path, { headers = {}, body } = {}) {
    const r = await fetch(this.url(path), { method, headers, body, redirect: 'manual' });
    const buf = Buffer.from(await r.arrayBuffer());
    return { status: r.status, headers: r.headers, body: buf, json: () => JSON.parse(buf.toString()) };
  }

  get(path, opts) { return this.req('GET', path, opts); }
  head(path, opts) { return this.req('HEAD', path, opts); }
  del(path, opts) { return this.req('DELETE', path, opts); }

  // Location header resolved against the registry (it may be relative).
  location(r) {
    const loc = r.headers.get('location');
    assert.ok(loc, `no Location header (status ${r.status}: ${r.body})`);
    return new URL(loc, this.base + '/').toString();
  }

  // Rewrites an upload location onto the current base (after a restart the
  // port changes; the path and query stay valid).
  rebase(loc) {
    const u = new URL(loc);
    return this.base + u.pathname + u.search;
  }

  async startUpload() {
    const r = await this.req('POST', '/blobs/uploads/');
    assert.equal(r.status, 202, `POST upload: ${r.status} ${r.body}`);
    return this.location(r);
  }

  async patch(loc, chunk, start) {
    const headers = { 'Content-Type': 'application/octet-stream' };
    if (start !== undefined) headers['Content-Range'] = `${start}-${start + chunk.length - 1}`;
    return this.req('PATCH', loc, { headers, body: chunk });
  }

  async finish(loc, digest, body) {
    const u = new URL(loc);
    u.searchParams.set('digest', digest);
    const headers = body ? { 'Content-Type': 'application/octet-stream' } : {};
    return this.req('PUT', u.toString(), { headers, body });
  }

  // POST then one PUT with the whole body; returns the digest.
  async pushBlob(buf) {
    const digest = sha256(buf);
    const loc = await this.startUpload();
    const r = await this.finish(loc, digest, buf);
    assert.equal(r.status, 201, `PUT blob: ${r.status} ${r.body}`);
    assert.equal(r.headers.get('docker-content-digest'), digest);
    return digest;
  }

  async putManifest(ref, manifest, mediaType = manifest.mediaType) {
    const body = Buffer.isBuffer(manifest) ? manifest : Buffer.from(JSON.stringify(manifest));
    return this.req('PUT', `/manifests/${ref}`, { headers: { 'Content-Type': mediaType }, body });
  }

  async getManifest(ref, accept = [MT.manifest, MT.index, MT.dockerManifest, MT.dockerList]) {
    return this.get(`/manifests/${ref}`, { headers: { Accept: accept.join(', ') } });
  }
}

// Asserts an error response in the spec's format: {"errors":[{"code":...}]}.
export function assertOciError(r, status, code, what = '') {
  assert.equal(r.status, status, `${what}: status ${r.status}, body ${r.body}`);
  let j;
  try { j = r.json(); } catch { assert.fail(`${what}: error body is not JSON: ${r.body}`); }
  assert.ok(Array.isArray(j.errors) && j.errors.length > 0, `${what}: no errors array: ${r.body}`);
  const codes = j.errors.map((e) => e.code);
  if (Array.isArray(code)) assert.ok(code.some((c) => codes.includes(c)), `${what}: codes ${codes}, wanted one of ${code}`);
  else assert.ok(codes.includes(code), `${what}: codes ${codes}, wanted ${code}`);
  for (const e of j.errors) assert.equal(typeof e.message, 'string', `${what}: error without message`);
}

// Parses "0-N" (or "bytes=0-N") into the exclusive end N+1; "0-0" with no
// bytes is ambiguous in the spec, so callers pass what they expect.
export function rangeEnd(h) {
  const m = /^(?:bytes=)?0-(\d+)$/.exec(h || '');
  assert.ok(m, `bad Range header: ${h}`);
  return Number(m[1]) + 1;
}

export function randomBuf(n) { return randomBytes(n); }

// Every regular file under dir, recursively.
export function listFiles(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

// Files under dir (and extra paths) containing needle; reads in 1 MiB
// pieces with an overlap so a needle across pieces is still found. On the
// S3 backend every object of dir's bucket is searched too (its hits are
// named s3://bucket/key).
export function filesContaining(dir, needle, extra = []) {
  const hits = [];
  const n = Buffer.from(needle);
  for (const f of [...listFiles(dir), ...extra]) {
    let fd;
    try { fd = openSync(f, 'r'); } catch { continue; }
    try {
      const size = statSync(f).size;
      const piece = Buffer.alloc(1 << 20);
      let carry = Buffer.alloc(0);
      for (let pos = 0; pos < size;) {
        const got = readSync(fd, piece, 0, piece.length, pos);
        if (got <= 0) break;
        pos += got;
        const hay = Buffer.concat([carry, piece.subarray(0, got)]);
        if (hay.includes(n)) { hits.push(f); break; }
        carry = hay.subarray(Math.max(0, hay.length - n.length + 1));
      }
    } finally { closeSync(fd); }
  }
  hits.push(...bucketObjectsContaining(dir, needle));
  return hits;
}

// One image (a layer and a config blob carrying `marker`, then the
// manifest under tag), each blob by POST and a completing PUT. The
// answers go to `seen`; resolves to { tag, manifest, layer } when the
// manifest PUT was acknowledged (201), else null (given up at the first
// answer that is not a success): pushes through an outage.
export async function pushMarkedImage(c, tag, seen, marker) {
  const layer = Buffer.concat([Buffer.from(`${marker}-${tag}-`), randomBytes(20000)]);
  const config = Buffer.from(`{"architecture":"amd64","os":"linux","marker":"${marker}"}`);
  for (const blob of [layer, config]) {
    const start = await c.req('POST', '/blobs/uploads/');
    seen.push(start);
    if (start.status !== 202) return null;
    const put = await c.finish(c.location(start), sha256(blob), blob);
    seen.push(put);
    if (put.status !== 201) return null;
  }
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MT.manifest,
    config: { mediaType: MT.config, digest: sha256(config), size: config.length },
    layers: [{ mediaType: MT.layerTar, digest: sha256(layer), size: layer.length }],
  }));
  const m = await c.putManifest(tag, manifest, MT.manifest);
  seen.push(m);
  return m.status === 201 ? { tag, manifest, layer } : null;
}

// `n` pushers of pushMarkedImage in a loop (tags t0, t1, ...) until stop():
// the load an outage test cuts the store under. until(cond) waits for the
// acknowledged images to reach a point, bounded (30 s: a loaded machine is
// slow, not broken); stop() ends the loops and waits for them.
export function startMarkedPushers(c, marker, n = 3) {
  const acked = [];
  const seen = [];
  let stopped = false;
  let next = 0;
  const loop = async () => {
    while (!stopped) {
      const img = await pushMarkedImage(c, `t${next++}`, seen, marker);
      if (img) acked.push(img);
    }
  };
  const loops = Array.from({ length: n }, loop);
  return {
    acked, seen,
    until: async (cond) => {
      for (let i = 0; i < 300 && !cond(); i++) await new Promise((r) => setTimeout(r, 100));
    },
    stop: async () => { stopped = true; await Promise.all(loops); },
  };
}

// After an outage under pushMarkedImage: every answer seen was a success
// or 503 UNAVAILABLE (never 500, never a wrong 4xx), and nothing
// acknowledged is lost: every acked image pulls back bit-identical.
export async function checkOutage(c, seen, acked) {
  for (const r of seen) {
    if (r.status === 503) assertOciError(r, 503, 'UNAVAILABLE', 'during the outage');
    else assert.ok(r.status === 201 || r.status === 202, `status ${r.status}: ${r.body}`);
  }
  for (const img of acked) {
    const m = await c.getManifest(img.tag);
    assert.equal(m.status, 200, `${img.tag}: ${m.status} ${m.body}`);
    assert.ok(m.body.equals(img.manifest), `${img.tag}: manifest differs`);
    const l = await c.get(`/blobs/${sha256(img.layer)}`);
    assert.equal(l.status, 200, `${img.tag} layer: ${l.status}`);
    assert.ok(l.body.equals(img.layer), `${img.tag}: layer differs`);
  }
}

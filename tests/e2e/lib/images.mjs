// images.mjs -- build real OCI images offline and drive real clients.
//
// buildImage() makes an OCI image layout with umoci (init, new, unpack
// --rootless, then one repack per layer), so the bytes pushed in a test are
// what a user's build tool would produce. skopeo() and podman() run those
// clients with private state: skopeo keeps a blob-info cache (where it saw
// each blob) under /var/lib/containers/cache when run as root and would
// later mount blobs across repositories instead of uploading them, so each
// call gets its own empty cache, bind-mounted over that path in a private
// mount namespace (`unshare -m`); podman gets its own --root and --runroot,
// which also holds its cache.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, writeFileSync, readFileSync, openSync, writeSync, closeSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tempDir as freshDir } from './oci.mjs';

const run = promisify(execFile);
const BIG = { maxBuffer: 64 << 20 };

export async function sh(cmd, args, opts = {}) {
  try {
    return await run(cmd, args, { ...BIG, ...opts });
  } catch (e) {
    e.message = `${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stderr || ''}`;
    throw e;
  }
}

// Writes n random bytes to path without holding them all in memory.
export function writeRandomFile(path, n) {
  mkdirSync(join(path, '..'), { recursive: true });
  const fd = openSync(path, 'w');
  try {
    for (let left = n; left > 0;) {
      const piece = randomBytes(Math.min(left, 1 << 20));
      writeSync(fd, piece);
      left -= piece.length;
    }
  } finally { closeSync(fd); }
}

// Builds an OCI layout at <dir>/layout with tag `tag` and one layer per
// entry of `layers`; each entry is a function (rootfs) => void that changes
// the root filesystem. Returns the layout path.
export async function buildImage({ tag = 'v1', layers }) {
  const dir = freshDir('coffer-img-');
  const layout = join(dir, 'layout');
  const bundle = join(dir, 'bundle');
  await sh('umoci', ['init', '--layout', layout]);
  await sh('umoci', ['new', '--image', `${layout}:${tag}`]);
  await sh('umoci', ['unpack', '--rootless', '--image', `${layout}:${tag}`, bundle]);
  for (const change of layers) {
    change(join(bundle, 'rootfs'));
    await sh('umoci', ['repack', '--refresh-bundle', '--image', `${layout}:${tag}`, bundle]);
  }
  await sh('umoci', ['gc', '--layout', layout]);
  return layout;
}

// The manifest of `tag` in an OCI layout, with its digest and the parsed
// config: { digest, manifest, config, configDigest, layers: [digest...] }.
export function readLayout(layout, tag) {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const desc = tag
    ? index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)
    : index.manifests[0];
  if (!desc) throw new Error(`tag ${tag} not in ${layout}`);
  const blob = (d) => readFileSync(join(layout, 'blobs', ...d.split(':')));
  const raw = blob(desc.digest);
  const manifest = JSON.parse(raw);
  const out = { digest: desc.digest, mediaType: desc.mediaType, raw, manifest, blob };
  if (manifest.config) {
    out.configDigest = manifest.config.digest;
    out.config = JSON.parse(blob(manifest.config.digest));
    out.layers = manifest.layers.map((l) => l.digest);
  }
  return out;
}

const SYS_CACHE = '/var/lib/containers/cache';
let unshareWorks;

async function canUnshare() {
  if (unshareWorks !== undefined) return unshareWorks;
  try {
    mkdirSync(SYS_CACHE, { recursive: true });
    const probe = freshDir('coffer-cache-');
    await run('unshare', ['-m', 'sh', '-c', 'mount --bind "$1" "$2"', 'sh', probe, SYS_CACHE]);
    unshareWorks = true;
  } catch { unshareWorks = false; }
  return unshareWorks;
}

// Runs skopeo with a private, empty blob-info cache and a private $HOME
// (opts.cache: a directory to use instead, so that several calls share
// what skopeo learns, e.g. where blobs were seen, which makes it mount;
// opts.env: more environment, e.g. REGISTRY_AUTH_FILE or XDG_RUNTIME_DIR).
export async function skopeo(args, opts = {}) {
  const cache = opts.cache || freshDir('coffer-skopeo-cache-');
  const env = { ...process.env, HOME: cache, XDG_DATA_HOME: join(cache, 'share'), ...(opts.env || {}) };
  if (process.getuid?.() === 0 && await canUnshare()) {
    return sh('unshare', ['-m', 'sh', '-c', 'mount --bind "$1" "$2" && shift 2 && exec skopeo "$@"',
      'sh', cache, SYS_CACHE, ...args], { env });
  }
  return sh('skopeo', args, { env }); // rootless: the cache lives under $XDG_DATA_HOME
}

// A podman with its own storage (vfs), run root, and blob-info cache.
export function makePodman() {
  const dir = freshDir('coffer-podman-');
  const base = ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--storage-driver', 'vfs',
    '--cgroup-manager', 'cgroupfs', '--events-backend', 'none'];
  const env = { ...process.env, HOME: dir, XDG_RUNTIME_DIR: join(dir, 'xdg') };
  mkdirSync(env.XDG_RUNTIME_DIR, { recursive: true });
  return { dir, run: (args) => sh('podman', [...base, ...args], { env }) };
}

// Writes a file, creating parent directories.
export function put(root, rel, data) {
  const p = join(root, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, data);
  return p;
}

export { existsSync };

// A gzip-compressed tar layer holding `files` ({path: content}); returns
// the compressed bytes.
export async function tarGzLayer(files) {
  const dir = freshDir('coffer-layer-');
  const root = join(dir, 'root');
  mkdirSync(root);
  for (const [rel, data] of Object.entries(files)) put(root, rel, data);
  const out = join(dir, 'layer.tar.gz');
  await sh('tar', ['--sort=name', '--owner=0', '--group=0', '--mtime=@0', '-czf', out, '-C', root, '.']);
  return readFileSync(out);
}

// registry-podman: podman (root, vfs storage, no daemon) pushes an image to
// cofferd and pulls it back. podman uploads every blob as a streamed PATCH
// without Content-Length and recompresses layers, so the check is on the
// uncompressed layer digests (diff_ids) and the config's content.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, symlinkSync } from 'node:fs';
import { startRegistry, OciClient, MT, removeAtExit } from './lib/oci.mjs';
import { buildImage, put, writeRandomFile, readLayout, makePodman } from './lib/images.mjs';

let reg;
let podman;
let why = null;
before(async () => {
  podman = makePodman();
  try {
    await podman.run(['info', '--format', '{{.Store.GraphDriverName}}']);
  } catch (e) {
    why = `podman cannot run in this sandbox: ${String(e.message).split('\n')[0]}`;
    return;
  }
  reg = await startRegistry();
});
after(async () => { await reg?.stop(); });

test('podman pushes an image and pulls it back with the same layers', async (t) => {
  if (why) { t.skip(why); return; }
  const src = await buildImage({
    tag: 'v1',
    layers: [
      (r) => { put(r, 'etc/motd', 'podman e2e\n'); },
      (r) => { writeRandomFile(join(r, 'data/blob.bin'), 3 << 20); },
    ],
  });
  const s = readLayout(src, 'v1');
  const ref = `127.0.0.1:${new URL(reg.url).port}/${reg.registry}/pod:v1`;

  // podman names the image after the layout's path, which must be lowercase.
  const link = join(podman.dir, 'src').toLowerCase().replace(/[^a-z0-9/_.-]/g, '');
  mkdirSync(join(link, '..'), { recursive: true });
  symlinkSync(src, link);
  removeAtExit(join(link, '..'));
  await podman.run(['pull', '-q', `oci:${link}:v1`]);
  const { stdout: id } = await podman.run(['images', '-q', '--no-trunc']);
  await podman.run(['tag', id.trim().split('\n')[0], ref]);
  await podman.run(['push', '-q', '--tls-verify=false', ref]);

  const c = new OciClient(reg.url, `${reg.registry}/pod`);
  const m = await c.getManifest('v1');
  assert.equal(m.status, 200, `${m.status} ${m.body}`);
  const pushed = m.json();
  assert.ok([MT.manifest, MT.dockerManifest].includes(m.headers.get('content-type')));
  assert.equal(pushed.layers.length, 2);
  for (const l of pushed.layers) assert.equal((await c.head(`/blobs/${l.digest}`)).status, 200, l.digest);
  const cfg = JSON.parse((await c.get(`/blobs/${pushed.config.digest}`)).body);
  assert.deepEqual(cfg.rootfs.diff_ids, s.config.rootfs.diff_ids, 'uncompressed layer digests');

  await podman.run(['rmi', '-a', '-f']);
  await podman.run(['pull', '-q', '--tls-verify=false', ref]);
  const { stdout } = await podman.run(['image', 'inspect', ref]);
  const img = JSON.parse(stdout)[0];
  assert.deepEqual(img.RootFS.Layers, s.config.rootfs.diff_ids);
  assert.equal(img.Digest, m.headers.get('docker-content-digest'));
});

// registry-skopeo: a real image, built with umoci, pushed and pulled with
// skopeo through cofferd; every digest must survive the round trip.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { startRegistry, OciClient, sha256, MT, tempDir } from './lib/oci.mjs';
import { buildImage, put, writeRandomFile, readLayout, skopeo } from './lib/images.mjs';

let reg;
let src;
before(async () => {
  reg = await startRegistry();
  src = await buildImage({
    tag: 'v1',
    layers: [
      (r) => { put(r, 'etc/motd', 'coffer e2e\n'); put(r, 'etc/app/settings.ini', '[a]\nb=1\n'); },
      (r) => { writeRandomFile(join(r, 'data/random.bin'), 64 << 20); },
      (r) => { put(r, 'app/run.sh', '#!/bin/sh\necho hi\n'); },
    ],
  });
});
after(async () => { await reg?.stop(); });

test('skopeo pushes a umoci image (64 MiB layer) and pulls it back with every digest intact', async () => {
  const s = readLayout(src, 'v1');
  assert.equal(s.layers.length, 3);
  assert.ok(s.manifest.layers.some((l) => l.size > 60 << 20), 'the big layer is there');
  const ref = `127.0.0.1:${new URL(reg.url).port}/${reg.registry}/app`;

  await skopeo(['copy', '--preserve-digests', '--dest-tls-verify=false', `oci:${src}:v1`, `docker://${ref}:v1`]);

  // The registry serves the manifest as pushed.
  const c = new OciClient(reg.url, `${reg.registry}/app`);
  const m = await c.getManifest('v1');
  assert.equal(m.status, 200);
  assert.equal(m.headers.get('docker-content-digest'), s.digest);
  assert.equal(sha256(m.body), s.digest);
  assert.ok(m.body.equals(s.raw), 'manifest bytes unchanged');
  assert.equal(m.headers.get('content-type'), MT.manifest);

  const dst = join(tempDir('coffer-pull-'), 'layout');
  await skopeo(['copy', '--preserve-digests', '--src-tls-verify=false', `docker://${ref}:v1`, `oci:${dst}:v1`]);
  const d = readLayout(dst, 'v1');
  assert.equal(d.digest, s.digest, 'manifest digest');
  assert.equal(d.configDigest, s.configDigest, 'config digest');
  assert.deepEqual(d.layers, s.layers, 'layer digests');
  // Each pulled blob's bytes hash to its name and equal the source's.
  for (const dg of [d.digest, d.configDigest, ...d.layers]) {
    const got = d.blob(dg);
    assert.equal(sha256(got), dg, `pulled blob ${dg} hashes to its digest`);
    assert.ok(got.equals(s.blob(dg)), `pulled blob ${dg} equals the source`);
  }
  assert.equal(readdirSync(join(dst, 'blobs', 'sha256')).length, 5, 'manifest, config and 3 layers');
});

test('skopeo inspect reads the pushed image through the registry', async () => {
  const ref = `127.0.0.1:${new URL(reg.url).port}/${reg.registry}/app`;
  const { stdout } = await skopeo(['inspect', '--tls-verify=false', `docker://${ref}:v1`]);
  const j = JSON.parse(stdout);
  const s = readLayout(src, 'v1');
  assert.equal(j.Digest, s.digest);
  assert.deepEqual(j.Layers, s.layers);
  assert.ok(j.RepoTags.includes('v1'));
});

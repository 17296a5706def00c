// registry-index-referrers: a multi-arch image (two image manifests and an
// index), then artifacts whose `subject` is one of them, found again via the
// referrers API, with and without the artifactType filter.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startRegistry, OciClient, sha256, descriptor, MT, EMPTY_JSON, tempDir } from './lib/oci.mjs';
import { tarGzLayer, skopeo, readLayout } from './lib/images.mjs';

let reg;
let c;
const arch = {};
let index;
let indexBuf;
before(async () => {
  reg = await startRegistry();
  c = new OciClient(reg.url, `${reg.registry}/multi`);
});
after(async () => { await reg?.stop(); });

async function pushImage(os, architecture) {
  const layer = await tarGzLayer({ [`etc/${architecture}.txt`]: `built for ${os}/${architecture}\n` });
  const config = Buffer.from(JSON.stringify({
    architecture, os, rootfs: { type: 'layers', diff_ids: [] }, config: {},
  }));
  await c.pushBlob(layer);
  await c.pushBlob(config);
  const m = {
    schemaVersion: 2, mediaType: MT.manifest,
    config: descriptor(MT.config, config),
    layers: [descriptor(MT.layerGzip, layer)],
  };
  const buf = Buffer.from(JSON.stringify(m));
  const r = await c.putManifest(sha256(buf), buf, MT.manifest);
  assert.equal(r.status, 201, `PUT manifest by digest: ${r.status} ${r.body}`);
  assert.equal(r.headers.get('docker-content-digest'), sha256(buf));
  return { buf, digest: sha256(buf), platform: { os, architecture } };
}

test('push a multi-arch index (two image manifests) and pull it back', async () => {
  arch.amd64 = await pushImage('linux', 'amd64');
  arch.arm64 = await pushImage('linux', 'arm64');
  index = {
    schemaVersion: 2, mediaType: MT.index,
    manifests: ['amd64', 'arm64'].map((a) => descriptor(MT.manifest, arch[a].buf, { platform: arch[a].platform })),
  };
  indexBuf = Buffer.from(JSON.stringify(index, null, 2));
  const r = await c.putManifest('multi', indexBuf, MT.index);
  assert.equal(r.status, 201, `PUT index: ${r.status} ${r.body}`);
  assert.equal(r.headers.get('docker-content-digest'), sha256(indexBuf));
  assert.ok(r.headers.get('location'), 'Location of the manifest');

  for (const ref of ['multi', sha256(indexBuf)]) {
    const g = await c.getManifest(ref);
    assert.equal(g.status, 200);
    assert.equal(g.headers.get('content-type'), MT.index);
    assert.equal(g.headers.get('docker-content-digest'), sha256(indexBuf));
    assert.ok(g.body.equals(indexBuf), `index bytes by ${ref}`);
  }
  for (const a of ['amd64', 'arm64']) {
    const g = await c.getManifest(arch[a].digest);
    assert.equal(g.status, 200);
    assert.equal(g.headers.get('content-type'), MT.manifest);
    assert.ok(g.body.equals(arch[a].buf));
  }
  const tags = await c.get('/tags/list');
  assert.equal(tags.status, 200);
  assert.deepEqual(tags.json(), { name: `${reg.registry}/multi`, tags: ['multi'] });
});

test('skopeo copy --all pulls the whole index with both platforms', async () => {
  const ref = `127.0.0.1:${new URL(reg.url).port}/${reg.registry}/multi:multi`;
  const dst = join(tempDir('coffer-pull-'), 'layout');
  await skopeo(['copy', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${ref}`, `oci:${dst}:multi`]);
  const l = readLayout(dst, 'multi');
  assert.equal(l.digest, sha256(indexBuf));
  assert.ok(l.raw.equals(indexBuf));
  for (const a of ['amd64', 'arm64']) assert.ok(l.blob(arch[a].digest).equals(arch[a].buf));
});

async function pushArtifact(artifactType, payload, subject) {
  await c.pushBlob(EMPTY_JSON);
  await c.pushBlob(payload);
  const m = {
    schemaVersion: 2, mediaType: MT.manifest, artifactType,
    config: descriptor(MT.empty, EMPTY_JSON),
    layers: [descriptor('application/octet-stream', payload)],
    subject: descriptor(MT.manifest, subject.buf),
    annotations: { 'org.example.kind': artifactType },
  };
  const buf = Buffer.from(JSON.stringify(m));
  const r = await c.putManifest(sha256(buf), buf, MT.manifest);
  return { r, buf, digest: sha256(buf) };
}

test('artifacts with a subject: OCI-Subject on PUT, found via referrers, filtered by artifactType', async () => {
  assert.ok(arch.amd64, 'needs the index test');
  const sbom = await pushArtifact('application/vnd.example.sbom.v1+json', Buffer.from('{"sbom":true}'), arch.amd64);
  assert.equal(sbom.r.status, 201, `PUT artifact: ${sbom.r.status} ${sbom.r.body}`);
  assert.equal(sbom.r.headers.get('oci-subject'), arch.amd64.digest);
  const sig = await pushArtifact('application/vnd.example.signature.v1', Buffer.from('signature bytes'), arch.amd64);
  assert.equal(sig.r.status, 201);
  assert.equal(sig.r.headers.get('oci-subject'), arch.amd64.digest);

  // The artifact itself pulls back unchanged.
  const g = await c.getManifest(sbom.digest);
  assert.equal(g.status, 200);
  assert.ok(g.body.equals(sbom.buf));

  const all = await c.get(`/referrers/${arch.amd64.digest}`);
  assert.equal(all.status, 200, `referrers: ${all.status} ${all.body}`);
  assert.match(all.headers.get('content-type'), /^application\/vnd\.oci\.image\.index\.v1\+json/);
  assert.equal(all.headers.get('oci-filters-applied'), null, 'no filter applied');
  const ai = all.json();
  assert.equal(ai.schemaVersion, 2);
  assert.equal(ai.mediaType, MT.index);
  const byDigest = Object.fromEntries(ai.manifests.map((d) => [d.digest, d]));
  assert.equal(ai.manifests.length, 2);
  assert.deepEqual(byDigest[sbom.digest], {
    mediaType: MT.manifest, digest: sbom.digest, size: sbom.buf.length,
    artifactType: 'application/vnd.example.sbom.v1+json',
    annotations: { 'org.example.kind': 'application/vnd.example.sbom.v1+json' },
  });
  assert.equal(byDigest[sig.digest].artifactType, 'application/vnd.example.signature.v1');
  assert.equal(byDigest[sig.digest].size, sig.buf.length);

  const f = await c.get(`/referrers/${arch.amd64.digest}?artifactType=${encodeURIComponent('application/vnd.example.sbom.v1+json')}`);
  assert.equal(f.status, 200);
  assert.equal(f.headers.get('oci-filters-applied'), 'artifactType');
  assert.deepEqual(f.json().manifests.map((d) => d.digest), [sbom.digest]);

  const none = await c.get(`/referrers/${arch.amd64.digest}?artifactType=application/vnd.example.nothing`);
  assert.equal(none.status, 200);
  assert.deepEqual(none.json().manifests, []);

  // A manifest nobody refers to has an empty, valid referrers index.
  const other = await c.get(`/referrers/${arch.arm64.digest}`);
  assert.equal(other.status, 200);
  assert.deepEqual(other.json().manifests, []);
  assert.equal(other.json().schemaVersion, 2);

  // Deleting the artifact removes it from the referrers list.
  const del = await c.del(`/manifests/${sig.digest}`);
  assert.equal(del.status, 202);
  const after1 = await c.get(`/referrers/${arch.amd64.digest}`);
  assert.deepEqual(after1.json().manifests.map((d) => d.digest), [sbom.digest]);
});

test('an artifact whose subject is not in the repository is still accepted (OCI 1.1)', async () => {
  const ghost = { buf: Buffer.from('{"not":"pushed"}') };
  const a = await pushArtifact('application/vnd.example.sbom.v1+json', Buffer.from('{"orphan":1}'), ghost);
  assert.equal(a.r.status, 201, `${a.r.status} ${a.r.body}`);
  assert.equal(a.r.headers.get('oci-subject'), sha256(ghost.buf));
  const r = await c.get(`/referrers/${sha256(ghost.buf)}`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json().manifests.map((d) => d.digest), [a.digest]);
});

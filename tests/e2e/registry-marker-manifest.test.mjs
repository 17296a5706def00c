// registry-marker-manifest: manifests are customer content too (DESIGN §8:
// no plaintext customer content on disk). A marker planted in a manifest's
// annotations and in an artifact's annotations (which the referrers API
// returns) must not appear in any file under the data dir, before or after
// a clean stop. (Media and artifact types are metadata, DESIGN §4.) And a
// locked registry (its key not loaded) answers DENIED without them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { metaSql, metaBytes, PG } from './lib/daemons.mjs';
import { startRegistry, OciClient, sha256, descriptor, MT, EMPTY_JSON, filesContaining, assertOciError, TARGET } from './lib/oci.mjs';

const MARKER = `coffermarker${randomBytes(12).toString('hex')}`;
let reg;
let c;
let imgDigest;
before(async () => {
  reg = await startRegistry();
  c = new OciClient(() => reg.url, `${reg.registry}/annotated`);
});
after(async () => { await reg?.stop(); });

function assertNoMarker(what) {
  const hits = filesContaining(reg.dataDir, MARKER, reg.logPath ? [reg.logPath] : []);
  assert.deepEqual(hits, [], `${what}: marker found in plaintext`);
  // the metadata too where it is not a file of the data dir (a pg_dump)
  if (PG && reg.dataDir) assert.ok(!metaBytes(reg.dataDir).includes(MARKER), `${what}: marker in the database`);
}

test('manifest and referrer annotations are never on disk in plaintext', async () => {
  const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  await c.pushBlob(config);
  const img = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MT.manifest, config: descriptor(MT.config, config), layers: [],
    annotations: { 'org.example.note': MARKER },
  }));
  assert.equal((await c.putManifest('v1', img, MT.manifest)).status, 201);
  imgDigest = sha256(img);

  await c.pushBlob(EMPTY_JSON);
  const art = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MT.manifest, artifactType: 'application/vnd.example.sbom.v1+json',
    config: descriptor(MT.empty, EMPTY_JSON), layers: [descriptor(MT.empty, EMPTY_JSON)],
    subject: descriptor(MT.manifest, img), annotations: { 'org.example.secret': MARKER },
  }));
  const p = await c.putManifest(sha256(art), art, MT.manifest);
  assert.equal(p.status, 201, `${p.status} ${p.body}`);

  // Everything still reads back, with the annotations.
  assert.ok((await c.get('/manifests/v1')).body.equals(img));
  const refs = await c.get(`/referrers/${sha256(img)}`);
  assert.equal(refs.status, 200);
  assert.equal(refs.json().manifests[0].annotations['org.example.secret'], MARKER);

  assertNoMarker('after push');
  await reg.stop();
  assertNoMarker('after stop');
});

test('a locked registry answers DENIED and never the annotations', { skip: TARGET !== 'cofferd' }, async () => {
  assert.ok(imgDigest, 'the first test pushed the manifests');
  // Mark the registry as customer-key encrypted while cofferd is stopped,
  // its key reached through a system identity it does not have: on restart
  // the key check refuses it, so it is locked (keyring.h, docs/cmk.md).
  const kid = 'https://127.0.0.1:1/keys/k';
  const wc = randomBytes(384).toString('hex');
  const set = (blob) => `UPDATE registries SET encryption_status = 'enabled', wrapped_c = ${blob},
       key_identifier = '${kid}', versioned_key_identifier = '${kid}/0123456789abcdef0123456789abcdef',
       key_identity = 'system' WHERE name = '${reg.registry}'`;
  metaSql(reg.dataDir, { sqlite: set(`X'${wc}'`), postgres: set(`decode('${wc}', 'hex')`) }, { readonly: false });
  await reg.restart();
  // The first key check runs beside the listeners: until it has refused the
  // key, the registry answers 503 "not loaded yet" (never the content).
  for (let i = 0; i < 100; i++) {
    const r = await c.get('/manifests/v1');
    assert.ok(!r.body.toString().includes(MARKER), 'marker in an answer before the key check');
    if (r.status !== 503) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  for (const path of [`/referrers/${imgDigest}`, '/manifests/v1', `/referrers/${imgDigest}?artifactType=application/vnd.example.sbom.v1%2Bjson`]) {
    const r = await c.get(path);
    assertOciError(r, 403, 'DENIED', path);
    assert.ok(!r.body.toString().includes(MARKER), `${path}: marker in the locked answer`);
  }
  await reg.stop();
  assertNoMarker('after the locked run');
});

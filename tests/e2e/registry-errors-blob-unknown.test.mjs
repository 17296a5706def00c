// registry-errors-blob-unknown: a manifest that references a blob or a
// child manifest the repository lacks is refused with 400
// MANIFEST_BLOB_UNKNOWN (the status CNCF Distribution answers and the OCI
// conformance suite expects) and nothing is stored.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, OciClient, sha256, descriptor, MT, assertOciError } from './lib/oci.mjs';

let reg;
let c;
let config;
before(async () => {
  reg = await startRegistry();
  c = new OciClient(reg.url, `${reg.registry}/errs`);
  config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  await c.pushBlob(config);
});
after(async () => { await reg?.stop(); });

const absent = sha256(Buffer.from('never pushed'));

function manifestOf(layers) {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.manifest, config: descriptor(MT.config, config), layers }));
}

test('a manifest referencing a missing blob answers MANIFEST_BLOB_UNKNOWN', async () => {
  const m = manifestOf([{ mediaType: MT.layerGzip, digest: absent, size: 12 }]);
  assertOciError(await c.putManifest('v1', m, MT.manifest), 400, 'MANIFEST_BLOB_UNKNOWN', 'missing layer');
  assertOciError(await c.get('/manifests/v1'), 404, 'MANIFEST_UNKNOWN', 'tag after refused PUT');
  // An index naming a child manifest that is not there.
  const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: [{ mediaType: MT.manifest, digest: absent, size: 100 }] }));
  const r = await c.putManifest('idx', idx, MT.index);
  assertOciError(r, 400, ['MANIFEST_BLOB_UNKNOWN', 'MANIFEST_UNKNOWN'], 'missing child manifest');
  const tags = await c.get('/tags/list');
  if (tags.status === 200) assert.deepEqual(tags.json().tags ?? [], []);
});

// storage-migrate: `cofferd migrate` takes an embedded installation
// (SQLite + files) with a customer-managed key on to PostgreSQL + S3
// (docs/storage.md, "Outgrowing one machine"):
//   - images pushed to a CMK registry on the embedded backends;
//   - cofferd stopped, migrate run: exit 0, everything verified; every
//     object in the bucket is byte for byte the sealed file (moved as it
//     is, never decrypted);
//   - resumable: an object lost from the bucket is the only one copied by
//     a second run;
//   - the embedded stores moved out of the way, cofferd started on
//     PostgreSQL + S3 with the same data directory (its keys): the images
//     pull back bit-identical, the key checks work, and a new push lands in
//     the bucket.
// Needs both servers: it runs in the suite's second pass (scripts/test-all:
// COFFER_TEST_PG and COFFER_TEST_S3) and is skipped without them.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { renameSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCmkStack, waitFor } from './lib/cmk.mjs';
import { buildImage, put, writeRandomFile } from './lib/images.mjs';
import { BUILD, PG, pgDatabase } from './lib/daemons.mjs';
import { S3, s3Bucket, s3Env, objectKeys, objectGet, objectPut, blobKey, s3Request } from './lib/objects.mjs';

const REG = 'migcmk01';

function migrate(args) {
  return new Promise((resolve) => {
    execFile(join(BUILD, 'cofferd'), ['migrate', ...args], { env: { ...process.env, ...s3Env() }, maxBuffer: 1 << 24 },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
}

describe('storage-migrate', { skip: !(PG && S3) && 'needs COFFER_TEST_PG and COFFER_TEST_S3 (the second pass)', timeout: 300000 }, () => {
  let s;
  let small;
  let big;
  let dbUrl;
  let bucket;
  let target;

  before(async () => {
    s = await startCmkStack({ embedded: true });
    await s.createVault('migvault');
    const mi = await s.createIdentity('mi-mig1');
    await s.grant('migvault', mi.principalId);
    const key = await s.createKey('migvault', 'migkey');
    const r = await s.createCmkRegistry(REG, { keyId: key.id, identity: mi });
    assert.equal(r.status, 201, `create: ${r.text}`);
    small = await buildImage({ tag: 'v1', layers: [(root) => { put(root, 'etc/motd', 'migrated\n'); }] });
    // a layer larger than one S3 part (8 MiB): the copy goes in parts
    big = await buildImage({ tag: 'v2', layers: [(root) => { writeRandomFile(join(root, 'blob.bin'), 12 << 20); }] });
    dbUrl = pgDatabase(join(s.dataDir, 'migrated')).url;
    bucket = s3Bucket(join(s.dataDir, 'migrated'));
    target = ['--database', dbUrl, '--objects', `s3://${bucket}`, '--s3-endpoint', S3];
  });
  after(async () => { await s?.stop(); });

  test('images pushed to a CMK registry on SQLite + files', async () => {
    await s.push(small, REG, 'v1');
    await s.push(big, REG, 'v2');
    await s.pullSame(small, REG, 'embedded pull', 'v1');
    await s.cofferd.stop();
  });

  test('migrate copies and verifies every object and table', async () => {
    const r = await migrate(['--from-data', s.dataDir, ...target]);
    assert.equal(r.code, 0, `migrate failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^verified\./m);
    assert.match(r.stdout, /differing/);
    const rows = execFileSync('sqlite3', ['-readonly', '-separator', '\t', join(s.dataDir, 'cofferd.db'),
      'SELECT registry_id, digest FROM blobs'], { encoding: 'utf8' }).trim().split('\n').map((l) => l.split('\t'));
    assert.ok(rows.length >= 6, 'manifests, configs and layers');
    const keys = objectKeys(join(s.dataDir, 'migrated'), '');
    assert.deepEqual(keys, rows.map(([reg, d]) => blobKey(reg, d)).sort(), 'exactly the blobs of the metadata');
    for (const k of keys) {
      const file = readFileSync(join(s.dataDir, k));
      assert.ok(objectGet(join(s.dataDir, 'migrated'), k).equals(file), `${k}: the sealed bytes as they are`);
    }
  });

  test('a second run copies only what is missing', async () => {
    const keys = objectKeys(join(s.dataDir, 'migrated'), '');
    const lost = keys[0];
    const del = s3Request('DELETE', `/${bucket}/${lost}`);
    assert.equal(del.status, 204);
    const r = await migrate(['--from-data', s.dataDir, ...target]);
    assert.equal(r.code, 0, `migrate failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, new RegExp(`objects: ${keys.length} verified \\(1 copied, \\d+ bytes; ${keys.length - 1} already there\\)`));
    assert.match(r.stdout, /0 rows copied/);
    // a damaged copy is found and replaced, never taken as done
    const k = keys[keys.length - 1];
    const b = Buffer.from(objectGet(join(s.dataDir, 'migrated'), k));
    b[b.length - 1] ^= 1;
    objectPut(join(s.dataDir, 'migrated'), k, b);
    const r2 = await migrate(['--from-data', s.dataDir, ...target]);
    assert.equal(r2.code, 0, r2.stdout + r2.stderr);
    assert.match(r2.stdout, /\(1 copied/);
  });

  test('cofferd on PostgreSQL + S3 serves the migrated images bit-identical', async () => {
    // the embedded stores out of the way: nothing can be read from them
    renameSync(join(s.dataDir, 'cofferd.db'), join(s.dataDir, 'cofferd.db.migrated'));
    renameSync(join(s.dataDir, 'registries'), join(s.dataDir, 'registries.migrated'));
    await s.restartCofferd(target);
    const log = await s.cofferd.waitLog(/"backend":"s3"/);
    assert.match(log, /"engine":"postgres"/);
    await s.pullSame(small, REG, 'pull after migration', 'v1');
    await s.pullSame(big, REG, 'pull after migration', 'v2');
    const t0 = Date.now();
    await waitFor('a key check on the migrated registry', async () => {
      const k = await s.kvp(REG);
      return k.keyStatus === 'available' && Date.parse(k.lastKeyCheckTimestamp) >= t0 - 1000;
    });
    const before = objectKeys(join(s.dataDir, 'migrated'), '').length;
    const third = await buildImage({ tag: 'v3', layers: [(root) => { put(root, 'etc/new', 'after\n'); }] });
    await s.push(third, REG, 'v3');
    await s.pullSame(third, REG, 'push after migration', 'v3');
    assert.ok(objectKeys(join(s.dataDir, 'migrated'), '').length > before, 'the new push is in the bucket');
  });
});

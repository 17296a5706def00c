// storage-s3-config: how cofferd is pointed at a bucket (docs/storage.md,
// "Objects on S3"), against the second pass's radosgw:
//   - https with --s3-ca, credentials from a --s3-credentials file (0600,
//     AWS shared format): a blob pushed and pulled back; neither key
//     appears in cofferd's log or on its command line;
//   - virtual-host URLs (--s3-url-style virtual: http://BUCKET.localhost);
//   - refused at start: a credentials file others may read, credentials in
//     the --objects URL, no credentials at all.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { startCofferd, freshDir, BUILD } from './lib/daemons.mjs';
import { OciClient, randomBuf } from './lib/oci.mjs';
import { S3, s3Bucket, objectKeys } from './lib/objects.mjs';

const KEY = process.env.COFFER_TEST_S3_KEY;
const SECRET = process.env.COFFER_TEST_S3_SECRET;
// what startDaemon adds for S3 (the environment's keys) is taken away:
// these tests give the keys their own way
const noEnvKeys = { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' };

function credsFile(dir, mode = 0o600) {
  const p = join(dir, 'aws-credentials');
  writeFileSync(p, `[default]\naws_access_key_id = ${KEY}\naws_secret_access_key = ${SECRET}\n`);
  chmodSync(p, mode);
  return p;
}

async function roundTrip(d, what) {
  const c = new OciClient(d.url, 'cfgreg01/app');
  const blob = randomBuf(300000);
  const digest = await c.pushBlob(blob);
  const g = await c.get(`/blobs/${digest}`);
  assert.equal(g.status, 200, `${what}: ${g.status}`);
  assert.ok(Buffer.from(g.body).equals(blob), `${what}: the blob pulls back`);
}

describe('storage-s3-config', { skip: !(S3 && process.env.COFFER_TEST_S3_TLS) && 'needs COFFER_TEST_S3 (the second pass)', timeout: 120000 }, () => {
  test('https with --s3-ca and a --s3-credentials file; the keys are in no log and on no command line', async () => {
    const dataDir = freshDir();
    const creds = credsFile(dataDir);
    const d = await startCofferd({
      dataDir,
      args: ['--registry', 'cfgreg01', '--objects', `s3://${s3Bucket(dataDir)}/under/a/prefix`,
        '--s3-endpoint', process.env.COFFER_TEST_S3_TLS, '--s3-ca', process.env.COFFER_TEST_S3_CA,
        '--s3-credentials', creds],
      env: noEnvKeys,
    });
    try {
      await roundTrip(d, 'https');
      const keys = objectKeys(dataDir, '');
      assert.ok(keys.length > 0 && keys.every((k) => k.startsWith('under/a/prefix/registries/')), `prefixed keys: ${keys}`);
      const cmdline = readFileSync(`/proc/${d.proc.pid}/cmdline`, 'utf8');
      const log = await d.waitLog(/"backend":"s3"/);
      assert.match(log, /"credentials":"[^"]*aws-credentials"/, 'the log says where the keys came from');
      for (const [what, text] of [['log', log], ['command line', cmdline]]) {
        assert.ok(!text.includes(SECRET), `the secret key in the ${what}`);
        assert.ok(!text.includes(KEY), `the access key in the ${what}`);
      }
    } finally {
      await d.stop();
    }
  });

  test('virtual-host URLs: the bucket in the host name', async () => {
    const dataDir = freshDir();
    const port = new URL(S3).port;
    const d = await startCofferd({
      dataDir,
      args: ['--registry', 'cfgreg01', '--objects', `s3://${s3Bucket(dataDir)}`,
        '--s3-endpoint', `http://localhost:${port}`, '--s3-url-style', 'virtual'],
    });
    try {
      await roundTrip(d, 'virtual host');
      assert.ok(objectKeys(dataDir, 'registries/').length > 0, 'the objects are in the bucket');
    } finally {
      await d.stop();
    }
  });

  test('refused at start: a readable credentials file, keys in the URL, no keys', () => {
    const dataDir = freshDir();
    const start = (args, env = {}) => spawnSync(join(BUILD, 'cofferd'), ['--data', dataDir, '--listen', '127.0.0.1:0',
      '--mgmt-listen', '127.0.0.1:0', '--s3-endpoint', S3, ...args], { encoding: 'utf8', env: { ...process.env, ...noEnvKeys, HOME: dataDir, ...env }, timeout: 30000 });
    const open = start(['--objects', 's3://cfgbucket1', '--s3-credentials', credsFile(dataDir, 0o644)]);
    assert.notEqual(open.status, 0);
    assert.match(open.stderr, /0600/);
    const inUrl = start(['--objects', `s3://${KEY}:${SECRET}@cfgbucket1`]);
    assert.notEqual(inUrl.status, 0);
    assert.match(inUrl.stderr, /no credentials in the URL/);
    assert.ok(!inUrl.stderr.includes(SECRET), 'the refusal does not repeat the secret');
    const none = start(['--objects', 's3://cfgbucket1'], { AWS_SHARED_CREDENTIALS_FILE: join(dataDir, 'none') });
    assert.notEqual(none.status, 0);
    assert.match(none.stderr, /no S3 credentials/);
  });
});

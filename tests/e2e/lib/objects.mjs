// objects.mjs -- the sealed objects of a cofferd data directory, on the
// backend the tests run on: files under the data directory, or, with
// COFFER_TEST_S3 set (tests/fixtures/rgw-fixture: the endpoint, with
// COFFER_TEST_S3_KEY and COFFER_TEST_S3_SECRET), the S3 bucket that
// daemons.mjs gives every data directory (one bucket per directory, so a
// restart with the same directory finds its objects).
//
// Keys are the store's (docs/storage.md): registries/<id>/blobs/<alg>/<aa>/<hex>,
// registries/<id>/uploads/<uuid>[.state|.p<n>]. S3 requests are signed by
// curl's --aws-sigv4 (the same libcurl rules as cofferd: an
// x-amz-content-sha256 header, sorted and encoded queries); the keys go to
// curl on stdin (-K -), never on its command line.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve, relative } from 'node:path';

export const S3 = process.env.COFFER_TEST_S3 || '';
export const OBJECTS = S3 ? 's3' : 'files';

// The bucket of data directory dataDir (a valid S3 name: 'c' + 24 hex).
export function s3Bucket(dataDir) {
  return 'c' + createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 24);
}

// cofferd's flags and environment for dataDir's bucket.
export function s3Args(dataDir) {
  return ['--objects', `s3://${s3Bucket(dataDir)}`, '--s3-endpoint', S3];
}
export function s3Env() {
  return { AWS_ACCESS_KEY_ID: process.env.COFFER_TEST_S3_KEY, AWS_SECRET_ACCESS_KEY: process.env.COFFER_TEST_S3_SECRET };
}

const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

// One signed request; { status, body } (body a Buffer).
export function s3Request(method, path, { query = '', body = null, headers = [] } = {}) {
  const url = `${S3}${path}${query ? `?${query}` : ''}`;
  const hash = body ? createHash('sha256').update(body).digest('hex') : EMPTY;
  const args = ['-s', '-K', '-', '--aws-sigv4', 'aws:amz:us-east-1:s3', '-X', method,
    '-H', `x-amz-content-sha256: ${hash}`, '-w', '\n%{http_code}', '-o', '-'];
  for (const h of headers) args.push('-H', h);
  if (method === 'HEAD') args.push('-I');
  let tmp = null;
  if (body) {
    tmp = join(process.env.TMPDIR || '/tmp', `coffer-s3-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}`);
    writeFileSync(tmp, body, { mode: 0o600 });
    args.push('--data-binary', `@${tmp}`);
  }
  const cfg = `user = "${process.env.COFFER_TEST_S3_KEY}:${process.env.COFFER_TEST_S3_SECRET}"\n`;
  try {
    const out = execFileSync('curl', [...args, url], { input: cfg, maxBuffer: 1 << 30 });
    const nl = out.lastIndexOf(10);
    return { status: Number(out.subarray(nl + 1).toString()), body: out.subarray(0, nl) };
  } finally {
    if (tmp) rmSync(tmp, { force: true });
  }
}

const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const keyPath = (k) => k.split('/').map(enc).join('/');
const tags = (xml, tag) => [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => m[1]
  .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&apos;/g, "'").replace(/&amp;/g, '&'));

function s3List(bucket, prefix) {
  const keys = [];
  let token = '';
  for (;;) {
    const q = `${token ? `continuation-token=${enc(token)}&` : ''}list-type=2&prefix=${enc(prefix)}`;
    const r = s3Request('GET', `/${bucket}`, { query: q });
    if (r.status === 404) return keys; // no bucket: nothing stored
    if (r.status !== 200) throw new Error(`list ${bucket}: ${r.status} ${r.body}`);
    const xml = r.body.toString();
    keys.push(...tags(xml, 'Key'));
    if (!/<IsTruncated>true<\/IsTruncated>/.test(xml)) return keys;
    [token] = tags(xml, 'NextContinuationToken');
  }
}

// The unfinished multipart uploads under prefix: [{ key, uploadId }].
export function multipartUploads(dataDir, prefix = '') {
  if (!S3) return [];
  return bucketMultipartUploads(s3Bucket(dataDir), prefix);
}
// The same, and every key under prefix, of a bucket named (several nodes'
// one bucket: lib/cluster.mjs).
export function bucketKeys(bucket, prefix = '') { return s3List(bucket, prefix).sort(); }
export function bucketMultipartUploads(bucket, prefix = '') {
  const r = s3Request('GET', `/${bucket}`, { query: `prefix=${enc(prefix)}&uploads=` });
  if (r.status === 404) return [];
  if (r.status !== 200) throw new Error(`list uploads: ${r.status} ${r.body}`);
  const xml = r.body.toString();
  return [...xml.matchAll(/<Upload>([\s\S]*?)<\/Upload>/g)].map((m) => ({ key: tags(m[1], 'Key')[0], uploadId: tags(m[1], 'UploadId')[0] }));
}

function walk(dir, base, out) {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, base, out);
    else if (e.isFile()) out.push(relative(base, p));
  }
  return out;
}

// Every object key under prefix (a key prefix: 'registries/<id>/'), sorted.
export function objectKeys(dataDir, prefix = 'registries/') {
  if (!S3) return walk(join(dataDir, 'registries'), dataDir, []).filter((k) => k.startsWith(prefix)).sort();
  return s3List(s3Bucket(dataDir), prefix).sort();
}

export function objectHas(dataDir, key) {
  if (!S3) return existsSync(join(dataDir, key));
  const r = s3Request('HEAD', `/${s3Bucket(dataDir)}/${keyPath(key)}`);
  if (r.status !== 200 && r.status !== 404) throw new Error(`HEAD ${key}: ${r.status}`);
  return r.status === 200;
}

export function objectGet(dataDir, key) {
  if (!S3) return readFileSync(join(dataDir, key));
  const r = s3Request('GET', `/${s3Bucket(dataDir)}/${keyPath(key)}`);
  if (r.status !== 200) throw new Error(`GET ${key}: ${r.status} ${r.body}`);
  return r.body;
}

export function objectPut(dataDir, key, buf) {
  if (!S3) { writeFileSync(join(dataDir, key), buf); return; }
  const r = s3Request('PUT', `/${s3Bucket(dataDir)}/${keyPath(key)}`, { body: buf });
  if (r.status !== 200) throw new Error(`PUT ${key}: ${r.status} ${r.body}`);
}

// Flips one bit of the byte at offset of key (XOR 0x01), in place.
export function objectFlip(dataDir, key, offset) {
  const b = Buffer.from(objectGet(dataDir, key));
  b[offset] ^= 0x01;
  objectPut(dataDir, key, b);
  return b.length;
}

export function objectSize(dataDir, key) { return objectGet(dataDir, key).length; }

export function blobKey(regId, digest) {
  const [alg, hex] = digest.split(':');
  return `registries/${regId}/blobs/${alg}/${hex.slice(0, 2)}/${hex}`;
}
export function uploadKey(regId, uuid) { return `registries/${regId}/uploads/${uuid}`; }

// The registry ids that hold objects.
export function registryIds(dataDir) {
  return [...new Set(objectKeys(dataDir).map((k) => k.split('/')[1]))].sort();
}

// Keys of S3 objects holding needle (files: none here; oci.mjs scans files).
export function bucketObjectsContaining(dataDir, needle) {
  if (!S3) return [];
  const n = Buffer.from(needle);
  return objectKeys(dataDir, '').filter((k) => objectGet(dataDir, k).includes(n)).map((k) => `s3://${s3Bucket(dataDir)}/${k}`);
}

// cli-repository.test.mjs -- the az verbs users reach for every day
// (docs/cli.md "acr repository", "acr manifest", "acr login", "acr
// show-usage"), against a real cofferd (authenticated data plane) with
// images pushed by real skopeo and podman:
//   - acr repository list|show|show-tags|show-manifests|untag|delete and
//     acr manifest list-metadata|show-metadata|delete print ACR's
//     attributes (az's short forms without --detail), follow pages past
//     the first, and fail as az does (usage errors exit 2, the server's
//     codes exit 1);
//   - acr show-usage is the sealed bytes of the registry's unique objects,
//     exactly what its files take on disk, before and after deletes;
//   - a storage limit refuses the push that would pass it with 403 DENIED
//     and changes nothing, lets a push that adds no bytes through, and
//     goes with --storage-limit none;
//   - acr login writes the credentials (0600) where skopeo and podman read
//     them by default, keeping what else the file holds, and docker's
//     config when there is one; they then push and pull with no --creds;
//   - on a CMK registry whose key is revoked, listings answer from
//     metadata and deletes are refused (KeyUnavailable);
//   - the endpoints answer at the registry's ARM path (where the CLI calls
//     them, -g naming the group) as at the short /registries/NAME path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshDir, metaSql, startCofferd } from './lib/daemons.mjs';
import { cofferRunner } from './lib/cli.mjs';
import { buildImage, makePodman, put, readLayout, skopeo, writeRandomFile } from './lib/images.mjs';
import { startCmkStack, waitFor } from './lib/cmk.mjs';
import { objectKeys, objectSize } from './lib/objects.mjs';
import { armId } from './lib/arm.mjs';

const REG = 'clirepo1';
const GROUP = 'reporg'; // REG's resource group; the other registries are in 'default'
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
let d, env, home, ls, pw, app, web, big;
const { coffer, ok, fails } = cofferRunner(() => env);
const tsv = (args, extra) => ok([...args, '-o', 'tsv'], extra).out.replace(/\n$/, '');
const dirs = [];

// skopeo copy of an OCI layout's tag to REG with the admin user's password
async function push(layout, tag, ref, extra = []) {
  await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', `${REG}:${pw}`, ...extra,
    `oci:${layout}:${tag}`, `docker://${ls}/${ref}`]);
}

// The bytes of the registry's sealed objects in the store (files or S3).
function diskBytes(name) {
  const [[id]] = metaSql(d.dataDir, `SELECT id FROM registries WHERE name='${name}'`);
  return objectKeys(d.dataDir, `registries/${id}/blobs/`).reduce((t, k) => t + objectSize(d.dataDir, k), 0);
}

const usageOf = (name) => ok(['acr', 'show-usage', '-n', name]).json.value.find((u) => u.name === 'Size');

before(async () => {
  d = await startCofferd({ auth: true });
  home = freshDir('coffer-cli-repo-home-');
  dirs.push(home);
  env = { PATH: process.env.PATH, HOME: home, COFFER_URL: d.mgmtUrl, COFFER_TOKEN: d.adminToken };
  ok(['group', 'create', '-n', GROUP, '-l', 'eastus']);
  ok(['acr', 'create', '-g', GROUP, '-n', REG, '--sku', 'Standard', '--admin-enabled', 'true']);
  ls = tsv(['acr', 'show', '-n', REG, '--query', 'loginServer']);
  pw = tsv(['acr', 'credential', 'show', '-n', REG, '--query', 'passwords[0].value']);
  app = await buildImage({ tag: 'v1', layers: [(r) => put(r, 'etc/app', 'app v1\n')] });
  web = await buildImage({ tag: 'v1', layers: [(r) => put(r, 'srv/index.html', '<p>web</p>\n'),
    (r) => put(r, 'srv/more.txt', 'two layers\n')] });
  big = await buildImage({ tag: 'v1', layers: [(r) => writeRandomFile(join(r, 'data/big.bin'), 3 << 20)] });
  await push(app, 'v1', 'team/app:v1');
  await push(web, 'v1', 'team/app:v2');
  await push(web, 'v1', 'web:latest');
});

after(async () => {
  await d?.stop();
  if (!process.env.KEEP_E2E_DIRS) for (const p of dirs) rmSync(p, { recursive: true, force: true });
});

test('acr repository list and show: names, and ACR\'s repository attributes', () => {
  assert.deepEqual(ok(['acr', 'repository', 'list', '-n', REG]).json, ['team/app', 'web']);
  assert.deepEqual(ok(['acr', 'repository', 'list', '-n', REG, '--top', '1']).json, ['team/app']);
  assert.equal(ok(['acr', 'repository', 'list', '-n', REG, '-o', 'table']).out,
    'Result\n--------\nteam/app\nweb\n');
  const r = ok(['acr', 'repository', 'show', '-n', REG, '--repository', 'team/app']).json;
  assert.deepEqual(Object.keys(r), ['changeableAttributes', 'createdTime', 'imageName', 'lastUpdateTime',
    'manifestCount', 'registry', 'tagCount']);
  assert.deepEqual(r.changeableAttributes,
    { deleteEnabled: true, listEnabled: true, readEnabled: true, writeEnabled: true });
  assert.equal(r.imageName, 'team/app');
  assert.equal(r.registry, ls);
  assert.equal(r.manifestCount, 2);
  assert.equal(r.tagCount, 2);
  assert.match(r.createdTime, TIME);
  assert.ok(r.lastUpdateTime >= r.createdTime);
});

test('acr repository show --image and show-tags: a tag\'s attributes', () => {
  const v1 = readLayout(app, 'v1');
  const t = ok(['acr', 'repository', 'show', '-n', REG, '--image', 'team/app:v1']).json;
  assert.deepEqual(Object.keys(t), ['changeableAttributes', 'createdTime', 'digest', 'lastUpdateTime', 'name', 'signed']);
  assert.equal(t.name, 'v1');
  assert.equal(t.digest, v1.digest);
  assert.equal(t.signed, false);
  assert.match(t.createdTime, TIME);
  assert.deepEqual(ok(['acr', 'repository', 'show-tags', '-n', REG, '--repository', 'team/app']).json, ['v1', 'v2']);
  const detail = ok(['acr', 'repository', 'show-tags', '-n', REG, '--repository', 'team/app', '--detail']).json;
  assert.deepEqual(detail.map((x) => [x.name, x.digest]), [['v1', v1.digest], ['v2', readLayout(web, 'v1').digest]]);
  const table = ok(['acr', 'repository', 'show-tags', '-n', REG, '--repository', 'team/app', '--detail', '-o', 'table']).out;
  assert.match(table.split('\n')[0], /^CreatedTime +Digest +LastUpdateTime +Name +Signed$/);
  assert.equal(table.split('\n').filter(Boolean).length, 4);
});

test('show-manifests and manifest list-metadata: ACR\'s manifest attributes, read from the sealed content', () => {
  const v1 = readLayout(app, 'v1');
  const m = ok(['acr', 'manifest', 'list-metadata', '-r', REG, '-n', 'team/app']).json;
  assert.equal(m.length, 2);
  const a = m.find((x) => x.digest === v1.digest);
  assert.deepEqual(Object.keys(a), ['architecture', 'changeableAttributes', 'configMediaType', 'createdTime',
    'digest', 'imageSize', 'lastUpdateTime', 'mediaType', 'os', 'tags']);
  assert.equal(a.architecture, v1.config.architecture);
  assert.equal(a.os, v1.config.os);
  assert.equal(a.mediaType, v1.mediaType);
  assert.equal(a.configMediaType, v1.manifest.config.mediaType);
  const size = v1.raw.length + v1.manifest.config.size + v1.manifest.layers.reduce((s, l) => s + l.size, 0);
  assert.equal(a.imageSize, size, 'the manifest and everything it references');
  assert.deepEqual(a.tags, ['v1']);
  // the other ways to name the repository: REGISTRY/REPO and the login server
  assert.deepEqual(ok(['acr', 'manifest', 'list-metadata', '-n', `${REG}/team/app`]).json, m);
  assert.deepEqual(ok(['acr', 'manifest', 'list-metadata', '-n', `${ls}/team/app`]).json, m);
  // az's short form of show-manifests, and --detail
  const short = ok(['acr', 'repository', 'show-manifests', '-n', REG, '--repository', 'team/app']).json;
  assert.deepEqual(short.find((x) => x.digest === v1.digest), { digest: v1.digest, tags: ['v1'], timestamp: a.lastUpdateTime });
  assert.deepEqual(ok(['acr', 'repository', 'show-manifests', '-n', REG, '--repository', 'team/app', '--detail']).json, m);
  // one manifest's, by digest; and a tag's through acr manifest show-metadata
  assert.deepEqual(ok(['acr', 'repository', 'show', '-n', REG, '--image', `team/app@${v1.digest}`]).json, a);
  assert.deepEqual(ok(['acr', 'manifest', 'show-metadata', '-r', REG, '-n', `team/app@${v1.digest}`]).json, a);
  assert.equal(ok(['acr', 'manifest', 'show-metadata', '-n', `${REG}/team/app:v1`]).json.digest, v1.digest);
});

// What the CLI calls, at the ARM path of the registry (in GROUP) and at
// the short path: the same answers; another group's path is ARM's 404.
test('the endpoints at the registry\'s ARM path answer as at /registries/NAME; -g names the group', async () => {
  const arm = armId('registry', REG, GROUP);
  const get = async (path) => {
    const r = await fetch(`${d.mgmtUrl}${path}`, { headers: { Authorization: `Bearer ${d.adminToken}` } });
    return { status: r.status, json: await r.json() };
  };
  for (const tail of ['/repositories', '/repositories/team/app', '/repositories/team/app/_tags',
    '/repositories/team/app/_tags/v1', '/repositories/team/app/_manifests', '/listUsages']) {
    const a = await get(`${arm}${tail}`);
    assert.equal(a.status, 200, `${tail}: ${JSON.stringify(a.json)}`);
    assert.deepEqual(a.json, (await get(`/registries/${REG}${tail}`)).json, tail);
  }
  const other = await get(`${armId('registry', REG, 'default')}/repositories/team/app/_tags`);
  assert.equal(other.status, 404);
  assert.equal(other.json.error.code, 'ResourceNotFound');
  assert.equal((await get(`${arm}/repositories/team/app/_nope`)).status, 404, 'no such endpoint');
  assert.deepEqual(ok(['acr', 'repository', 'list', '-n', REG, '-g', GROUP]).json, ['team/app', 'web']);
  assert.deepEqual(ok(['acr', 'repository', 'show-tags', '-n', REG, '-g', GROUP, '--repository', 'team/app']).json,
    ['v1', 'v2']);
  fails(['acr', 'repository', 'list', '-n', REG, '-g', 'default'], 'ResourceNotFound');
  fails(['acr', 'manifest', 'list-metadata', '-r', REG, '-g', 'default', '-n', 'team/app'], 'ResourceNotFound');
  assert.equal(ok(['acr', 'manifest', 'list-metadata', '-g', GROUP, '-n', `${ls}/team/app`]).json.length, 2);
  assert.equal(ok(['acr', 'show-usage', '-n', REG, '-g', GROUP]).json.value[0].name, 'Size');
});

test('lists follow their pages: 130 tags come back whole, --top stops early', async () => {
  const v1 = readLayout(app, 'v1');
  const auth = `Basic ${Buffer.from(`${REG}:${pw}`).toString('base64')}`;
  await push(app, 'v1', 'paged:p000'); // the blobs, then 129 more tags of the same manifest
  const want = ['p000'];
  for (let i = 1; i < 130; i++) {
    const tag = `p${String(i).padStart(3, '0')}`;
    want.push(tag);
    const r = await fetch(`${d.url}/v2/${REG}/paged/manifests/${tag}`, {
      method: 'PUT', headers: { Authorization: auth, 'Content-Type': v1.mediaType }, body: v1.raw,
    });
    assert.equal(r.status, 201, await r.text());
  }
  assert.deepEqual(ok(['acr', 'repository', 'show-tags', '-n', REG, '--repository', 'paged']).json, want);
  assert.deepEqual(ok(['acr', 'repository', 'show-tags', '-n', REG, '--repository', 'paged', '--top', '105']).json,
    want.slice(0, 105));
  const m = ok(['acr', 'repository', 'show-manifests', '-n', REG, '--repository', 'paged']).json;
  assert.equal(m.length, 1);
  assert.equal(m[0].tags.length, 130);
  // the management API's own pages: nextLink
  const r = await fetch(`${d.mgmtUrl}/registries/${REG}/repositories/paged/_tags?n=2`,
    { headers: { Authorization: `Bearer ${d.adminToken}` } });
  const j = await r.json();
  assert.deepEqual(j.tags.map((t) => t.name), ['p000', 'p001']);
  assert.equal(j.nextLink, `/registries/${REG}/repositories/paged/_tags?last=p001&n=2`);
  // at the ARM path, the next page is there too
  const arm = armId('registry', REG, GROUP);
  const ra = await fetch(`${d.mgmtUrl}${arm}/repositories/paged/_tags?n=2`,
    { headers: { Authorization: `Bearer ${d.adminToken}` } });
  assert.deepEqual(await ra.json(), { ...j, nextLink: `${arm}/repositories/paged/_tags?last=p001&n=2` });
  ok(['acr', 'repository', 'delete', '-n', REG, '--repository', 'paged', '--yes']);
});

test('errors: az\'s usage errors exit 2 before any call, the server\'s codes exit 1', () => {
  const both = coffer(['acr', 'repository', 'show', '-n', REG, '--repository', 'web', '--image', 'web:latest']);
  assert.equal(both.code, 2);
  assert.match(both.err, /Usage error: --image IMAGE \| --repository REPOSITORY/);
  const noyes = coffer(['acr', 'repository', 'delete', '-n', REG, '--repository', 'web'], { COFFER_URL: 'http://127.0.0.1:1' });
  assert.equal(noyes.code, 2, 'refused before calling the (unreachable) server');
  assert.match(noyes.err, /Unable to prompt for confirmation as no tty available\. Use --yes\./);
  assert.equal(coffer(['acr', 'manifest', 'delete', '-n', 'web@sha256:abc', '--yes']).code, 2);
  assert.equal(coffer(['acr', 'manifest', 'list-metadata', '-n', 'web']).code, 2, 'no registry named');
  assert.match(fails(['acr', 'repository', 'show', '-n', REG, '--repository', 'nope'], 'NAME_UNKNOWN').err, /'nope'/);
  fails(['acr', 'repository', 'show', '-n', REG, '--image', 'web:nope'], 'TAG_UNKNOWN');
  fails(['acr', 'repository', 'show-tags', '-n', REG, '--repository', 'nope'], 'NAME_UNKNOWN');
  fails(['acr', 'repository', 'show', '-n', REG, '--image', `web@sha256:${'0'.repeat(64)}`], 'MANIFEST_UNKNOWN');
  fails(['acr', 'repository', 'list', '-n', 'nosuchregistry'], 'ResourceNotFound');
  fails(['acr', 'manifest', 'list-metadata', '-n', '127.0.0.1:1/x/web'], 'RegistryNotFound');
});

test('show-usage is the sealed bytes on disk; untag, manifest delete and repository delete shrink it', async () => {
  let u = usageOf(REG);
  assert.deepEqual(Object.keys(u), ['currentValue', 'limit', 'name', 'unit']);
  assert.equal(u.unit, 'Bytes');
  assert.equal(u.limit, null);
  assert.equal(u.currentValue, diskBytes(REG), 'what the files take');
  const table = ok(['acr', 'show-usage', '-n', REG, '-o', 'table']).out.split('\n');
  assert.match(table[0], /^Name +Limit +CurrentValue +Unit$/);
  assert.match(table[2], new RegExp(`^Size +${u.currentValue} +Bytes$`));

  // untag: the manifest stays (web's is also team/app:v2)
  ok(['acr', 'repository', 'untag', '-n', REG, '--image', 'team/app:v2']);
  assert.deepEqual(ok(['acr', 'repository', 'show-tags', '-n', REG, '--repository', 'team/app']).json, ['v1']);
  assert.equal(usageOf(REG).currentValue, u.currentValue);
  // manifest delete by tag: the manifest and its tags go; pulls of it fail
  const v1 = readLayout(app, 'v1');
  assert.equal(ok(['acr', 'manifest', 'delete', '-n', `${REG}/team/app:v1`, '--yes']).out, '');
  await assert.rejects(skopeo(['inspect', '--tls-verify=false', '--creds', `${REG}:${pw}`, '--raw',
    `docker://${ls}/team/app:v1`]), /manifest unknown|not found/i);
  fails(['acr', 'repository', 'show', '-n', REG, '--image', `team/app@${v1.digest}`], 'MANIFEST_UNKNOWN');
  // repository delete: gone from the list, and its files with it
  ok(['acr', 'repository', 'delete', '-n', REG, '--repository', 'team/app', '--yes']);
  assert.deepEqual(ok(['acr', 'repository', 'list', '-n', REG]).json, ['web']);
  u = usageOf(REG);
  assert.equal(u.currentValue, diskBytes(REG));
  // web:latest still pulls whole
  await skopeo(['copy', '--src-tls-verify=false', '--src-creds', `${REG}:${pw}`, `docker://${ls}/web:latest`,
    `oci:${freshDir('coffer-cli-repo-pull-')}:x`]);
  ok(['acr', 'repository', 'delete', '-n', REG, '--image', 'web:latest', '--yes']);
  assert.deepEqual(ok(['acr', 'repository', 'show-tags', '-n', REG, '--repository', 'web']).json, []);
});

test('a storage limit refuses the push that would pass it (403 DENIED), and nothing changes', async () => {
  const name = 'clirepoquota';
  ok(['acr', 'create', '-g', 'default', '-n', name, '--sku', 'Standard', '--admin-enabled', 'true']);
  const qpw = tsv(['acr', 'credential', 'show', '-n', name, '--query', 'passwords[0].value']);
  const qls = tsv(['acr', 'show', '-n', name, '--query', 'loginServer']);
  const creds = ['--dest-creds', `${name}:${qpw}`, '--dest-tls-verify=false'];
  await skopeo(['copy', ...creds, `oci:${app}:v1`, `docker://${qls}/app:v1`]);
  const used = usageOf(name).currentValue;
  assert.equal(used, diskBytes(name));
  // room for 1 MiB more: the 3 MiB layer does not fit
  assert.equal(tsv(['acr', 'update', '-n', name, '--storage-limit', String(used + (1 << 20)),
    '--query', 'storageLimit']), String(used + (1 << 20)));
  assert.equal(usageOf(name).limit, used + (1 << 20));
  await assert.rejects(skopeo(['copy', ...creds, `oci:${big}:v1`, `docker://${qls}/big:v1`]),
    /storage limit reached: registry clirepoquota stores \d+ of its \d+ bytes/);
  // the data plane's answer, as any client sees it
  const auth = `Basic ${Buffer.from(`${name}:${qpw}`).toString('base64')}`;
  const body = Buffer.alloc(2 << 20, 7);
  const r = await fetch(`${d.url}/v2/${name}/raw/blobs/uploads/?digest=sha256:${'1'.repeat(64)}`,
    { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/octet-stream' }, body });
  assert.equal(r.status, 403);
  const err = await r.json();
  assert.equal(err.errors[0].code, 'DENIED');
  assert.match(err.errors[0].message, /^storage limit reached: registry clirepoquota stores \d+ of its \d+ bytes \(.* of 1\.\d MiB\), this push adds \d+; delete images or raise the limit/);
  assert.equal(usageOf(name).currentValue, used, 'nothing was stored');
  assert.equal(diskBytes(name), used);
  assert.deepEqual(ok(['acr', 'repository', 'list', '-n', name]).json, ['app']);
  // a push that adds no bytes goes through: another tag of a stored manifest
  await skopeo(['copy', ...creds, `oci:${app}:v1`, `docker://${qls}/app:again`]);
  assert.deepEqual(ok(['acr', 'repository', 'show-tags', '-n', name, '--repository', 'app']).json, ['again', 'v1']);
  // at the limit exactly: even a new upload is refused before its body
  ok(['acr', 'update', '-n', name, '--storage-limit', String(used)]);
  const full = await fetch(`${d.url}/v2/${name}/raw/blobs/uploads/`, { method: 'POST', headers: { Authorization: auth } });
  assert.equal(full.status, 403);
  assert.equal((await full.json()).errors[0].code, 'DENIED');
  // no limit: the push goes
  assert.equal(ok(['acr', 'update', '-n', name, '--storage-limit', 'none']).json.storageLimit, null);
  await skopeo(['copy', ...creds, `oci:${big}:v1`, `docker://${qls}/big:v1`]);
  assert.ok(usageOf(name).currentValue > used + (3 << 20));
  assert.equal(usageOf(name).currentValue, diskBytes(name));
  const bad = coffer(['acr', 'update', '-n', name, '--storage-limit', '10 parsecs']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /argument --storage-limit: '10 parsecs' is not a size/);
  assert.equal(ok(['acr', 'update', '-n', name, '--storage-limit', '5GiB']).json.storageLimit, 5 * 2 ** 30);
});

test('acr login: skopeo pushes and pulls with no --creds, from the default auth file and from REGISTRY_AUTH_FILE', async () => {
  const name = 'clirepologin';
  ok(['acr', 'create', '-g', 'default', '-n', name, '--sku', 'Standard']);
  const lls = tsv(['acr', 'show', '-n', name, '--query', 'loginServer']);
  fails(['acr', 'login', '-n', name], 'AdminUserDisabled');
  ok(['acr', 'update', '-n', name, '--admin-enabled', 'true']);
  const lpw = tsv(['acr', 'credential', 'show', '-n', name, '--query', 'passwords[0].value']);

  // the default file: $XDG_RUNTIME_DIR/containers/auth.json (made, 0600)
  const xdg = freshDir('coffer-cli-login-xdg-');
  dirs.push(xdg);
  const skenv = { XDG_RUNTIME_DIR: xdg, REGISTRY_AUTH_FILE: '' };
  await assert.rejects(skopeo(['copy', '--dest-tls-verify=false', `oci:${app}:v1`, `docker://${lls}/app:v1`], { env: skenv }),
    /unauthorized|authentication required/i, 'no credentials before the login');
  assert.equal(ok(['acr', 'login', '-n', name], { XDG_RUNTIME_DIR: xdg }).out, 'Login Succeeded\n');
  const file = join(xdg, 'containers', 'auth.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')),
    { auths: { [lls]: { auth: Buffer.from(`${name}:${lpw}`).toString('base64') } } });
  await skopeo(['copy', '--dest-tls-verify=false', `oci:${app}:v1`, `docker://${lls}/app:v1`], { env: skenv });
  const { stdout } = await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${lls}/app:v1`], { env: skenv });
  assert.equal(JSON.parse(stdout).config.digest, readLayout(app, 'v1').manifest.config.digest);

  // REGISTRY_AUTH_FILE: what the file held is kept; a token's credentials
  const af = join(freshDir('coffer-cli-login-af-'), 'auth.json');
  dirs.push(join(af, '..'));
  writeFileSync(af, JSON.stringify({ auths: { 'other.example:5000': { auth: 'b3RoZXI6c2VjcmV0' } },
    credHelpers: { 'gcr.io': 'gcloud' } }), { mode: 0o644 });
  const tok = ok(['acr', 'token', 'create', '-n', 'pullonly', '-r', name, '--repository', 'app', 'content/read',
    'metadata/read', '--query', 'properties.credentials.passwords[0].value', '-o', 'tsv']).out.trim();
  // --password=VALUE: a password may begin with '-' (base64url), which, as
  // in az, would otherwise read as an option
  ok(['acr', 'login', '-n', name, '-u', 'pullonly', `--password=${tok}`], { REGISTRY_AUTH_FILE: af });
  const j = JSON.parse(readFileSync(af, 'utf8'));
  assert.equal(statSync(af).mode & 0o777, 0o600);
  assert.deepEqual(j.credHelpers, { 'gcr.io': 'gcloud' });
  assert.equal(j.auths['other.example:5000'].auth, 'b3RoZXI6c2VjcmV0');
  assert.equal(Buffer.from(j.auths[lls].auth, 'base64').toString(), `pullonly:${tok}`);
  const afenv = { REGISTRY_AUTH_FILE: af, XDG_RUNTIME_DIR: freshDir('coffer-cli-login-empty-') };
  await skopeo(['copy', '--src-tls-verify=false', `docker://${lls}/app:v1`, `oci:${freshDir('coffer-cli-login-pull-')}:x`], { env: afenv });
  await assert.rejects(skopeo(['copy', '--dest-tls-verify=false', `oci:${app}:v1`, `docker://${lls}/app:v2`], { env: afenv }),
    /denied|unauthorized/i, 'the token reads only');

  // usage errors and a file that is not an auth file (left as it was)
  const half = coffer(['acr', 'login', '-n', name, '-u', 'pullonly']);
  assert.equal(half.code, 2);
  assert.match(half.err, /--username and --password must be both supplied/);
  writeFileSync(af, '[1, 2]');
  fails(['acr', 'login', '-n', name], 'ConfigError', { REGISTRY_AUTH_FILE: af });
  assert.equal(readFileSync(af, 'utf8'), '[1, 2]');
});

test('acr login: docker\'s config.json when present (by host, 0600), and podman pushes and pulls with no --creds', async (t) => {
  const name = 'clirepodocker';
  ok(['acr', 'create', '-g', 'default', '-n', name, '--sku', 'Standard', '--admin-enabled', 'true']);
  const lls = tsv(['acr', 'show', '-n', name, '--query', 'loginServer']);
  const lpw = tsv(['acr', 'credential', 'show', '-n', name, '--query', 'passwords[0].value']);
  const podman = makePodman();
  dirs.push(podman.dir);
  mkdirSync(join(podman.dir, '.docker'));
  const dc = join(podman.dir, '.docker', 'config.json');
  writeFileSync(dc, JSON.stringify({ auths: { 'docker.example': { auth: 'eDp5' } } }), { mode: 0o644 });
  const penv = { XDG_RUNTIME_DIR: join(podman.dir, 'xdg'), HOME: podman.dir, REGISTRY_AUTH_FILE: undefined };
  ok(['acr', 'login', '-n', name], penv);
  const docker = JSON.parse(readFileSync(dc, 'utf8'));
  assert.equal(statSync(dc).mode & 0o777, 0o600);
  const host = lls.split('/')[0];
  assert.deepEqual(Object.keys(docker.auths).sort(), ['docker.example', host].sort());
  assert.equal(Buffer.from(docker.auths[host].auth, 'base64').toString(), `${name}:${lpw}`);
  assert.equal(statSync(join(podman.dir, 'xdg', 'containers', 'auth.json')).mode & 0o777, 0o600);

  try {
    await podman.run(['info', '--format', '{{.Store.GraphDriverName}}']);
  } catch (e) {
    t.skip(`podman cannot run here: ${String(e.message).split('\n')[0]}`);
    return;
  }
  // the docker file is not podman's source here: take it away
  rmSync(dc);
  // podman names the image after the layout's path, which must be lowercase
  const link = join(podman.dir, 'src').toLowerCase().replace(/[^a-z0-9/_.-]/g, '');
  mkdirSync(join(link, '..'), { recursive: true });
  dirs.push(join(link, '..'));
  symlinkSync(web, link);
  await podman.run(['pull', '-q', `oci:${link}:v1`]);
  const { stdout: id } = await podman.run(['images', '-q', '--no-trunc']);
  await podman.run(['tag', id.trim().split('\n')[0], `${lls}/pod:v1`]);
  await podman.run(['push', '-q', '--tls-verify=false', `${lls}/pod:v1`]);
  await podman.run(['rmi', '-a', '-f']);
  await podman.run(['pull', '-q', '--tls-verify=false', `${lls}/pod:v1`]);
  assert.deepEqual(ok(['acr', 'repository', 'show-tags', '-n', name, '--repository', 'pod']).json, ['v1']);
});

// A CMK registry whose key is revoked: listings still answer from
// metadata (what only the sealed content says is left out), deletes are
// refused naming the cause, and nothing is lost when access comes back.
test('a locked CMK registry: listings answer without the content\'s fields, deletes refused (KeyUnavailable)', async () => {
  const s = await startCmkStack();
  try {
    await s.createVault('repovault');
    const mi = await s.createIdentity('mi-repo');
    await s.grant('repovault', mi.principalId);
    const key = await s.createKey('repovault', 'repok');
    const cr = await s.createCmkRegistry('clirepocmk', { keyId: key.id, identity: mi });
    assert.equal(cr.status, 201, cr.text);
    await s.push(app, 'clirepocmk');
    const cenv = { COFFER_URL: s.mgmtUrl, COFFER_TOKEN: s.adminToken };
    const before = ok(['acr', 'manifest', 'list-metadata', '-r', 'clirepocmk', '-n', 'app'], cenv).json;
    assert.equal(before[0].architecture, readLayout(app, 'v1').config.architecture);
    await s.revokeAll('repovault', mi.principalId);
    await waitFor('locked', async () => (await s.kvp('clirepocmk')).keyStatus === 'unavailable');
    const locked = ok(['acr', 'manifest', 'list-metadata', '-r', 'clirepocmk', '-n', 'app'], cenv).json;
    const { architecture, os, configMediaType, ...meta } = before[0];
    assert.ok(architecture && os && configMediaType);
    assert.deepEqual(locked, [meta], 'the metadata, without what only the sealed content says');
    assert.deepEqual(ok(['acr', 'repository', 'show-tags', '-n', 'clirepocmk', '--repository', 'app'], cenv).json, ['v1']);
    const f = fails(['acr', 'repository', 'delete', '-n', 'clirepocmk', '--repository', 'app', '--yes'],
      'KeyUnavailable', cenv);
    assert.match(f.err, /Registry 'clirepocmk' is locked: .*customer-managed key/);
    fails(['acr', 'manifest', 'delete', '-n', 'clirepocmk/app:v1', '--yes'], 'KeyUnavailable', cenv);
    await s.grant('repovault', mi.principalId);
    await waitFor('unlocked', async () => (await s.kvp('clirepocmk')).keyStatus === 'available');
    assert.deepEqual(ok(['acr', 'manifest', 'list-metadata', '-r', 'clirepocmk', '-n', 'app'], cenv).json, before);
    await s.pullSame(app, 'clirepocmk', 'nothing lost');
  } finally {
    await s.stop();
  }
});

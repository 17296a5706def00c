// registry-auth: the data plane authenticates every request
// (docs/registry.md "Authentication", the token flow). cofferd starts with
// authentication on ({auth: true}); credentials are made through the
// management API: the admin user (adminUserEnabled, listCredentials),
// repository-scoped tokens (PUT .../tokens/T, generateCredentials) and
// anonymous pull. Real clients (skopeo --creds, podman login) and fetch
// drive the data plane; raw sockets send hostile Authorization headers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { mkdirSync, symlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { startCofferd, BUILD } from './lib/daemons.mjs';
import { OciClient, sha256, descriptor, MT, EMPTY_JSON, assertOciError, tempDir, removeAtExit } from './lib/oci.mjs';
import { buildImage, put, readLayout, skopeo, makePodman } from './lib/images.mjs';

const R1 = 'authone';
const R2 = 'authtwo';
let d, host, admin1, admin2;

async function mgmt(method, path, body) {
  const headers = { authorization: `Bearer ${d.adminToken}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${d.mgmtUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: r.status, text, json };
}

// Every password and token this file handles, for the last test: none may
// reach the daemon's log.
const secrets = new Set();
const basic = (user, pw) => {
  secrets.add(pw);
  return `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;
};

// An OciClient that sends `auth` as Authorization on every request.
class AuthClient extends OciClient {
  constructor(base, name, auth) { super(base, name); this.auth = auth; }
  req(method, path, opts = {}) {
    const headers = { ...(opts.headers || {}) };
    if (this.auth) headers.Authorization = this.auth;
    return super.req(method, path, { ...opts, headers });
  }
}

// GET /oauth2/token with the given scopes and Authorization (or none).
async function token(scopes, auth) {
  const u = new URL(`${d.url}/oauth2/token`);
  u.searchParams.set('service', host);
  for (const s of scopes) u.searchParams.append('scope', s);
  const r = await fetch(u, { headers: auth ? { Authorization: auth } : {} });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text, json: r.status === 200 ? JSON.parse(text) : undefined };
}

async function bearer(scopes, auth) {
  const t = await token(scopes, auth);
  assert.equal(t.status, 200, t.text);
  secrets.add(t.json.token);
  return `Bearer ${t.json.token}`;
}

const claims = (b) => JSON.parse(Buffer.from(b.replace(/^Bearer /, '').split('.')[1], 'base64url').toString());

async function makeToken(registry, name, scope) {
  const c = await mgmt('PUT', `/registries/${registry}/tokens/${name}`, { properties: { status: 'enabled', scope } });
  assert.ok([200, 201].includes(c.status), c.text);
  const g = await mgmt('POST', `/registries/${registry}/tokens/${name}/generateCredentials`, { name: 'password1' });
  assert.equal(g.status, 200, g.text);
  assert.equal(g.json.username, name);
  return basic(name, g.json.passwords.find((p) => p.name === 'password1').value);
}

async function adminCreds(registry) {
  const l = await mgmt('POST', `/registries/${registry}/listCredentials`);
  assert.equal(l.status, 200, l.text);
  return basic(l.json.username, l.json.passwords[0].value);
}

// A small image (config + one layer) pushed to registry/repo:tag.
async function pushSmall(c, tag = 'v1', marker = 'x') {
  const layer = Buffer.from(`layer of ${c.name} ${marker}`);
  const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', marker }));
  await c.pushBlob(layer);
  await c.pushBlob(cfg);
  const m = { schemaVersion: 2, mediaType: MT.manifest, config: descriptor(MT.config, cfg), layers: [descriptor(MT.layerTar, layer)] };
  const r = await c.putManifest(tag, m);
  assert.equal(r.status, 201, `${r.status} ${r.body}`);
  return { layer, cfg, manifest: m };
}

before(async () => {
  d = await startCofferd({ auth: true });
  host = `127.0.0.1:${d.port}`;
  for (const r of [R1, R2]) {
    const c = await mgmt('PUT', `/registries/${r}`, { sku: { name: 'Standard' }, properties: { adminUserEnabled: true } });
    assert.equal(c.status, 201, c.text);
  }
  admin1 = await adminCreds(R1);
  admin2 = await adminCreds(R2);
  await pushSmall(new AuthClient(d.url, `${R1}/app`, admin1));
  await pushSmall(new AuthClient(d.url, `${R1}/other`, admin1));
  await pushSmall(new AuthClient(d.url, `${R2}/app`, admin2));
});
after(async () => { await d?.stop(); });

const ERR401 = '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}';

test('the daemon logs that authentication is on by default (no warning)', async () => {
  assert.doesNotMatch(d.log(), /authentication is OFF/);
});

test('anonymous requests get 401 with the exact challenge', async () => {
  const realm = `Bearer realm="http://${host}/oauth2/token",service="${host}"`;
  const cases = [
    ['GET', '/v2/', realm],
    ['GET', '/v2/_catalog', realm],
    ['GET', `/v2/${R1}/app/manifests/v1`, `${realm},scope="repository:${R1}/app:pull"`],
    ['HEAD', `/v2/${R1}/app/manifests/v1`, `${realm},scope="repository:${R1}/app:pull"`],
    ['GET', `/v2/${R1}/app/tags/list`, `${realm},scope="repository:${R1}/app:pull"`],
    ['POST', `/v2/${R1}/app/blobs/uploads/`, `${realm},scope="repository:${R1}/app:pull,push"`],
    ['PUT', `/v2/${R1}/app/manifests/v2`, `${realm},scope="repository:${R1}/app:pull,push"`],
    ['DELETE', `/v2/${R1}/app/manifests/v1`, `${realm},scope="repository:${R1}/app:delete"`],
    // a registry that does not exist answers the same (nothing learned)
    ['GET', '/v2/nosuchreg/app/manifests/v1', `${realm},scope="repository:nosuchreg/app:pull"`],
  ];
  for (const [method, path, want] of cases) {
    const r = await fetch(`${d.url}${path}`, { method });
    assert.equal(r.status, 401, `${method} ${path}`);
    assert.equal(r.headers.get('www-authenticate'), want, `${method} ${path}`);
    if (method !== 'HEAD') assert.equal(await r.text(), ERR401, `${method} ${path}`);
  }
});

test('a Host header that is not host[:port] never reaches the challenge', async () => {
  const r = await rawRequest(`GET /v2/ HTTP/1.1\r\nHost: evil"realm\r\nConnection: close\r\n\r\n`);
  assert.match(r, /^HTTP\/1\.1 401 /);
  assert.ok(r.includes(`WWW-Authenticate: Bearer realm="http://${host}/oauth2/token",service="${host}"`), r);
  assert.ok(!r.includes('evil'), r);
});

test('skopeo with the admin user pushes and pulls back bit-identical', async () => {
  const src = await buildImage({ tag: 'v1', layers: [(r) => { put(r, 'etc/motd', 'auth e2e\n'); }] });
  const s = readLayout(src, 'v1');
  const ref = `${host}/${R1}/skopeo`;
  const l = await mgmt('POST', `/registries/${R1}/listCredentials`);
  const creds = `${R1}:${l.json.passwords[1].value}`; // password2 works as well
  await assert.rejects(skopeo(['copy', '--dest-tls-verify=false', `oci:${src}:v1`, `docker://${ref}:v1`]),
    'without credentials the push fails');
  await skopeo(['copy', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${src}:v1`, `docker://${ref}:v1`]);
  const dst = join(tempDir('coffer-auth-pull-'), 'layout');
  await skopeo(['copy', '--preserve-digests', '--src-tls-verify=false', '--src-creds', creds, `docker://${ref}:v1`, `oci:${dst}:v1`]);
  const p = readLayout(dst, 'v1');
  assert.equal(p.digest, s.digest);
  assert.deepEqual(p.layers, s.layers);
  for (const dg of [p.digest, p.configDigest, ...p.layers]) assert.ok(p.blob(dg).equals(s.blob(dg)), dg);
});

test('podman login, then push and pull with the stored credentials', async (t) => {
  const podman = makePodman();
  try {
    await podman.run(['info', '--format', '{{.Store.GraphDriverName}}']);
  } catch (e) {
    t.skip(`podman cannot run in this sandbox: ${String(e.message).split('\n')[0]}`);
    return;
  }
  const l = await mgmt('POST', `/registries/${R1}/listCredentials`);
  await assert.rejects(podman.run(['login', '--tls-verify=false', '-u', R1, '-p', 'wrong-password', host]));
  await podman.run(['login', '--tls-verify=false', '-u', R1, '-p', l.json.passwords[0].value, host]);
  const src = await buildImage({ tag: 'v1', layers: [(r) => { put(r, 'etc/motd', 'podman auth\n'); }] });
  const link = join(podman.dir, 'src').toLowerCase().replace(/[^a-z0-9/_.-]/g, '');
  mkdirSync(join(link, '..'), { recursive: true });
  symlinkSync(src, link);
  removeAtExit(join(link, '..'));
  await podman.run(['pull', '-q', `oci:${link}:v1`]);
  const { stdout: id } = await podman.run(['images', '-q', '--no-trunc']);
  const ref = `${host}/${R1}/pod:v1`;
  await podman.run(['tag', id.trim().split('\n')[0], ref]);
  await podman.run(['push', '-q', '--tls-verify=false', ref]);
  const c = new AuthClient(d.url, `${R1}/pod`, admin1);
  const m = await c.getManifest('v1');
  assert.equal(m.status, 200, `${m.status} ${m.body}`);
  await podman.run(['rmi', '-a', '-f']);
  await podman.run(['pull', '-q', '--tls-verify=false', ref]);
  await podman.run(['logout', host]);
  await podman.run(['rmi', '-a', '-f']);
  await assert.rejects(podman.run(['pull', '-q', '--tls-verify=false', ref]), 'logged out: pull refused');
});

test('a read-only token pulls; its push gets 403 DENIED', async () => {
  const ro = await makeToken(R1, 'reader', [{ repository: 'app', actions: ['content/read'] }]);
  // the token endpoint grants what the scope map allows, never an error
  const b = await bearer([`repository:${R1}/app:pull,push`], ro);
  assert.deepEqual(claims(b).access, [{ type: 'repository', name: `${R1}/app`, actions: ['pull'] }]);
  assert.equal(claims(b).sub, 'reader');
  const c = new AuthClient(d.url, `${R1}/app`, b);
  assert.equal((await c.getManifest('v1')).status, 200);
  assert.equal((await c.get('/tags/list')).status, 200);
  assertOciError(await c.req('POST', '/blobs/uploads/'), 403, 'DENIED', 'bearer push');
  assertOciError(await c.putManifest('v9', { schemaVersion: 2 }), 403, 'DENIED', 'bearer manifest put');
  assertOciError(await c.del('/manifests/v1'), 403, 'DENIED', 'bearer delete');
  // Basic directly: the same rights
  const cb = new AuthClient(d.url, `${R1}/app`, ro);
  assert.equal((await cb.getManifest('v1')).status, 200);
  assertOciError(await cb.req('POST', '/blobs/uploads/'), 403, 'DENIED', 'basic push');
  // skopeo as the read-only token: pull works, push is refused
  const { stdout } = await skopeo(['inspect', '--tls-verify=false', '--creds', `reader:${Buffer.from(ro.slice(6), 'base64').toString().split(':')[1]}`, `docker://${host}/${R1}/app:v1`]);
  assert.equal(JSON.parse(stdout).Name, `${host}/${R1}/app`);
});

test('an admin bearer token lacking the scope answers 401 insufficient_scope', async () => {
  const b = await bearer([`repository:${R1}/app:pull`], admin1);
  const r = await new AuthClient(d.url, `${R1}/app`, b).req('POST', '/blobs/uploads/');
  assertOciError(r, 401, 'UNAUTHORIZED');
  assert.equal(r.headers.get('www-authenticate'),
    `Bearer realm="http://${host}/oauth2/token",service="${host}",scope="repository:${R1}/app:pull,push",error="insufficient_scope"`);
});

test('a token scoped to repository A cannot read repository B', async () => {
  const ro = await makeToken(R1, 'onlyapp', [{ repository: 'app', actions: ['content/read', 'metadata/read'] }]);
  const b = await bearer([`repository:${R1}/other:pull`, `repository:${R1}/app:pull`], ro);
  assert.deepEqual(claims(b).access.map((a) => a.name), [`${R1}/app`]);
  for (const auth of [b, ro]) {
    const c = new AuthClient(d.url, `${R1}/other`, auth);
    assertOciError(await c.getManifest('v1'), 403, 'DENIED', 'manifest of B');
    assertOciError(await c.get('/tags/list'), 403, 'DENIED', 'tags of B');
    assert.equal((await new AuthClient(d.url, `${R1}/app`, auth).getManifest('v1')).status, 200);
  }
  // prefix scope maps: team/* reads team/x but not teamx
  const tm = await makeToken(R1, 'teamread', [{ repository: 'team/*', actions: ['content/read', 'content/write'] }]);
  const ct = new AuthClient(d.url, `${R1}/team/x`, tm);
  await pushSmall(ct);
  assert.equal((await ct.getManifest('v1')).status, 200);
  assertOciError(await new AuthClient(d.url, `${R1}/teamx`, tm).req('POST', '/blobs/uploads/'), 403, 'DENIED');
});

test('cross-repository mount needs pull on from, else falls back to an upload', async () => {
  const cw = await makeToken(R1, 'mounter', [{ repository: 'dst', actions: ['content/read', 'content/write'] },
    { repository: 'app', actions: ['content/read'] }]);
  const layer = Buffer.from(`layer of ${R1}/app x`);
  const dg = sha256(layer);
  const c = new AuthClient(d.url, `${R1}/dst`, cw);
  const m1 = await c.req('POST', `/blobs/uploads/?mount=${dg}&from=${R1}/app`);
  assert.equal(m1.status, 201, `mount from a readable repository: ${m1.body}`);
  const otherLayer = sha256(Buffer.from(`layer of ${R1}/other x`));
  const m2 = await c.req('POST', `/blobs/uploads/?mount=${otherLayer}&from=${R1}/other`);
  assert.equal(m2.status, 202, 'no pull on from: a plain upload');
  const m3 = await c.req('POST', `/blobs/uploads/?mount=${otherLayer}`);
  assert.equal(m3.status, 202, 'no from: only the admin user mounts any blob');
  assertOciError(await c.get(`/blobs/${otherLayer}`), 404, 'BLOB_UNKNOWN');
  const a = new AuthClient(d.url, `${R1}/dst2`, admin1);
  assert.equal((await a.req('POST', `/blobs/uploads/?mount=${otherLayer}`)).status, 201);
});

// WWW-Authenticate: Bearer realm="…",service="…",scope="…" as a map.
function parseChallenge(h) {
  assert.match(h || '', /^Bearer /, `a Bearer challenge: ${h}`);
  const out = {};
  for (const m of h.slice(7).matchAll(/(\w+)="([^"]*)"/g)) out[m[1]] = m[2];
  return out;
}

// What a client that follows the challenge to the letter does: fetch a
// token for exactly the challenged service and scopes, with its Basic
// credentials, and retry with it.
async function followChallenge(url, method, auth) {
  const r0 = await fetch(url, { method });
  assert.equal(r0.status, 401, `${method} ${url} without credentials`);
  const ch = parseChallenge(r0.headers.get('www-authenticate'));
  const u = new URL(ch.realm);
  u.searchParams.set('service', ch.service);
  for (const sc of (ch.scope || '').split(' ').filter(Boolean)) u.searchParams.append('scope', sc);
  const t = await fetch(u, { headers: { Authorization: auth } });
  assert.equal(t.status, 200, `token for ${u.search}`);
  const tok = (await t.json()).token;
  secrets.add(tok);
  const r = await fetch(url, { method, headers: { Authorization: `Bearer ${tok}` } });
  return { challenge: ch, token: tok, r, text: await r.text() };
}

test('a mount with token auth: the challenge names from too, and the challenged token mounts (201)', async () => {
  const layer = Buffer.from(`layer of ${R1}/app x`); // pushed to R1/app in before()
  const dg = sha256(layer);
  const url = `${d.url}/v2/${R1}/chal/blobs/uploads/?mount=${dg}&from=${R1}/app`;
  const f = await followChallenge(url, 'POST', admin1);
  // as CNCF Distribution: both scopes, space-separated, in one parameter
  assert.equal(f.challenge.scope, `repository:${R1}/chal:pull,push repository:${R1}/app:pull`);
  assert.equal(f.challenge.service, host);
  assert.deepEqual(claims(f.token).access.map((a) => [a.name, a.actions]).sort(),
    [[`${R1}/app`, ['pull']], [`${R1}/chal`, ['pull', 'push']]]);
  assert.equal(f.r.status, 201, `mounted, not a new upload: ${f.r.status} ${f.text}`);
  assert.equal(f.r.headers.get('docker-content-digest'), dg);
  assert.equal(f.r.headers.get('location'), `/v2/${R1}/chal/blobs/${dg}`);
  const g = await new AuthClient(d.url, `${R1}/chal`, `Bearer ${f.token}`).get(`/blobs/${dg}`);
  assert.equal(g.status, 200);
  assert.ok(g.body.equals(layer));
  // a source in another registry is never asked for (no mount across registries)
  const x = await fetch(`${d.url}/v2/${R1}/chal/blobs/uploads/?mount=${dg}&from=${R2}/app`, { method: 'POST' });
  assert.equal(parseChallenge(x.headers.get('www-authenticate')).scope, `repository:${R1}/chal:pull,push`);
});

// docs/registry.md "Authentication": a mount reads its source, so the
// request's own grant must include pull there. A bearer token grants the
// scopes it names, whoever it was minted for.
test('a mount with a bearer token scoped to the target alone: 401 insufficient_scope with from, an upload without', async () => {
  const dg = sha256(Buffer.from(`layer of ${R1}/app x`));
  const narrow = await bearer([`repository:${R1}/dst3:pull,push`], admin1);
  const c = new AuthClient(d.url, `${R1}/dst3`, narrow);
  // with from: the admin user could read it, so the token is too narrow
  const m1 = await c.req('POST', `/blobs/uploads/?mount=${dg}&from=${R1}/app`);
  assertOciError(m1, 401, 'UNAUTHORIZED', 'mount with a token lacking pull on from');
  assert.equal(m1.headers.get('www-authenticate'),
    `Bearer realm="http://${host}/oauth2/token",service="${host}",scope="repository:${R1}/dst3:pull,push repository:${R1}/app:pull",error="insufficient_scope"`);
  // without from: the source is every repository, which no token names
  const m2 = await c.req('POST', `/blobs/uploads/?mount=${dg}`);
  assert.equal(m2.status, 202, `a bearer token never mounts without from: ${m2.status}`);
  assert.equal((await c.req('DELETE', c.location(m2))).status, 204);
  // the wider token the challenge asked for mounts
  const wide = await bearer([`repository:${R1}/dst3:pull,push`, `repository:${R1}/app:pull`], admin1);
  const m3 = await new AuthClient(d.url, `${R1}/dst3`, wide).req('POST', `/blobs/uploads/?mount=${dg}&from=${R1}/app`);
  assert.equal(m3.status, 201, `${m3.status} ${m3.body}`);
  // a repository-scoped token whose scope map cannot read from: an upload, no 401 loop
  const cw = await makeToken(R1, 'mounter3', [{ repository: 'dst4', actions: ['content/read', 'content/write'] }]);
  const tb = await bearer([`repository:${R1}/dst4:pull,push`, `repository:${R1}/app:pull`], cw);
  assert.deepEqual(claims(tb).access.map((a) => a.name), [`${R1}/dst4`]);
  const m4 = await new AuthClient(d.url, `${R1}/dst4`, tb).req('POST', `/blobs/uploads/?mount=${dg}&from=${R1}/app`);
  assert.equal(m4.status, 202, `no pull on from for these credentials: ${m4.status} ${m4.body}`);
});

test('skopeo copies between repositories by mounting the blobs (token auth)', async () => {
  const src = await buildImage({ tag: 'v1', layers: [(r) => { put(r, 'etc/mount', 'mounted, not uploaded\n'); }] });
  const l = await mgmt('POST', `/registries/${R1}/listCredentials`);
  const creds = `${R1}:${l.json.passwords[0].value}`;
  secrets.add(l.json.passwords[0].value);
  const cache = tempDir('coffer-skopeo-shared-');
  // the first push uploads and tells skopeo's blob-info cache where the blobs are
  await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${src}:v1`, `docker://${host}/${R1}/mnta:v1`], { cache });
  // the second asks to mount them from there (field-notes: skopeo's hot path)
  const { stdout, stderr } = await skopeo(['--debug', 'copy', '--dest-tls-verify=false', '--dest-creds', creds,
    `oci:${src}:v1`, `docker://${host}/${R1}/mntb:v1`], { cache });
  const out = stdout + stderr;
  const s = readLayout(src, 'v1');
  // c/image's debug log: each layer mounted from mnta, none uploaded
  for (const dg of s.layers) {
    assert.match(out, new RegExp(`Trying to mount /v2/${R1}/mntb/blobs/uploads/\\?from=${R1}%2Fmnta&mount=${dg.replace(':', '%3A')}`), out);
    assert.match(out, new RegExp(`Skipping blob ${dg} \\(already present\\)`), out);
    assert.doesNotMatch(out, new RegExp(`Upload of layer ${dg} complete`), out);
  }
  assert.match(out, /\.\.\. mount OK/, out);
  assert.doesNotMatch(out, /started an upload instead/, out);
  // and the image reads back whole from the second repository
  const back = join(tempDir('coffer-auth-mnt-'), 'layout');
  await skopeo(['copy', '--src-tls-verify=false', '--src-creds', creds, `docker://${host}/${R1}/mntb:v1`, `oci:${back}:v1`]);
  const b = readLayout(back, 'v1');
  for (const dg of b.layers) assert.ok(b.blob(dg).equals(s.blob(dg)), dg);
});

test('anonymous pull when enabled; anonymous push never', async () => {
  const c = new OciClient(d.url, `${R1}/app`);
  assert.equal((await c.getManifest('v1')).status, 401);
  const t0 = await token([`repository:${R1}/app:pull`]);
  assert.equal(t0.status, 200, 'anonymous tokens are issued, empty');
  assert.deepEqual(claims(t0.json.token).access, []);
  const on = await mgmt('PATCH', `/registries/${R1}`, { properties: { anonymousPullEnabled: true } });
  assert.equal(on.status, 200, on.text);
  assert.equal((await c.getManifest('v1')).status, 200, 'no credentials at all');
  assert.equal((await c.get('/tags/list')).status, 200);
  const b = await bearer([`repository:${R1}/app:pull,push`]);
  assert.deepEqual(claims(b).access, [{ type: 'repository', name: `${R1}/app`, actions: ['pull'] }]);
  const cb = new AuthClient(d.url, `${R1}/app`, b);
  assert.equal((await cb.getManifest('v1')).status, 200);
  for (const cl of [c, cb]) {
    const r = await cl.req('POST', '/blobs/uploads/');
    assertOciError(r, 401, 'UNAUTHORIZED', 'anonymous push');
    assert.match(r.headers.get('www-authenticate'), /scope="repository:authone\/app:pull,push"/);
    assertOciError(await cl.del('/manifests/v1'), 401, 'UNAUTHORIZED', 'anonymous delete');
  }
  assert.equal((await fetch(`${d.url}/v2/_catalog`)).status, 401, 'the catalog is never anonymous');
  assert.equal((await new OciClient(d.url, `${R2}/app`).getManifest('v1')).status, 401, 'only where enabled');
  await mgmt('PATCH', `/registries/${R1}`, { properties: { anonymousPullEnabled: false } });
  assert.equal((await c.getManifest('v1')).status, 401);
  assert.equal((await cb.getManifest('v1')).status, 401, 'an anonymous token stops with the setting');
});

test('disabling the admin user revokes its earlier bearer token at once', async () => {
  const b = await bearer([`repository:${R2}/app:pull`], admin2);
  const c = new AuthClient(d.url, `${R2}/app`, b);
  assert.equal((await c.getManifest('v1')).status, 200);
  assert.equal((await mgmt('PATCH', `/registries/${R2}`, { properties: { adminUserEnabled: false } })).status, 200);
  const r = await c.getManifest('v1');
  assertOciError(r, 401, 'UNAUTHORIZED', 'revoked token');
  assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
  assertOciError(await new AuthClient(d.url, `${R2}/app`, admin2).getManifest('v1'), 401, 'UNAUTHORIZED', 'Basic of a disabled admin');
  assert.equal((await token([`repository:${R2}/app:pull`], admin2)).status, 401);
  assert.equal((await mgmt('PATCH', `/registries/${R2}`, { properties: { adminUserEnabled: true } })).status, 200);
  assert.equal((await c.getManifest('v1')).status, 401, 'the old token stays revoked after re-enabling');
  assert.equal((await new AuthClient(d.url, `${R2}/app`, admin2).getManifest('v1')).status, 200, 'the passwords are kept');
});

test('a token of registry R1 is refused on R2', async () => {
  const b = await bearer([`repository:${R1}/app:pull`], admin1);
  const r = await new AuthClient(d.url, `${R2}/app`, b).getManifest('v1');
  assertOciError(r, 401, 'UNAUTHORIZED');
  // a registry that does not exist answers the same credentials the same way
  const ch = (reg) => `Bearer realm="http://${host}/oauth2/token",service="${host}",scope="repository:${reg}/app:pull",error="invalid_token"`;
  assert.equal(r.headers.get('www-authenticate'), ch(R2));
  const m = await new AuthClient(d.url, 'nosuchreg1/app', b).getManifest('v1');
  assertOciError(m, 401, 'UNAUTHORIZED', 'a bearer token on a registry that does not exist');
  assert.equal(m.headers.get('www-authenticate'), ch('nosuchreg1'));
  assert.equal(m.body.toString(), r.body.toString());
  // R1's admin asking for R2: invalid credentials there
  const t = await token([`repository:${R2}/app:pull`], admin1);
  assert.equal(t.status, 401);
  assert.equal(t.headers.get('www-authenticate'), 'Basic realm="coffer"');
  assertOciError(await new AuthClient(d.url, `${R2}/app`, admin1).getManifest('v1'), 401, 'UNAUTHORIZED', 'Basic of R1 on R2');
});

test('the token endpoint: docker login without scope, wrong passwords, the response shape', async () => {
  const t = await token([], admin1);
  assert.equal(t.status, 200);
  assert.equal(t.json.token, t.json.access_token);
  assert.equal(t.json.expires_in, 3600);
  assert.match(t.json.issued_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const c = claims(t.json.token);
  assert.equal(c.iss, 'coffer');
  assert.equal(c.sub, R1);
  assert.equal(c.aud, host);
  assert.equal(c.exp - c.iat, 3600);
  assert.deepEqual(c.access, []);
  assert.deepEqual(JSON.parse(Buffer.from(t.json.token.split('.')[0], 'base64url')), { alg: 'HS256', typ: 'JWT' });
  // /v2/ with that token, or with Basic
  assert.equal((await fetch(`${d.url}/v2/`, { headers: { Authorization: `Bearer ${t.json.token}` } })).status, 200);
  assert.equal((await fetch(`${d.url}/v2/`, { headers: { Authorization: admin1 } })).status, 200);
  // a token user (no registry in the request) is found in its registry
  const ro = await makeToken(R2, 'reader2', [{ repository: 'app', actions: ['content/read'] }]);
  assert.equal(claims((await token([], ro)).json.token).rid, claims((await token([], admin2)).json.token).rid);
  for (const bad of [basic(R1, 'wrong'), basic('nobody', 'x'), 'Basic !!!', 'Bearer x.y.z']) {
    const r = await token([`repository:${R1}/app:pull`], bad);
    assert.equal(r.status, 401, bad);
    assert.equal(r.headers.get('www-authenticate'), 'Basic realm="coffer"');
    assert.equal(r.text, ERR401);
  }
  // a wrong password and a wrong user look the same
  const a = await token([], basic(R1, 'wrong'));
  const b = await token([], basic('nobodyhere', 'wrong'));
  assert.equal(a.text, b.text);
});

// docs/security.md: the data plane mints registry tokens for its own
// service only (fixed at start) and accepts no token whose aud differs.
test('/oauth2/token mints for this service only: another service is refused in the token protocol\'s error format', async () => {
  const ask = async (service) => {
    const u = new URL(`${d.url}/oauth2/token`);
    if (service !== undefined) u.searchParams.set('service', service);
    u.searchParams.append('scope', `repository:${R1}/app:pull`);
    const r = await fetch(u, { headers: { Authorization: admin1 } });
    return { status: r.status, text: await r.text() };
  };
  for (const evil of ['evil.example', `${host}.evil.example`, host.toUpperCase() + 'x', '', '\u00e9\u00e9', '%ff']) {
    const r = await ask(evil);
    assert.equal(r.status, 400, `service=${evil}: ${r.status} ${r.text}`);
    const j = JSON.parse(r.text);
    assert.equal(j.errors[0].code, 'UNSUPPORTED_VALUE', r.text);
    assert.equal(j.errors[0].message, `unsupported value: service; tokens are issued for service "${host}" only (the challenge's)`);
    assert.ok(!('token' in j), 'no token');
  }
  for (const ours of [host, undefined]) {
    const r = await ask(ours);
    assert.equal(r.status, 200, r.text);
    const tok = JSON.parse(r.text).token;
    secrets.add(tok);
    assert.equal(claims(tok).aud, host);
  }
});

test('--service fixes the service name; a token minted for another service is refused with the challenge', async () => {
  const dataDir = tempDir('coffer-svc-data-');
  const scope = 'repository:svcreg1/app:pull';
  let e = await startCofferd({ dataDir, auth: true, args: ['--service', 'one.registry.example'] });
  let old;
  try {
    const h = { authorization: `Bearer ${e.adminToken}`, 'content-type': 'application/json' };
    const c = await fetch(`${e.mgmtUrl}/registries/svcreg1`, { method: 'PUT', headers: h, body: JSON.stringify({ properties: { adminUserEnabled: true } }) });
    assert.equal(c.status, 201);
    const l = await (await fetch(`${e.mgmtUrl}/registries/svcreg1/listCredentials`, { method: 'POST', headers: h })).json();
    const adm = basic('svcreg1', l.passwords[0].value);
    const r0 = await fetch(`${e.url}/v2/svcreg1/app/tags/list`);
    assert.equal(r0.headers.get('www-authenticate'),
      `Bearer realm="http://127.0.0.1:${e.port}/oauth2/token",service="one.registry.example",scope="${scope}"`);
    const f = await followChallenge(`${e.url}/v2/svcreg1/app/tags/list`, 'GET', adm);
    assert.equal(f.r.status, 404, f.text); // authenticated: an empty repository
    assert.equal(claims(f.token).aud, 'one.registry.example');
    old = f.token;
    assert.match(e.log(), /"msg":"listening"[^\n]*"api":"data"[^\n]*"service":"one.registry.example"/);
  } finally {
    await e.stop();
  }
  // the same data (same signing key), another service: the old token's aud differs
  e = await startCofferd({ dataDir, auth: true, args: ['--service', 'two.registry.example'] });
  try {
    const r = await fetch(`${e.url}/v2/svcreg1/app/tags/list`, { headers: { Authorization: `Bearer ${old}` } });
    assertOciError({ status: r.status, body: await r.text(), json() { return JSON.parse(this.body); } }, 401, 'UNAUTHORIZED');
    assert.equal(r.headers.get('www-authenticate'),
      `Bearer realm="http://127.0.0.1:${e.port}/oauth2/token",service="two.registry.example",scope="${scope}",error="invalid_token"`);
    assert.equal((await fetch(`${e.url}/v2/`, { headers: { Authorization: `Bearer ${old}` } })).status, 401);
  } finally {
    await e.stop();
  }
  // a service name that cannot be quoted in a challenge is refused at start
  const bad = spawnSync(join(BUILD, 'cofferd'), ['--data', dataDir, '--listen', '127.0.0.1:0', '--mgmt-listen', '127.0.0.1:0',
    '--service', 'evil"name'], { encoding: 'utf8', timeout: 30000 });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /service name 'evil\\"name' is invalid/);
});

test('the catalog lists only the credentials\' registry', async () => {
  const names = async (auth) => {
    const r = await fetch(`${d.url}/v2/_catalog`, { headers: { Authorization: auth } });
    assert.equal(r.status, 200, await r.clone().text());
    return (await r.json()).repositories;
  };
  const all1 = await names(admin1);
  assert.ok(all1.includes(`${R1}/app`) && all1.includes(`${R1}/other`), all1.join());
  assert.ok(all1.every((n) => n.startsWith(`${R1}/`)), all1.join());
  assert.deepEqual(await names(await bearer([], admin1)), all1);
  assert.deepEqual(await names(admin2), [`${R2}/app`]);
  const ro = await makeToken(R1, 'catreader', [{ repository: 'app', actions: ['metadata/read'] }]);
  assert.deepEqual(await names(ro), [`${R1}/app`]);
  assert.deepEqual(await names(await bearer([], ro)), [`${R1}/app`]);
  // pagination stays within the registry
  const p = await fetch(`${d.url}/v2/_catalog?n=1`, { headers: { Authorization: admin1 } });
  assert.deepEqual((await p.json()).repositories, [all1[0]]);
  assert.equal(p.headers.get('link'), `</v2/_catalog?last=${all1[0]}&n=1>; rel="next"`);
  const p2 = await fetch(`${d.url}/v2/_catalog?n=1&last=${all1[0]}`, { headers: { Authorization: admin1 } });
  assert.deepEqual((await p2.json()).repositories, [all1[1]]);
});

test('Basic directly on data-plane requests', async () => {
  const c = new AuthClient(d.url, `${R1}/app`, admin1);
  const t = await c.get('/tags/list');
  assert.equal(t.status, 200);
  assert.deepEqual(t.json(), { name: `${R1}/app`, tags: ['v1'] });
  const up = await pushSmall(new AuthClient(d.url, `${R1}/basicpush`, admin1), 'b1', 'basic');
  const m = await c.get(`/v2/${R1}/basicpush/manifests/b1`, { headers: { Accept: MT.manifest } });
  assert.equal(m.status, 200);
  assert.deepEqual(JSON.parse(m.body), up.manifest);
  assert.equal((await c.get(`/v2/${R1}/basicpush/blobs/${sha256(EMPTY_JSON)}`)).status, 404);
});

// ---- hostile Authorization headers on a raw socket

function rawRequest(text) {
  return new Promise((resolve, reject) => {
    const s = connect(d.port, '127.0.0.1');
    let out = '';
    s.setTimeout(10000, () => { s.destroy(); reject(new Error(`timeout; got ${out.slice(0, 200)}`)); });
    s.on('data', (b) => { out += b.toString('latin1'); });
    s.on('end', () => resolve(out));
    s.on('error', (e) => (out ? resolve(out) : reject(e)));
    s.write(text);
  });
}

test('hostile Authorization headers answer 401 and the daemon lives on', async () => {
  const p = `/v2/${R1}/app/manifests/v1`;
  const hdr = (v) => `GET ${p} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: ${v}\r\nConnection: close\r\n\r\n`;
  const none = Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url');
  const good = (await bearer([`repository:${R1}/app:pull`], admin1)).slice(7);
  const [h, pl] = good.split('.');
  const cases = {
    'huge bearer': `Bearer ${'A'.repeat(60000)}`,
    'huge basic': `Basic ${'QUFB'.repeat(15000)}`,
    'bad base64': 'Basic ###notbase64###',
    'no colon': `Basic ${Buffer.from('authone').toString('base64')}`,
    'alg none': `Bearer ${none}.${pl}.`,
    'alg none, signature kept': `Bearer ${none}.${pl}.${good.split('.')[2]}`,
    'truncated jwt': `Bearer ${good.slice(0, good.length - 5)}`,
    'two parts': `Bearer ${h}.${pl}`,
    'empty bearer': 'Bearer ',
    'unknown scheme': 'Digest username="authone"',
    'nul and controls': 'Bearer \x01\x02\x7f',
  };
  for (const [what, v] of Object.entries(cases)) {
    const r = await rawRequest(hdr(v));
    assert.match(r, /^HTTP\/1\.1 401 /, `${what}: ${r.slice(0, 120)}`);
    assert.ok(r.includes('"code":"UNAUTHORIZED"'), what);
  }
  // and it still serves the genuine token
  const ok = await rawRequest(hdr(`Bearer ${good}`));
  assert.match(ok, /^HTTP\/1\.1 200 /);
  assert.equal(d.proc.exitCode, null, 'cofferd still running');
});

test('no password, registry token or admin token reaches the log', async () => {
  secrets.add(d.adminToken);
  /* the real ones: generated passwords are 43 characters, tokens longer;
   * the tests' deliberate wrong passwords are short */
  const real = [...secrets].filter((x) => x.length >= 40);
  assert.ok(real.length >= 5, `the tests above handled secrets (${real.length})`);
  await new Promise((r) => setTimeout(r, 300)); /* the log stream catches up */
  const log = d.log();
  assert.ok(log.includes('"msg":"request failed"'), 'the log holds the failed requests of the tests above');
  for (const x of real) {
    assert.ok(!log.includes(x), `a secret (${x.slice(0, 6)}…) is in the log`);
    const b64 = Buffer.from(x).toString('base64');
    assert.ok(!log.includes(b64), `a secret in base64 (${b64.slice(0, 6)}…) is in the log`);
  }
});

// control-auth.test.mjs -- the management side of registry authentication
// (docs/control-plane.md "Registry authentication", docs/cli.md "acr
// credential" and "acr token"), against a real
// cofferd: adminUserEnabled / anonymousPullEnabled round-trip through PUT,
// PATCH and the CLI; the admin user's passwords (listCredentials stable
// until renewed, regenerating one leaves the other, 409 AdminUserDisabled);
// tokens CRUD whose JSON never shows a password except in
// generateCredentials' answer; scope validation; anonymous pull refused on
// Basic. (Pushing and pulling with these credentials is the data plane's
// test, registry-auth.test.mjs.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startCofferd, metaBytes, metaSql, PG } from './lib/daemons.mjs';
import { cofferRunner } from './lib/cli.mjs';
import { armId } from './lib/arm.mjs';

let d, env;
before(async () => {
  d = await startCofferd();
  env = { PATH: process.env.PATH, HOME: d.dataDir, COFFER_CONFIG: '/dev/null',
          COFFER_URL: d.mgmtUrl, COFFER_TOKEN: d.adminToken };
});
after(async () => { await d?.stop(); });

async function mgmt(method, path, body) {
  const headers = { authorization: `Bearer ${d.adminToken}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${d.mgmtUrl}${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  keepPasswords(json);
  return { status: r.status, text, json };
}

function armError(r, status, code, what = '') {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
  assert.equal(r.json?.error?.code, code, `${what}: ${r.text}`);
  assert.ok(r.json.error.message.length > 0);
}

// Every password value an answer carried, for the last test: none may
// reach the daemon's log.
const secrets = new Set();
const keepPasswords = (json) => {
  for (const p of json?.passwords || []) if (p.value) secrets.add(p.value);
};
const cli = cofferRunner(() => env);
const coffer = (args) => { const r = cli.coffer(args); keepPasswords(r.json); return r; };
const ok = (args) => { const r = cli.ok(args); keepPasswords(r.json); return r; };

const PW = /^[A-Za-z0-9_-]{43}$/;

// The metadata as it is at rest (SQLite's file and write-ahead log, or a
// pg_dump of the PostgreSQL database).
const dbBytes = () => metaBytes(d.dataDir);

// The registry's credential epoch, read from the metadata (the data
// plane carries it in its tokens; the management API does not show it).
const HAS_SQLITE3 = PG || spawnSync('sqlite3', ['-version']).status === 0;
function epoch(name) {
  return Number(metaSql(d.dataDir, `SELECT cred_epoch FROM registries WHERE name = '${name}'`)[0][0]);
}

test('registry JSON carries adminUserEnabled and anonymousPullEnabled, off by default', async () => {
  const r = await mgmt('PUT', '/registries/authdefault', {});
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.properties.adminUserEnabled, false);
  assert.equal(r.json.properties.anonymousPullEnabled, false);
  armError(await mgmt('POST', '/registries/authdefault/listCredentials'), 409, 'AdminUserDisabled');
  armError(await mgmt('POST', '/registries/authdefault/regenerateCredential', { name: 'password' }),
    409, 'AdminUserDisabled');
  // wrong types are refused, nothing changes
  armError(await mgmt('PATCH', '/registries/authdefault', { properties: { adminUserEnabled: 'yes' } }),
    400, 'InvalidRequest');
  const g = await mgmt('GET', '/registries/authdefault');
  assert.equal(g.json.properties.adminUserEnabled, false);
  armError(await mgmt('POST', '/registries/nosuchreg/listCredentials'), 404, 'ResourceNotFound');
});

test('admin user: created at PUT, passwords stable until renewed, regenerate changes only the one named', async () => {
  const r = await mgmt('PUT', '/registries/authadmin', { properties: { adminUserEnabled: true } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.properties.adminUserEnabled, true);
  assert.ok(!r.text.includes('password'), 'the registry JSON never carries the passwords');

  const c1 = await mgmt('POST', '/registries/authadmin/listCredentials');
  assert.equal(c1.status, 200, c1.text);
  assert.equal(c1.json.username, 'authadmin');
  assert.deepEqual(c1.json.passwords.map((p) => p.name), ['password', 'password2']);
  for (const p of c1.json.passwords) assert.match(p.value, PW);
  assert.notEqual(c1.json.passwords[0].value, c1.json.passwords[1].value);
  const c2 = await mgmt('POST', '/registries/authadmin/listCredentials');
  assert.deepEqual(c2.json, c1.json, 'listCredentials is stable');

  const rg = await mgmt('POST', '/registries/authadmin/regenerateCredential', { name: 'password2' });
  assert.equal(rg.status, 200, rg.text);
  assert.equal(rg.json.passwords[0].value, c1.json.passwords[0].value, 'password unchanged');
  assert.notEqual(rg.json.passwords[1].value, c1.json.passwords[1].value, 'password2 renewed');
  assert.match(rg.json.passwords[1].value, PW);
  const c3 = await mgmt('POST', '/registries/authadmin/listCredentials');
  assert.deepEqual(c3.json, rg.json);
  armError(await mgmt('POST', '/registries/authadmin/regenerateCredential', { name: 'password3' }),
    400, 'InvalidRequest');
  armError(await mgmt('POST', '/registries/authadmin/regenerateCredential', {}), 400, 'InvalidRequest');

  // disabling keeps the passwords but refuses to show them; re-enabling
  // brings the same ones back (they are created once)
  const off = await mgmt('PATCH', '/registries/authadmin', { properties: { adminUserEnabled: false } });
  assert.equal(off.status, 200, off.text);
  assert.equal(off.json.properties.adminUserEnabled, false);
  armError(await mgmt('POST', '/registries/authadmin/listCredentials'), 409, 'AdminUserDisabled');
  const on = await mgmt('PATCH', '/registries/authadmin', { properties: { adminUserEnabled: true } });
  assert.equal(on.json.properties.adminUserEnabled, true);
  const c4 = await mgmt('POST', '/registries/authadmin/listCredentials');
  assert.deepEqual(c4.json, rg.json);
  // the passwords are at rest wrapped, not in clear
  const db = dbBytes();
  for (const p of c4.json.passwords) assert.ok(!db.includes(p.value), 'a password is in the database in clear');
});

test('anonymous pull: Standard and Premium only (400 AnonymousPullNotSupported on Basic)', async () => {
  armError(await mgmt('PUT', '/registries/authbasic', { sku: { name: 'Basic' }, properties: { anonymousPullEnabled: true } }),
    400, 'AnonymousPullNotSupported', 'create Basic with anonymous pull');
  assert.equal((await mgmt('GET', '/registries/authbasic')).status, 404, 'nothing created');
  assert.equal((await mgmt('PUT', '/registries/authbasic', { sku: { name: 'Basic' } })).status, 201);
  armError(await mgmt('PATCH', '/registries/authbasic', { properties: { anonymousPullEnabled: true } }),
    400, 'AnonymousPullNotSupported');
  // the upgrade and the property in one request are fine
  const up = await mgmt('PATCH', '/registries/authbasic', { sku: { name: 'Standard' }, properties: { anonymousPullEnabled: true } });
  assert.equal(up.status, 200, up.text);
  assert.equal(up.json.sku.name, 'Standard');
  assert.equal(up.json.properties.anonymousPullEnabled, true);
  // going back to Basic while anonymous pull is on is refused, nothing changes
  armError(await mgmt('PATCH', '/registries/authbasic', { sku: { name: 'Basic' } }), 400, 'AnonymousPullNotSupported');
  assert.equal((await mgmt('GET', '/registries/authbasic')).json.sku.name, 'Standard');
  const p = await mgmt('PUT', '/registries/authpremium', { properties: { anonymousPullEnabled: true } });
  assert.equal(p.status, 201, p.text);
  assert.equal(p.json.properties.anonymousPullEnabled, true);
  const off = await mgmt('PATCH', '/registries/authpremium', { properties: { anonymousPullEnabled: false } });
  assert.equal(off.json.properties.anonymousPullEnabled, false);
});

test('tokens: CRUD, the JSON never shows a password value except generateCredentials', async () => {
  assert.equal((await mgmt('PUT', '/registries/authtokens', {})).status, 201);
  const scope = [{ repository: 'app', actions: ['content/read', 'metadata/read'] },
                 { repository: 'team/*', actions: ['content/write', 'content/read'] }];
  const c = await mgmt('PUT', '/registries/authtokens/tokens/ci-pull', { properties: { scope } });
  assert.equal(c.status, 201, c.text);
  assert.equal(c.json.id, `${armId('registry', 'authtokens')}/tokens/ci-pull`);
  assert.equal(c.json.name, 'ci-pull');
  assert.equal(c.json.type, 'Microsoft.ContainerRegistry/registries/tokens');
  assert.equal(c.json.properties.status, 'enabled');
  assert.deepEqual(c.json.properties.scope, scope);
  assert.match(c.json.properties.creationDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.deepEqual(c.json.properties.credentials.passwords, []);

  const g1 = await mgmt('POST', '/registries/authtokens/tokens/ci-pull/generateCredentials', { name: 'password1' });
  assert.equal(g1.status, 200, g1.text);
  assert.equal(g1.json.username, 'ci-pull');
  assert.equal(g1.json.passwords.length, 1);
  assert.equal(g1.json.passwords[0].name, 'password1');
  assert.match(g1.json.passwords[0].value, PW);
  const both = await mgmt('POST', '/registries/authtokens/tokens/ci-pull/generateCredentials', {});
  assert.deepEqual(both.json.passwords.map((p) => p.name), ['password1', 'password2']);
  assert.notEqual(both.json.passwords[0].value, g1.json.passwords[0].value, 'generate replaces');
  armError(await mgmt('POST', '/registries/authtokens/tokens/ci-pull/generateCredentials', { name: 'password' }),
    400, 'InvalidRequest');

  const values = [g1, both].flatMap((r) => r.json.passwords.map((p) => p.value));
  const s = await mgmt('GET', '/registries/authtokens/tokens/ci-pull');
  assert.equal(s.status, 200);
  assert.deepEqual(s.json.properties.credentials.passwords.map((p) => p.name), ['password1', 'password2']);
  for (const p of s.json.properties.credentials.passwords) {
    assert.deepEqual(Object.keys(p).sort(), ['creationTime', 'name']);
  }
  // replace: status and scope change, the passwords stay
  const u = await mgmt('PUT', '/registries/authtokens/tokens/ci-pull',
    { properties: { status: 'disabled', scope: [{ repository: 'app', actions: ['content/read'] }] } });
  assert.equal(u.status, 200, u.text);
  assert.equal(u.json.properties.status, 'disabled');
  assert.deepEqual(u.json.properties.scope, [{ repository: 'app', actions: ['content/read'] }]);
  assert.equal(u.json.properties.credentials.passwords.length, 2);
  assert.equal(u.json.properties.creationDate, c.json.properties.creationDate);
  // status alone keeps the scope
  const u2 = await mgmt('PUT', '/registries/authtokens/tokens/ci-pull', { properties: { status: 'enabled' } });
  assert.equal(u2.json.properties.status, 'enabled');
  assert.deepEqual(u2.json.properties.scope, u.json.properties.scope);

  assert.equal((await mgmt('PUT', '/registries/authtokens/tokens/ci-push',
    { properties: { scope: [{ repository: 'app', actions: ['content/write'] }] } })).status, 201);
  const l = await mgmt('GET', '/registries/authtokens/tokens');
  assert.equal(l.status, 200);
  assert.deepEqual(l.json.value.map((t) => t.name), ['ci-pull', 'ci-push']);
  for (const text of [s.text, u.text, u2.text, l.text, (await mgmt('GET', '/registries/authtokens')).text]) {
    for (const v of values) assert.ok(!text.includes(v), 'a password value leaked into a token JSON');
    assert.ok(!text.includes('"value":"'), text);
  }
  const db = dbBytes();
  for (const v of values) assert.ok(!db.includes(v), 'a token password is stored in clear');

  assert.equal((await mgmt('DELETE', '/registries/authtokens/tokens/ci-push')).status, 200);
  armError(await mgmt('GET', '/registries/authtokens/tokens/ci-push'), 404, 'ResourceNotFound');
  armError(await mgmt('DELETE', '/registries/authtokens/tokens/ci-push'), 404, 'ResourceNotFound');
  armError(await mgmt('POST', '/registries/authtokens/tokens/ci-push/generateCredentials', {}), 404, 'ResourceNotFound');
  armError(await mgmt('GET', '/registries/nosuchreg/tokens'), 404, 'ResourceNotFound');
  // tokens are per registry, and go with their registry
  assert.equal((await mgmt('PUT', '/registries/authother', {})).status, 201);
  armError(await mgmt('GET', '/registries/authother/tokens/ci-pull'), 404, 'ResourceNotFound');
  assert.equal((await mgmt('DELETE', '/registries/authtokens')).status, 200);
  assert.equal((await mgmt('PUT', '/registries/authtokens', {})).status, 201);
  assert.deepEqual((await mgmt('GET', '/registries/authtokens/tokens')).json.value, []);
});

test('token names and scopes are validated; nothing is stored on a refusal', async () => {
  assert.equal((await mgmt('PUT', '/registries/authscope', {})).status, 201);
  const put = (name, properties) => mgmt('PUT', `/registries/authscope/tokens/${name}`, { properties });
  const good = [{ repository: 'app', actions: ['content/read'] }];
  armError(await put('tok', { scope: good }), 400, 'InvalidName', 'short name');
  armError(await put('tok_en', { scope: good }), 400, 'InvalidName', 'underscore');
  armError(await put('token1', {}), 400, 'InvalidScope', 'no scope');
  armError(await put('token1', { scope: [] }), 400, 'InvalidScope', 'empty scope');
  armError(await put('token1', { scope: 'app' }), 400, 'InvalidScope', 'not an array');
  for (const repository of ['App', '*', 'team*', 'team/a*', '-app', 'a//b', '/app', 'app:tag', '']) {
    armError(await put('token1', { scope: [{ repository, actions: ['content/read'] }] }), 400, 'InvalidScope', repository);
  }
  for (const actions of [[], ['pull'], ['content/read', 'metadata/write'], [1], 'content/read']) {
    armError(await put('token1', { scope: [{ repository: 'app', actions }] }), 400, 'InvalidScope', JSON.stringify(actions));
  }
  armError(await put('token1', { status: 'paused', scope: good }), 400, 'InvalidRequest', 'status');
  assert.deepEqual((await mgmt('GET', '/registries/authscope/tokens')).json.value, []);
  // the grammar's separators and prefix wildcards are fine
  const ok1 = await put('token1', { scope: [
    { repository: 'my-app.v2/sub__dir/x_y', actions: ['content/delete'] },
    { repository: 'team/*', actions: ['metadata/read'] }] });
  assert.equal(ok1.status, 201, ok1.text);
  // an invalid update leaves the token as it was
  armError(await put('token1', { scope: [{ repository: 'UPPER', actions: ['content/read'] }] }), 400, 'InvalidScope');
  assert.deepEqual((await mgmt('GET', '/registries/authscope/tokens/token1')).json.properties.scope,
    ok1.json.properties.scope);
});

test('CLI: acr update flags, credential show|renew, token verbs', async () => {
  // the group "default" exists from the first start
  const cr = ok(['acr', 'create', '-g', 'default', '-n', 'authcli', '--admin-enabled', 'true']);
  assert.equal(cr.json.adminUserEnabled, true, 'az shows properties flattened');
  const pw = ok(['acr', 'credential', 'show', '-n', 'authcli', '--query', 'passwords[0].value', '-o', 'tsv']).out.trim();
  assert.match(pw, PW);
  const show = ok(['acr', 'credential', 'show', '-n', 'authcli']).json;
  assert.equal(show.username, 'authcli');
  assert.equal(show.passwords[0].value, pw);
  const renewed = ok(['acr', 'credential', 'renew', '-n', 'authcli', '--password-name', 'password']).json;
  assert.notEqual(renewed.passwords[0].value, pw);
  assert.equal(renewed.passwords[1].value, show.passwords[1].value);

  const off = ok(['acr', 'update', '-n', 'authcli', '--admin-enabled', 'false']);
  assert.equal(off.json.adminUserEnabled, false);
  const r409 = coffer(['acr', 'credential', 'show', '-n', 'authcli']);
  assert.equal(r409.code, 1);
  assert.match(r409.err, /^ERROR: \(AdminUserDisabled\) /);
  const basic = coffer(['acr', 'update', '-n', 'authcli', '--sku', 'Basic', '--anonymous-pull-enabled', 'true']);
  assert.equal(basic.code, 1);
  assert.match(basic.err, /^ERROR: \(AnonymousPullNotSupported\) /);
  const anon = ok(['acr', 'update', '-n', 'authcli', '--anonymous-pull-enabled', 'true', '--query', 'anonymousPullEnabled', '-o', 'tsv']);
  assert.equal(anon.out.trim(), 'true');

  // az acr token create prints both passwords once
  const t = ok(['acr', 'token', 'create', '-n', 'ci-push', '-r', 'authcli',
    '--repository', 'app', 'content/read', 'content/write', '--repository', 'team/*', 'metadata/read']).json;
  assert.deepEqual(t.properties.scope, [
    { repository: 'app', actions: ['content/read', 'content/write'] },
    { repository: 'team/*', actions: ['metadata/read'] }]);
  assert.equal(t.properties.credentials.username, 'ci-push');
  assert.deepEqual(t.properties.credentials.passwords.map((p) => p.name), ['password1', 'password2']);
  for (const p of t.properties.credentials.passwords) assert.match(p.value, PW);
  const ts = ok(['acr', 'token', 'show', '-n', 'ci-push', '-r', 'authcli']);
  assert.ok(!ts.out.includes('"value"'));
  assert.equal(ts.json.properties.credentials.passwords.length, 2);
  const np = ok(['acr', 'token', 'create', '-n', 'ci-read', '-r', 'authcli', '--repository', 'app', 'content/read', '--no-passwords']).json;
  assert.deepEqual(np.properties.credentials.passwords, []);
  assert.equal(ok(['acr', 'token', 'list', '-r', 'authcli', '--query', '[].name', '-o', 'tsv']).out.trim().split(/\s+/).join(','),
    'ci-push,ci-read');
  const g = ok(['acr', 'token', 'credential', 'generate', '-n', 'ci-read', '-r', 'authcli', '--password2']).json;
  assert.equal(g.username, 'ci-read');
  assert.deepEqual(g.passwords.map((p) => p.name), ['password2']);
  assert.match(g.passwords[0].value, PW);
  const bad = coffer(['acr', 'token', 'create', '-n', 'ci-bad', '-r', 'authcli', '--repository', 'App', 'content/read']);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /^ERROR: \(InvalidScope\) /);
  const del = ok(['acr', 'token', 'delete', '-n', 'ci-read', '-r', 'authcli']);
  assert.equal(del.out, '');
  const gone = coffer(['acr', 'token', 'show', '-n', 'ci-read', '-r', 'authcli']);
  assert.equal(gone.code, 1);
  assert.match(gone.err, /ResourceNotFound/);
});

test('revocations bump the credential epoch; grants and reads do not', { skip: !HAS_SQLITE3 && 'no sqlite3 shell' }, async () => {
  const R = '/registries/authepoch';
  assert.equal((await mgmt('PUT', R, { properties: { adminUserEnabled: true } })).status, 201);
  let e = epoch('authepoch');
  const step = async (what, p, bump) => {
    const r = await p;
    assert.ok(r.status < 300, `${what}: ${r.status} ${r.text}`);
    const now = epoch('authepoch');
    assert.equal(now, e + bump, `${what}: epoch ${e} -> ${now}`);
    e = now;
  };
  await step('listCredentials', mgmt('POST', `${R}/listCredentials`), 0);
  await step('regenerate', mgmt('POST', `${R}/regenerateCredential`, { name: 'password' }), 1);
  await step('anonymous pull on', mgmt('PATCH', R, { properties: { anonymousPullEnabled: true } }), 0);
  await step('admin off', mgmt('PATCH', R, { properties: { adminUserEnabled: false } }), 1);
  await step('admin off again', mgmt('PATCH', R, { properties: { adminUserEnabled: false } }), 0);
  await step('admin on', mgmt('PATCH', R, { properties: { adminUserEnabled: true } }), 0);
  const scope = [{ repository: 'app', actions: ['content/read'] }];
  await step('token create', mgmt('PUT', `${R}/tokens/tok-e1`, { properties: { scope } }), 0);
  await step('first passwords', mgmt('POST', `${R}/tokens/tok-e1/generateCredentials`, {}), 0);
  await step('password replaced', mgmt('POST', `${R}/tokens/tok-e1/generateCredentials`, { name: 'password2' }), 1);
  await step('token same again', mgmt('PUT', `${R}/tokens/tok-e1`, { properties: { scope } }), 0);
  await step('token disabled', mgmt('PUT', `${R}/tokens/tok-e1`, { properties: { status: 'disabled' } }), 1);
  await step('token enabled', mgmt('PUT', `${R}/tokens/tok-e1`, { properties: { status: 'enabled' } }), 0);
  await step('scope changed', mgmt('PUT', `${R}/tokens/tok-e1`,
    { properties: { scope: [{ repository: 'app', actions: ['metadata/read'] }] } }), 1);
  await step('token deleted', mgmt('DELETE', `${R}/tokens/tok-e1`), 1);
});

test('no password and no admin token reaches the log', async () => {
  secrets.add(d.adminToken);
  assert.ok(secrets.size >= 5, `the tests above saw passwords (${secrets.size})`);
  await new Promise((r) => setTimeout(r, 300)); /* the log stream catches up */
  const log = d.log();
  assert.ok(log.length > 0, 'the daemon logged');
  for (const x of secrets) assert.ok(!log.includes(x), `a secret (${x.slice(0, 6)}…) is in the log`);
});

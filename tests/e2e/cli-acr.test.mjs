// cli-acr.test.mjs -- the coffer CLI against cofferd's management API
// (docs/cli.md "identity (cofferd)" and "acr (cofferd)"):
// identities; registries without and with a customer-managed key, created
// the way az acr create does (--identity resolved to its id and clientId);
// encryption show/check/rotate-key (user-assigned, [system], versioned
// key); acr identity show/assign/remove computing the identity set; the
// server's refusals surfacing as `ERROR: (<Code>) ...` with exit 1.
//
// Every command runs in the resource group `cligroup`, set as the default
// group (COFFER_DEFAULTS_GROUP, as `az configure --defaults group=`), so the
// verbs that need -g take it from there.
//
// cofferd runs with a management listener; keyvaultd trusts cofferd's
// identity issuer (http://127.0.0.1:<mgmt port>, JWKS fetched on first
// use), so the port is chosen before either starts (as scripts/run-demo
// does) and checked against cofferd's `"api":"management"` log line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freshDir, freePort, startDaemon } from './lib/daemons.mjs';
import { cofferRunner } from './lib/cli.mjs';
import { startKeyvaultd } from './lib/vault.mjs';
import { armId } from './lib/arm.mjs';
import { buildImage, put, skopeo, makePodman } from './lib/images.mjs';

const G = 'cligroup';
const rid = (kind, name) => armId(kind, name, G);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
let kv, cofferd, dataDir, home, env, mgmtPort;
const { coffer, ok, fails } = cofferRunner(() => env);

const tsv = (args) => ok([...args, '-o', 'tsv']).out.replace(/\n$/, '');

before(async () => {
  mgmtPort = await freePort();
  const issuer = `http://127.0.0.1:${mgmtPort}`;
  kv = await startKeyvaultd({ issuers: [{ issuer, jwks_url: `${issuer}/jwks` }] });
  dataDir = freshDir('coffer-cli-acr-');
  cofferd = await startDaemon('cofferd', ['--data', dataDir, '--listen', '127.0.0.1:0',
    '--mgmt-listen', `127.0.0.1:${mgmtPort}`, '--vault-ca', join(kv.dataDir, 'tls', 'cert.pem'),
    '--key-check-interval', '3600'], { listeners: 2 });
  const log = await cofferd.waitLog(/"msg":"listening".*"api":"management"/);
  const line = log.split('\n').find((l) => /"msg":"listening"/.test(l) && /"api":"management"/.test(l));
  assert.equal(Number(JSON.parse(line).port), mgmtPort);
  home = freshDir('coffer-cli-home-');
  env = {
    PATH: process.env.PATH,
    HOME: home,
    COFFER_URL: `http://127.0.0.1:${mgmtPort}`,
    COFFER_TOKEN: readFileSync(join(dataDir, 'admin.token'), 'utf8').trim(),
    COFFER_VAULT_URL: kv.url,
    COFFER_VAULT_TOKEN: kv.adminToken,
    COFFER_VAULT_CA: join(kv.dataDir, 'tls', 'cert.pem'),
  };
  ok(['group', 'create', '-n', G, '-l', 'local']);
  env.COFFER_DEFAULTS_GROUP = G;
});

after(async () => {
  await cofferd?.stop();
  await kv?.stop();
  if (!process.env.KEEP_E2E_DIRS) {
    for (const d of [dataDir, home]) if (d) rmSync(d, { recursive: true, force: true });
  }
});

test('identity create, show, list, delete', () => {
  const c = ok(['identity', 'create', '-n', 'cli-mi1']);
  assert.equal(c.json.id, rid('identity', 'cli-mi1'));
  assert.equal(c.json.name, 'cli-mi1');
  assert.equal(c.json.type, 'Microsoft.ManagedIdentity/userAssignedIdentities');
  assert.match(c.json.clientId, UUID);
  assert.match(c.json.principalId, UUID);
  // create again: unchanged
  assert.equal(tsv(['identity', 'create', '-n', 'cli-mi1', '--query', 'clientId']), c.json.clientId);
  assert.equal(tsv(['identity', 'show', '-n', 'cli-mi1', '--query', 'principalId']), c.json.principalId);
  ok(['identity', 'create', '-n', 'cli-mi0']);
  const names = tsv(['identity', 'list', '--query', '[].name']).split('\n');
  assert.deepEqual(names.filter((n) => /^cli-mi[01]$/.test(n)), ['cli-mi0', 'cli-mi1']);
  assert.deepEqual(names, [...names].sort(), 'sorted by name');
  ok(['identity', 'delete', '-n', 'cli-mi0']);
  const nf = fails(['identity', 'show', '-n', 'cli-mi0'], 'ResourceNotFound');
  assert.match(nf.err, /cli-mi0/);
  fails(['identity', 'create', '--name=-bad'], 'InvalidName');
});

// loginServer is HOST:PORT/NAME unless cofferd has a --login-domain
// (docs/cli.md says why) and is used where ACR's login server is: `podman
// login $loginServer`, then `$loginServer/app:v1` in image references. The
// credentials podman stores stay scoped to that registry.
test('loginServer: podman login to it, then push and read $loginServer/app:v1', async (t) => {
  const podman = makePodman();
  try {
    await podman.run(['--version']);
  } catch (e) {
    t.skip(`podman cannot run here: ${String(e.message).split('\n')[0]}`);
    return;
  }
  ok(['acr', 'create', '-n', 'cliloginsrv', '--sku', 'Standard', '--admin-enabled', 'true']);
  const ls = tsv(['acr', 'show', '-n', 'cliloginsrv', '--query', 'loginServer']);
  assert.equal(ls, `127.0.0.1:${cofferd.port}/cliloginsrv`);
  const pw = tsv(['acr', 'credential', 'show', '-n', 'cliloginsrv', '--query', 'passwords[0].value']);
  const authfile = join(podman.dir, 'auth.json');
  await podman.run(['login', '--authfile', authfile, '--tls-verify=false', '-u', 'cliloginsrv', '-p', pw, ls]);
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(authfile, 'utf8')).auths), [ls]);
  const layout = await buildImage({ tag: 'v1', layers: [(x) => { put(x, 'etc/motd', 'loginServer\n'); }] });
  await skopeo(['copy', '--authfile', authfile, '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${ls}/app:v1`]);
  const { stdout } = await skopeo(['inspect', '--authfile', authfile, '--tls-verify=false', '--raw', `docker://${ls}/app:v1`]);
  assert.equal(JSON.parse(stdout).schemaVersion, 2);
  // another registry behind the same HOST:PORT does not get these credentials
  ok(['acr', 'create', '-n', 'cliloginother', '--sku', 'Standard']);
  await assert.rejects(skopeo(['copy', '--authfile', authfile, '--dest-tls-verify=false', `oci:${layout}:v1`,
    `docker://127.0.0.1:${cofferd.port}/cliloginother/app:v1`]), /unauthorized|authentication required/);
  if (!process.env.KEEP_E2E_DIRS) rmSync(podman.dir, { recursive: true, force: true });
});

test('registry without a customer-managed key: create, show, update, list, delete', () => {
  const c = ok(['acr', 'create', '-n', 'cliplain', '--sku', 'basic']);
  assert.equal(c.json.id, rid('registry', 'cliplain'));
  assert.equal(c.json.sku.name, 'Basic');
  assert.equal(c.json.encryption.status, 'disabled', 'az shows properties flattened');
  fails(['acr', 'create', '-n', 'cliplain'], 'AlreadyExists');
  assert.equal(tsv(['acr', 'update', '-n', 'cliplain', '--sku', 'Standard', '--query', 'sku.name']), 'Standard');
  assert.equal(tsv(['acr', 'show', '-n', 'cliplain', '--query', 'sku.name']), 'Standard');
  const enc = ok(['acr', 'encryption', 'show', '-n', 'cliplain']);
  assert.deepEqual(enc.json, { status: 'disabled', keyVaultProperties: null });
  assert.ok(tsv(['acr', 'list', '--query', '[].name']).split('\n').includes('cliplain'));
  const rk = fails(['acr', 'encryption', 'rotate-key', '-n', 'cliplain', '--identity', '[system]'], 'CmkNotEnabled');
  assert.match(rk.err, /only applicable to registries with CMK enabled/);
  fails(['acr', 'encryption', 'check', '-n', 'cliplain'], 'CmkNotEnabled');
  const bad = fails(['acr', 'create', '-n', 'x!'], 'InvalidName');
  // the refusal states ACR's rule and shows a name that keeps it
  assert.match(bad.err, /'x!' is invalid: a registry name is 5-50 letters and digits only .*for example 'myregistry1'/);
  ok(['acr', 'delete', '-n', 'cliplain']);
  fails(['acr', 'show', '-n', 'cliplain'], 'ResourceNotFound');
});

// -o table (az's most typed format): aligned columns for lists, a
// Property/Value table for one object; every verb takes it.
test('-o table: aligned columns for lists, a Property/Value table for one object', () => {
  ok(['identity', 'create', '-n', 'cli-tab-identity']);
  ok(['acr', 'create', '-n', 'clitable1', '--sku', 'Standard']);
  ok(['acr', 'create', '-n', 'clitabletwo2', '--sku', 'Basic', '--admin-enabled', 'true']);
  // a table: a header, dashes as wide as each column, every row aligned
  // with it (two spaces between columns), no trailing blanks
  const table = (out) => {
    const lines = out.replace(/\n$/, '').split('\n');
    assert.ok(lines.length >= 3, out);
    const dashes = lines[1];
    assert.match(dashes, /^-+(  -+)*$/, out);
    const starts = [0];
    for (const m of dashes.matchAll(/ {2}-/g)) starts.push(m.index + 2);
    const cells = (l) => starts.map((st, i) => l.slice(st, i + 1 < starts.length ? starts[i + 1] - 2 : undefined).trim());
    for (const l of lines) {
      assert.equal(l, l.trimEnd(), `trailing blanks: ${JSON.stringify(l)}`);
      for (let i = 1; i < starts.length; i++) assert.equal(l[starts[i] - 1] ?? ' ', ' ', `columns aligned:\n${out}`);
    }
    const header = cells(lines[0]);
    return lines.slice(2).map((l) => Object.fromEntries(cells(l).map((c, i) => [header[i], c])));
  };
  const regs = table(ok(['acr', 'list', '-o', 'table']).out);
  const one = regs.find((r) => r.Name === 'clitable1');
  const two = regs.find((r) => r.Name === 'clitabletwo2');
  assert.equal(one.Sku, 'Standard');
  assert.equal(two.Sku, 'Basic');
  assert.equal(two.AdminUserEnabled, 'true');
  assert.equal(one.LoginServer, tsv(['acr', 'show', '-n', 'clitable1', '--query', 'loginServer']));
  assert.equal(one.ResourceGroup, G);
  assert.equal(one.Encryption, 'disabled');
  // one object: its leaves by --query path
  const show = table(ok(['acr', 'show', '-n', 'clitable1', '-o', 'table']).out);
  const prop = Object.fromEntries(show.map((r) => [r.Property, r.Value]));
  assert.equal(prop.name, 'clitable1');
  assert.equal(prop['sku.name'], 'Standard');
  assert.equal(prop.loginServer, one.LoginServer, 'a registry is shown flattened, as az shows it');
  assert.equal(prop['encryption.status'], 'disabled');
  assert.equal(prop['policies.trustPolicy.status'], 'disabled');
  // az's automatic columns for a list without its own
  const ids = table(ok(['identity', 'list', '-o', 'table']).out);
  const mi = ids.find((r) => r.Name === 'cli-tab-identity');
  assert.equal(mi.ClientId, tsv(['identity', 'show', '-n', 'cli-tab-identity', '--query', 'clientId']));
  assert.ok(!('Id' in mi) && !('Type' in mi), 'id and type are left out, as az does');
  // --query reshapes: a list of scalars is one Result column
  const names = table(ok(['acr', 'list', '--query', '[].name', '-o', 'table']).out);
  assert.ok(names.some((r) => r.Result === 'clitable1'), JSON.stringify(names));
  // the admin user's credentials: passwords[0].value is the --query path that gives it
  const cred = table(ok(['acr', 'credential', 'show', '-n', 'clitabletwo2', '-o', 'table']).out);
  const cp = Object.fromEntries(cred.map((r) => [r.Property, r.Value]));
  assert.equal(cp['passwords[0].value'], tsv(['acr', 'credential', 'show', '-n', 'clitabletwo2', '--query', 'passwords[0].value']));
  // a verb that prints nothing prints nothing as a table too
  assert.equal(ok(['acr', 'delete', '-n', 'clitabletwo2', '-o', 'table']).out, '');
  ok(['acr', 'delete', '-n', 'clitable1']);
  ok(['identity', 'delete', '-n', 'cli-tab-identity']);
  const bad = coffer(['acr', 'list', '-o', 'yaml']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /invalid choice: 'yaml' \(choose from 'json', 'table', 'tsv'\)/);
});

test('acr identity assign/remove compute the identity set (no CMK)', () => {
  ok(['acr', 'create', '-n', 'cliidents', '--sku', 'Basic']);
  const m1 = ok(['identity', 'create', '-n', 'cli-ui1']).json;
  ok(['identity', 'create', '-n', 'cli-ui2']);
  assert.equal(tsv(['acr', 'identity', 'show', '-n', 'cliidents', '--query', 'type']), 'None');
  let id = ok(['acr', 'identity', 'assign', '-n', 'cliidents', '--identities', 'cli-ui1', m1.clientId]).json;
  assert.equal(id.type, 'UserAssigned');
  assert.deepEqual(Object.keys(id.userAssignedIdentities), [m1.id]);
  assert.equal(id.userAssignedIdentities[m1.id].clientId, m1.clientId);
  id = ok(['acr', 'identity', 'assign', '-n', 'cliidents', '--identities', '[system]', rid('identity', 'cli-ui2')]).json;
  assert.equal(id.type, 'SystemAssigned, UserAssigned');
  assert.match(id.principalId, UUID);
  assert.deepEqual(Object.keys(id.userAssignedIdentities).sort(), [rid('identity', 'cli-ui1'), rid('identity', 'cli-ui2')]);
  const sysPrincipal = id.principalId;
  // an identity assigned to a registry cannot be deleted
  fails(['identity', 'delete', '-n', 'cli-ui1'], 'IdentityInUse');
  id = ok(['acr', 'identity', 'remove', '-n', 'cliidents', '--identities', m1.clientId, 'cli-ui2']).json;
  assert.equal(id.type, 'SystemAssigned');
  assert.equal(id.principalId, sysPrincipal);
  fails(['acr', 'identity', 'remove', '-n', 'cliidents', '--identities', 'cli-ui1'], 'IdentityNotAssigned');
  fails(['acr', 'identity', 'assign', '-n', 'cliidents', '--identities', 'nobody'], 'ResourceNotFound');
  id = ok(['acr', 'identity', 'remove', '-n', 'cliidents', '--identities', '[system]']).json;
  assert.equal(id.type, 'None');
  fails(['acr', 'identity', 'remove', '-n', 'cliidents', '--identities', '[system]'], 'IdentityNotAssigned');
  ok(['identity', 'delete', '-n', 'cli-ui1']);
  ok(['acr', 'delete', '-n', 'cliidents']);
});

// The tutorial's steps, each with the CLI.
function cmkSetup(mi, vault, key, keyArgs = []) {
  const principal = tsv(['identity', 'create', '-n', mi, '--query', 'principalId']);
  ok(['keyvault', 'create', '-n', vault, '--enable-purge-protection']);
  ok(['keyvault', 'set-policy', '-n', vault, '--object-id', principal, '--key-permissions', 'get', 'wrapKey', 'unwrapKey']);
  const kid = tsv(['keyvault', 'key', 'create', '--vault-name', vault, '-n', key, ...keyArgs, '--query', 'key.kid']);
  return { principal, kid, keyUri: kid.replace(/\/[0-9a-f]{32}$/, '') };
}

test('acr create refusals surface as ERROR: (Code) with exit 1', () => {
  const { keyUri } = cmkSetup('cli-mi-ref', 'clivaultref', 'cmk');
  fails(['acr', 'create', '-n', 'clirefused', '--sku', 'Standard', '--identity', 'cli-mi-ref', '--key-encryption-key', keyUri], 'CmkRequiresPremium');
  const unk = fails(['acr', 'create', '-n', 'clirefused', '--identity', 'no-such-mi', '--key-encryption-key', keyUri], 'ResourceNotFound');
  assert.match(unk.err, /no-such-mi/);
  const ec = tsv(['keyvault', 'key', 'create', '--vault-name', 'clivaultref', '-n', 'eckey', '--kty', 'EC', '--query', 'key.kid']);
  fails(['acr', 'create', '-n', 'clirefused', '--identity', 'cli-mi-ref', '--key-encryption-key', ec.replace(/\/[0-9a-f]{32}$/, '')], 'KeyTypeNotSupported');
  // an identity without access
  ok(['identity', 'create', '-n', 'cli-mi-noaccess']);
  const cid = tsv(['identity', 'show', '-n', 'cli-mi-noaccess', '--query', 'clientId']);
  const denied = fails(['acr', 'create', '-n', 'clirefused', '--identity', cid, '--key-encryption-key', keyUri], 'KeyVaultAccessDenied');
  assert.match(denied.err, new RegExp(`Failed to access KeyId '.*cmk.*'\\. Verify that identity '${cid}' has 'Get, Wrap Key, Unwrap Key' permission`));
  fails(['acr', 'create', '-n', 'clirefused', '--identity', 'cli-mi-ref', '--key-encryption-key', 'https://example/notakey'], 'InvalidKeyIdentifier');
  fails(['acr', 'show', '-n', 'clirefused'], 'ResourceNotFound');
});

test('CMK registry: create with --identity NAME, show, check, identities, rotate-key', () => {
  const { keyUri, kid } = cmkSetup('cli-mi-cmk', 'clivaultcmk', 'cmk', ['--size', '3072']);
  const mi = ok(['identity', 'show', '-n', 'cli-mi-cmk']).json;
  const c = ok(['acr', 'create', '-n', 'clicmk', '--sku', 'Premium', '--identity', 'cli-mi-cmk', '--key-encryption-key', keyUri]);
  assert.equal(c.json.identity.type, 'UserAssigned');
  assert.equal(c.json.identity.userAssignedIdentities[mi.id].clientId, mi.clientId);
  const kvp = c.json.encryption.keyVaultProperties;
  assert.equal(c.json.encryption.status, 'enabled');
  assert.equal(kvp.identity, mi.clientId, 'az sends the clientId');
  assert.equal(kvp.keyIdentifier, keyUri);
  assert.equal(kvp.versionedKeyIdentifier, kid);
  assert.equal(kvp.keyRotationEnabled, true);

  // show prints properties.encryption; check runs a key check now
  const enc = ok(['acr', 'encryption', 'show', '-n', 'clicmk']).json;
  assert.equal(enc.status, 'enabled');
  assert.equal(enc.keyVaultProperties.keyStatus, 'available');
  const chk = ok(['acr', 'encryption', 'check', '-n', 'clicmk']).json;
  assert.equal(chk.keyVaultProperties.keyStatus, 'available');
  assert.ok(chk.keyVaultProperties.lastKeyCheckTimestamp);
  assert.equal(tsv(['acr', 'show', '-n', 'clicmk', '--query', `identity.userAssignedIdentities."${mi.id}".principalId`]), mi.principalId);

  // the identity the key uses can neither be deleted nor unassigned
  fails(['identity', 'delete', '-n', 'cli-mi-cmk'], 'IdentityInUse');
  const inuse = fails(['acr', 'identity', 'remove', '-n', 'clicmk', '--identities', 'cli-mi-cmk'], 'IdentityInUse');
  assert.match(inuse.err, /rotate-key/);

  // assign the system identity, give it access, move the key to it
  const sys = ok(['acr', 'identity', 'assign', '-n', 'clicmk', '--identities', '[system]']).json;
  assert.equal(sys.type, 'SystemAssigned, UserAssigned');
  assert.match(sys.principalId, UUID);
  assert.ok(sys.userAssignedIdentities[mi.id]);
  assert.deepEqual(ok(['acr', 'identity', 'show', '-n', 'clicmk']).json, sys);
  ok(['keyvault', 'set-policy', '-n', 'clivaultcmk', '--object-id', sys.principalId, '--key-permissions', 'get', 'wrapKey', 'unwrapKey']);
  const rot = ok(['acr', 'encryption', 'rotate-key', '-n', 'clicmk', '--identity', '[system]']).json;
  assert.equal(rot.encryption.keyVaultProperties.identity, 'system');
  // now the user-assigned identity can go
  const rem = ok(['acr', 'identity', 'remove', '-n', 'clicmk', '--identities', '/identities/cli-mi-cmk']).json;
  assert.equal(rem.type, 'SystemAssigned');
  assert.deepEqual(Object.keys(rem.userAssignedIdentities || {}), []);
  fails(['acr', 'identity', 'remove', '-n', 'clicmk', '--identities', 'cli-mi-cmk'], 'IdentityNotAssigned');
  ok(['identity', 'delete', '-n', 'cli-mi-cmk']);

  // a new key version given explicitly: manual rotation
  const v2 = tsv(['keyvault', 'key', 'rotate', '--vault-name', 'clivaultcmk', '-n', 'cmk', '--query', 'key.kid']);
  const man = ok(['acr', 'encryption', 'rotate-key', '-n', 'clicmk', '--key-encryption-key', v2,
    '--query', 'encryption.keyVaultProperties']).json;
  assert.equal(man.keyIdentifier, v2);
  assert.equal(man.versionedKeyIdentifier, v2);
  assert.equal(man.keyRotationEnabled, false);
  assert.ok(man.lastKeyRotationTimestamp);
  fails(['acr', 'update', '-n', 'clicmk', '--sku', 'Basic'], 'CmkRequiresPremium');
  ok(['acr', 'delete', '-n', 'clicmk']);
});

test('acr create with --identity as its resource id, the legacy /identities/NAME or client id; rotate-key to another identity', () => {
  const { keyUri } = cmkSetup('cli-mi-a', 'clivaulta', 'cmk');
  const a = ok(['identity', 'show', '-n', 'cli-mi-a']).json;
  let c = ok(['acr', 'create', '-n', 'clibyid', '--identity', a.id, '--key-encryption-key', keyUri]).json;
  assert.equal(c.encryption.keyVaultProperties.identity, a.clientId);
  ok(['acr', 'delete', '-n', 'clibyid']);
  c = ok(['acr', 'create', '-n', 'clibyid', '--identity', '/identities/cli-mi-a', '--key-encryption-key', keyUri]).json;
  assert.equal(c.encryption.keyVaultProperties.identity, a.clientId);
  c = ok(['acr', 'create', '-n', 'clibycid', '--identity', a.clientId.toUpperCase(), '--key-encryption-key', keyUri]).json;
  assert.equal(c.encryption.keyVaultProperties.identity, a.clientId);
  assert.ok(c.identity.userAssignedIdentities[a.id]);
  assert.equal(c.sku.name, 'Premium', 'default SKU');

  // a second identity with access, assigned, then used for the key
  const bPrincipal = tsv(['identity', 'create', '-n', 'cli-mi-b', '--query', 'principalId']);
  const b = ok(['identity', 'show', '-n', 'cli-mi-b']).json;
  ok(['keyvault', 'set-policy', '-n', 'clivaulta', '--object-id', bPrincipal, '--key-permissions', 'get', 'wrapKey', 'unwrapKey']);
  const as = ok(['acr', 'identity', 'assign', '-n', 'clibyid', '--identities', 'cli-mi-b']).json;
  assert.equal(as.type, 'UserAssigned');
  assert.deepEqual(Object.keys(as.userAssignedIdentities).sort(), [a.id, b.id].sort());
  const r = ok(['acr', 'encryption', 'rotate-key', '-n', 'clibyid', '--identity', 'cli-mi-b',
    '--query', 'encryption.keyVaultProperties.identity', '-o', 'tsv']);
  assert.equal(r.out, `${b.clientId}\n`);
  // an identity that is not assigned is refused by the server
  ok(['identity', 'create', '-n', 'cli-mi-c']);
  fails(['acr', 'encryption', 'rotate-key', '-n', 'clibyid', '--identity', 'cli-mi-c'], 'IdentityRequired');
  // a principal id (what an access policy names) where a client id belongs:
  // rotate-key sends a UUID as given (az) and the server says what it is;
  // create and identity assign resolve it and say the same
  const expected = (who, x) => new RegExp(`'${x.principalId}' is the principal \\(object\\) id of identity '${who}': `
    + `(keyVaultProperties.identity )?expected a client id or resource id \\(its client id is ${x.clientId}, its resource id ${rid('identity', who).replace(/\./g, '\\.')}\\)`);
  const rk = fails(['acr', 'encryption', 'rotate-key', '-n', 'clibyid', '--identity', a.principalId], 'IdentityRequired');
  assert.match(rk.err, expected('cli-mi-a', a));
  const cr = fails(['acr', 'create', '-n', 'clibypid', '--identity', b.principalId, '--key-encryption-key', keyUri], 'IdentityRequired');
  assert.match(cr.err, expected('cli-mi-b', b));
  const raw = fails(['acr', 'identity', 'assign', '-n', 'clibyid', '--identities', bPrincipal], 'IdentityRequired');
  assert.match(raw.err, expected('cli-mi-b', b));
  assert.equal(tsv(['acr', 'encryption', 'show', '-n', 'clibyid', '--query', 'keyVaultProperties.identity']), b.clientId, 'unchanged');
});

test('management API errors: wrong token, no server', () => {
  const bad = 'wrong-admin-token-0123456789abcdef';
  const un = fails(['acr', 'list'], 'Unauthorized', { COFFER_TOKEN: bad });
  assert.ok(!un.err.includes(bad));
  assert.ok(!un.err.includes(env.COFFER_TOKEN));
  fails(['identity', 'list'], 'ConnectionError', { COFFER_URL: 'http://127.0.0.1:1' });
  const u = coffer(['acr', 'create', '-n', 'x', '--identity', 'cli-mi-a']);
  assert.equal(u.code, 2);
  assert.match(u.err, /Usage error: --identity and --key-encryption-key must be both supplied/);
});

// mgmt-tenants.test.mjs -- tenant boundaries in cofferd's management API
// (issue 21, item 1; docs/security.md "Tenants and roles"): the operator's
// admin token creates two subscriptions and their first principals (Owner);
// each tenant logs in with the CLI as its service principal and works in its
// own subscription; the second tenant can neither read, nor use, nor assign
// the first tenant's identity, vault key or registry (403
// AuthorizationFailed naming the action on an ARM path, 404 on a legacy
// short path, as a missing resource); Reader cannot write, Contributor
// cannot assign roles; a role on the identity itself (Managed Identity
// Operator) is what lets a registry use it; every call leaves an audit line
// with who, what and the result, and no secret. Against the real daemons
// (lib/cmk.mjs: keyvaultd trusts cofferd's issuer) and the real CLI.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshDir } from './lib/daemons.mjs';
import { startCmkStack } from './lib/cmk.mjs';
import { cofferRunner, stackEnv } from './lib/cli.mjs';
import { TENANT } from './lib/vault.mjs';
import { TYPES } from './lib/arm.mjs';

const S1 = '11111111-aaaa-4aaa-8aaa-111111111111';
const S2 = '22222222-bbbb-4bbb-8bbb-222222222222';
const ASSIGN = 'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action';
const idOf = (sub, group, type, name) =>
  `/subscriptions/${sub}/resourceGroups/${group}/providers/${TYPES[type]}/${name}`;

describe('tenants in the management plane', { timeout: 300000 }, () => {
  let s;
  let opEnv; // the operator: admin token
  const envs = {}; // a tenant's CLI environment, by name
  const creds = {}; // {appId, password, id} by principal name
  const op = cofferRunner(() => opEnv);
  const as = (who) => cofferRunner(() => envs[who]);
  // a raw management call with a principal's bearer
  const call = (who, method, path, body) => s.mgmt(method, path, body,
    { authorization: `Bearer ${creds[who].appId}.${creds[who].password}` });
  const armError = (r, status, code, what) => {
    assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
    assert.equal(r.json?.error?.code, code, `${what}: ${r.text}`);
    return r.json.error.message;
  };
  const tenantEnv = (home) => {
    const e = { ...opEnv, HOME: home, COFFER_CONFIG: join(home, 'coffer.config') };
    delete e.COFFER_TOKEN; // a tenant logs in; it has no admin token
    delete e.COFFER_VAULT_TOKEN;
    writeFileSync(e.COFFER_CONFIG, '');
    return e;
  };
  const miA = idOf(S1, 'rg-a', 'identity', 'mi-a');
  let miAInfo, keyA;

  before(async () => {
    s = await startCmkStack();
    opEnv = stackEnv(s, freshDir('coffer-tenant-op-'));
  });
  after(async () => { await s?.stop(); });

  test('the operator creates two subscriptions and their Owners; each tenant logs in', () => {
    for (const [sub, name] of [[S1, 'contoso'], [S2, 'fabrikam']]) {
      const a = op.ok(['account', 'create', '--display-name', name, '--subscription-id', sub]).json;
      assert.equal(a.subscriptionId, sub);
    }
    for (const [who, sub] of [['a', S1], ['b', S2]]) {
      const sp = op.ok(['ad', 'sp', 'create-for-rbac', '--name', `owner-${who}`, '--role', 'Owner',
        '--scopes', `/subscriptions/${sub}`]).json;
      assert.deepEqual(Object.keys(sp).sort(), ['appId', 'displayName', 'password', 'tenant']);
      assert.match(sp.password, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(sp.tenant, TENANT);
      creds[who] = sp;
      envs[who] = tenantEnv(freshDir(`coffer-tenant-${who}-`));
      const login = as(who).ok(['login', '--service-principal', '-u', sp.appId, `--password=${sp.password}`,
        '--tenant', TENANT]).json;
      assert.deepEqual(login.map((x) => x.id), [sub], 'a tenant sees its own subscription only');
      assert.equal(login[0].user.type, 'servicePrincipal');
      const cfg = statSync(envs[who].COFFER_CONFIG);
      assert.equal(cfg.mode & 0o777, 0o600, 'the config holding the credentials is 0600');
      assert.equal(as(who).ok(['account', 'show', '--query', 'id', '-o', 'tsv']).out.trim(), sub);
    }
    for (const sp of op.ok(['ad', 'sp', 'list']).json) creds[sp.displayName.slice(6)].id ??= sp.id;
    // the operator's path still sees and does everything
    const subs = op.ok(['account', 'list']).json.map((x) => x.id);
    for (const sub of [S1, S2]) assert.ok(subs.includes(sub));
  });

  test('tenant A builds a CMK registry in its subscription with its own identity and key', async () => {
    const a = as('a');
    a.ok(['group', 'create', '-n', 'rg-a', '-l', 'eastus']);
    miAInfo = a.ok(['identity', 'create', '-n', 'mi-a', '-g', 'rg-a']).json;
    assert.equal(miAInfo.id, miA);
    // the vault is keyvaultd's (its own credentials); the operator makes it here
    await s.createVault('kva');
    await s.grant('kva', miAInfo.principalId);
    keyA = await s.createKey('kva', 'ka');
    const r = await call('a', 'PUT', idOf(S1, 'rg-a', 'registry', 'regaa'),
      s.cmkBody({ keyId: keyA.id, identity: miAInfo }));
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(a.ok(['acr', 'list', '--query', '[].name']).json, ['regaa']);
  });

  test('tenant B can neither read nor see A\'s identity, registry or subscription', async () => {
    const b = as('b');
    b.ok(['group', 'create', '-n', 'rg-b', '-l', 'eastus']);
    // ARM paths: 403 AuthorizationFailed naming the action and the scope, as ARM
    let m = armError(await call('b', 'GET', miA), 403, 'AuthorizationFailed', 'GET A\'s identity');
    assert.match(m, /Microsoft\.ManagedIdentity\/userAssignedIdentities\/read/);
    assert.ok(m.includes(miA), m);
    assert.ok(m.includes(creds.b.appId), 'names the client');
    m = armError(await call('b', 'GET', idOf(S1, 'rg-a', 'registry', 'regaa')), 403, 'AuthorizationFailed',
      'GET A\'s registry');
    assert.match(m, /Microsoft\.ContainerRegistry\/registries\/read/);
    armError(await call('b', 'GET', `/subscriptions/${S1}`), 403, 'AuthorizationFailed', 'A\'s subscription');
    armError(await call('b', 'GET', `/subscriptions/${S1}/resourceGroups/rg-a/resources`), 403,
      'AuthorizationFailed', 'A\'s group');
    // a missing resource in A's subscription answers the same: nothing learned
    armError(await call('b', 'GET', idOf(S1, 'rg-a', 'registry', 'nosuch')), 403, 'AuthorizationFailed',
      'a missing registry in A\'s group');
    // legacy short paths name no scope: another tenant's resource is a missing one
    armError(await call('b', 'GET', '/registries/regaa'), 404, 'ResourceNotFound', 'legacy registry');
    armError(await call('b', 'GET', '/identities/mi-a'), 404, 'ResourceNotFound', 'legacy identity');
    armError(await call('b', 'POST', '/registries/regaa/listCredentials'), 404, 'ResourceNotFound',
      'A\'s admin credentials');
    // the registry's sub-resources: repositories, usage, garbage collection
    armError(await call('b', 'GET', '/registries/regaa/repositories'), 404, 'ResourceNotFound', 'A\'s repositories');
    armError(await call('b', 'GET', `${idOf(S1, 'rg-a', 'registry', 'regaa')}/listUsages`), 403,
      'AuthorizationFailed', 'A\'s usage');
    armError(await call('b', 'POST', `${idOf(S1, 'rg-a', 'registry', 'regaa')}/garbageCollect`, { dryRun: true }), 403,
      'AuthorizationFailed', 'a collection of A\'s registry');
    // the service's metrics name every tenant's registries: the operator's
    armError(await call('b', 'GET', '/metrics'), 403, 'AuthorizationFailed', 'metrics');
    // lists keep what B may read
    for (const path of ['/registries', '/identities', '/subscriptions', `/subscriptions/${S2}/resourceGroups`]) {
      const r = await call('b', 'GET', path);
      assert.equal(r.status, 200, r.text);
      assert.ok(!r.text.includes(S1) && !r.text.includes('regaa') && !r.text.includes('mi-a'), `${path}: ${r.text}`);
    }
    // the CLI says the same
    b.fails(['identity', 'show', '-n', 'mi-a', '-g', 'rg-a'], 'AuthorizationFailed', { COFFER_SUBSCRIPTION: S1 });
    b.fails(['acr', 'show', '-n', 'regaa', '-g', 'rg-a'], 'AuthorizationFailed', { COFFER_SUBSCRIPTION: S1 });
    assert.deepEqual(b.ok(['identity', 'list']).json, []);
  });

  test('tenant B cannot use or assign A\'s identity and key: the finding of issue 21', async () => {
    // a registry in B's subscription with A's identity and A's key
    const body = s.cmkBody({ keyId: keyA.id, identity: miAInfo });
    const r = await call('b', 'PUT', idOf(S2, 'rg-b', 'registry', 'regbb'), body);
    const m = armError(r, 403, 'AuthorizationFailed', 'registry with A\'s identity');
    assert.ok(m.includes(ASSIGN), m);
    assert.ok(m.includes(miA), m);
    // by its legacy name: as if it did not exist
    const legacy = structuredClone(body);
    legacy.identity.userAssignedIdentities = { '/identities/mi-a': {} };
    armError(await call('b', 'PUT', idOf(S2, 'rg-b', 'registry', 'regbb'), legacy), 400, 'IdentityNotFound',
      'legacy identity ref');
    // assigned later, to a registry B owns
    const own = await call('b', 'PUT', idOf(S2, 'rg-b', 'registry', 'regbb'), { sku: { name: 'Premium' } });
    assert.equal(own.status, 201, own.text);
    armError(await call('b', 'PATCH', idOf(S2, 'rg-b', 'registry', 'regbb'),
      { identity: { type: 'UserAssigned', userAssignedIdentities: { [miA]: {} } } }), 403,
    'AuthorizationFailed', 'PATCH with A\'s identity');
    // the identity's tokens: /msi/token is the operator's (the daemon's own)
    const tok = await call('b', 'GET', `/msi/token?resource=https://vault.azure.net&client_id=${miAInfo.clientId}`);
    assert.equal(tok.status, 401, tok.text);
    // A's registry is untouched
    const reg = await call('a', 'GET', idOf(S1, 'rg-a', 'registry', 'regaa'));
    assert.equal(reg.status, 200);
    assert.equal(reg.json.properties.encryption.keyVaultProperties.identity, miAInfo.clientId);
    // and B cannot grant itself a role in A's subscription
    const grant = await call('b', 'PUT',
      `/subscriptions/${S1}/providers/Microsoft.Authorization/roleAssignments/0b0b0b0b-0000-4000-8000-000000000001`,
      { properties: { roleDefinitionId: `/subscriptions/${S1}/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635`,
        principalId: creds.b.id } });
    assert.match(armError(grant, 403, 'AuthorizationFailed', 'self-grant'), /roleAssignments\/write/);
  });

  test('a role on the identity itself (Managed Identity Operator) lets B use it', async () => {
    as('a').ok(['role', 'assignment', 'create', '--assignee', creds.b.appId, '--role',
      'Managed Identity Operator', '--scope', miA]);
    const r = await call('b', 'PUT', idOf(S2, 'rg-b', 'registry', 'regbb2'),
      s.cmkBody({ keyId: keyA.id, identity: miAInfo }));
    assert.equal(r.status, 201, r.text);
    // it lets B read that identity, and nothing else of A's
    assert.equal((await call('b', 'GET', miA)).status, 200);
    armError(await call('b', 'GET', idOf(S1, 'rg-a', 'registry', 'regaa')), 403, 'AuthorizationFailed', 'still');
    armError(await call('b', 'DELETE', miA), 403, 'AuthorizationFailed', 'no delete');
    // taken back, it no longer lets B use it
    as('a').ok(['role', 'assignment', 'delete', '--assignee', creds.b.appId, '--role',
      'Managed Identity Operator', '--scope', miA]);
    const again = await call('b', 'PUT', idOf(S2, 'rg-b', 'registry', 'regbb3'),
      s.cmkBody({ keyId: keyA.id, identity: miAInfo }));
    assert.ok(armError(again, 403, 'AuthorizationFailed', 'after the role is removed').includes(ASSIGN));
    // put back for the listing below
    as('a').ok(['role', 'assignment', 'create', '--assignee', creds.b.appId, '--role',
      'Managed Identity Operator', '--scope', miA]);
  });

  test('Reader reads and cannot write; Contributor writes and cannot assign roles', async () => {
    const a = as('a');
    for (const role of ['Reader', 'Contributor']) {
      const sp = a.ok(['ad', 'sp', 'create-for-rbac', '--name', role.toLowerCase(), '--role', role,
        '--scopes', `/subscriptions/${S1}/resourceGroups/rg-a`]).json;
      creds[role] = sp;
      creds[role].id = a.ok(['ad', 'sp', 'show', '--id', sp.appId]).json.id;
    }
    const reg = idOf(S1, 'rg-a', 'registry', 'regaa');
    assert.equal((await call('Reader', 'GET', reg)).status, 200);
    assert.match(armError(await call('Reader', 'PATCH', reg, { properties: { adminUserEnabled: true } }), 403,
      'AuthorizationFailed', 'Reader PATCH'), /registries\/write/);
    assert.match(armError(await call('Reader', 'POST', `${reg}/listCredentials`), 403, 'AuthorizationFailed',
      'Reader listCredentials'), /registries\/listCredentials\/action/);
    armError(await call('Reader', 'PUT', idOf(S1, 'rg-a', 'identity', 'mi-r'), {}), 403, 'AuthorizationFailed',
      'Reader creates');
    // the group is the scope: the subscription's other groups are not Reader's
    armError(await call('Reader', 'GET', `/subscriptions/${S1}/resourceGroups/other`), 403, 'AuthorizationFailed',
      'outside the group');

    const c = await call('Contributor', 'PUT', idOf(S1, 'rg-a', 'identity', 'mi-c'), {});
    assert.equal(c.status, 201, c.text);
    const p = await call('Contributor', 'PATCH', reg, { properties: { adminUserEnabled: true } });
    assert.equal(p.status, 200, p.text);
    const grant = await call('Contributor', 'PUT',
      `/subscriptions/${S1}/resourceGroups/rg-a/providers/Microsoft.Authorization/roleAssignments/0c0c0c0c-0000-4000-8000-000000000001`,
      { properties: { roleDefinitionId: '/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
        principalId: creds.Contributor.id } });
    assert.match(armError(grant, 403, 'AuthorizationFailed', 'Contributor assigns'),
      /Microsoft\.Authorization\/roleAssignments\/write/);
    // through the CLI too
    envs.c = tenantEnv(freshDir('coffer-tenant-c-'));
    as('c').ok(['login', '--service-principal', '-u', creds.Contributor.appId,
      `--password=${creds.Contributor.password}`]);
    as('c').fails(['role', 'assignment', 'create', '--assignee', creds.Contributor.appId, '--role', 'Owner',
      '--scope', `/subscriptions/${S1}`], 'AuthorizationFailed');
    // the Owner lists the group's assignments; a deleted principal stops working
    const list = a.ok(['role', 'assignment', 'list', '--scope', `/subscriptions/${S1}/resourceGroups/rg-a`]).json;
    const roles = list.map((x) => x.roleDefinitionName).sort();
    assert.deepEqual(roles, ['Contributor', 'Managed Identity Operator', 'Owner', 'Reader']);
    a.ok(['ad', 'sp', 'delete', '--id', creds.Reader.appId]);
    armError(await call('Reader', 'GET', reg), 401, 'Unauthorized', 'deleted principal');
  });

  test('every management call is in the audit log: who, what, result; no secret', () => {
    const path = join(s.dataDir, 'mgmt-audit.log');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const text = readFileSync(path, 'utf8');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    const byB = lines.filter((l) => l.caller.appId === creds.b.appId);
    assert.ok(byB.length >= 15, `B's calls: ${byB.length}`);
    const denied = byB.find((l) => l.status === 403 && l.action === ASSIGN);
    assert.ok(denied, 'the refused identity assignment is on record');
    assert.equal(denied.result, 'forbidden');
    assert.equal(denied.code, 'AuthorizationFailed');
    assert.equal(denied.caller.type, 'servicePrincipal');
    assert.equal(denied.caller.subscriptionId, S2);
    assert.equal(denied.scope, miA);
    assert.ok(byB.some((l) => l.status === 201 && l.method === 'PUT' && l.path.endsWith('/regbb2')));
    assert.ok(lines.some((l) => l.caller.type === 'admin' && l.method === 'PUT' && l.path === `/subscriptions/${S1}`));
    assert.ok(lines.some((l) => l.status === 401 && l.caller.type === 'anonymous'));
    for (const l of lines) for (const k of ['time', 'caller', 'method', 'path', 'status', 'result', 'requestId']) {
      assert.ok(k in l, `${k} in ${JSON.stringify(l)}`);
    }
    for (const c of Object.values(creds)) {
      assert.ok(!text.includes(c.password), 'no password in the audit log');
      assert.ok(!s.cofferdLog().includes(c.password), 'no password in cofferd\'s log');
    }
    assert.ok(!text.includes(s.adminToken), 'no admin token in the audit log');
  });
});

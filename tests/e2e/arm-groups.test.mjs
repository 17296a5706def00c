// arm-groups.test.mjs -- subscriptions and resource groups (issue 20):
// resource groups as real resources of cofferd's management API and the
// coffer CLI (group create|show|exists|list|delete), every resource at its
// ARM path and id, -g required where az requires it and a configured
// default group (coffer configure --defaults group=) otherwise, the current
// subscription (coffer account), and the migration that puts what a data
// dir held before resource groups into the default group, in cofferd and
// in keyvaultd. Against the real daemons (lib/cmk.mjs wires keyvaultd to
// cofferd's identity issuer) and the real CLI.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCofferd, freshDir, metaSql } from './lib/daemons.mjs';
import { startCmkStack } from './lib/cmk.mjs';
import { cofferRunner, stackEnv } from './lib/cli.mjs';
import { startKeyvaultd, request } from './lib/vault.mjs';
import { armId, DEFAULT_SUB, TYPES } from './lib/arm.mjs';

describe('resource groups through the CLI and the management API', { timeout: 180000 }, () => {
  let s;
  let env;
  const { coffer, ok, fails } = cofferRunner(() => env);
  const tsv = (args, extra) => ok([...args, '-o', 'tsv'], extra).out.trim();

  before(async () => {
    s = await startCmkStack();
    env = stackEnv(s, freshDir('coffer-arm-home-'));
  });
  after(async () => { await s?.stop(); });

  test('-g is required where az requires it; a configured default group stands in for it', () => {
    for (const args of [['identity', 'create', '-n', 'mi1'], ['identity', 'show', '-n', 'mi1'],
      ['keyvault', 'create', '-n', 'kv1'], ['acr', 'create', '-n', 'reg1']]) {
      const r = coffer(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /the following arguments are required: --resource-group\/-g/);
    }
    const g = ok(['group', 'create', '--name', 'rg-a', '--location', 'eastus']).json;
    assert.equal(g.id, `/subscriptions/${DEFAULT_SUB}/resourceGroups/rg-a`);
    assert.equal(g.type, 'Microsoft.Resources/resourceGroups');
    assert.equal(g.properties.provisioningState, 'Succeeded');
    // az configure --defaults group=
    assert.equal(ok(['configure', '--defaults', 'group=rg-a']).out, '');
    assert.match(readFileSync(env.COFFER_CONFIG, 'utf8'), /^group = rg-a$/m);
    assert.deepEqual(ok(['configure', '--list-defaults']).json.map((d) => [d.name, d.value]), [['group', 'rg-a']]);
    const mi = ok(['identity', 'create', '-n', 'mi1']).json;
    assert.equal(mi.id, armId('identity', 'mi1', 'rg-a'));
    assert.equal(mi.location, 'eastus', "the group's location");
    assert.equal(mi.resourceGroup, 'rg-a');
    // -g wins over the default
    ok(['group', 'create', '-n', 'rg-b', '-l', 'westus']);
    assert.equal(tsv(['identity', 'create', '-g', 'rg-b', '-n', 'mi2', '--query', 'resourceGroup']), 'rg-b');
    const bad = coffer(['configure', '--defaults', 'colour=blue']);
    assert.equal(bad.code, 2);
    ok(['configure', '--defaults', 'group=']);
    assert.doesNotMatch(readFileSync(env.COFFER_CONFIG, 'utf8'), /group/);
  });

  test('a resource lives in one group: another group\'s path is 404, its name taken (409)', async () => {
    fails(['identity', 'show', '-g', 'rg-b', '-n', 'mi1'], 'ResourceNotFound');
    const r = await s.mgmt('GET', `/subscriptions/${DEFAULT_SUB}/resourceGroups/rg-b/providers/${TYPES.identity}/mi1`);
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'ResourceNotFound');
    assert.match(r.json.error.message, /under resource group 'rg-b' was not found/);
    const c = fails(['identity', 'create', '-g', 'rg-b', '-n', 'mi1'], 'Conflict');
    assert.match(c.err, /already used in resource group 'rg-a'/);
    // ARM ids compare without case: the reference's own docs write "resourcegroups"
    const lower = await s.mgmt('GET', `/subscriptions/${DEFAULT_SUB}/resourcegroups/RG-A/providers/microsoft.managedidentity/userassignedidentities/mi1`);
    assert.equal(lower.status, 200, lower.text);
    // a group that does not exist
    fails(['identity', 'create', '-g', 'nogroup', '-n', 'mi3'], 'ResourceGroupNotFound');
    fails(['keyvault', 'create', '-g', 'nogroup', '-n', 'kvnogroup'], 'ResourceGroupNotFound');
    const rg = await s.mgmt('GET', `/subscriptions/${DEFAULT_SUB}/resourceGroups/nogroup/providers/${TYPES.registry}`);
    assert.equal(rg.status, 404);
    assert.equal(rg.json.error.code, 'ResourceGroupNotFound');
    const sub = await s.mgmt('GET', '/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups');
    assert.equal(sub.json.error.code, 'SubscriptionNotFound');
    // a group keeps its location
    const moved = fails(['group', 'create', '-n', 'rg-a', '-l', 'westus'], 'InvalidResourceGroupLocation');
    assert.match(moved.err, /already exists in location 'eastus'/);
    ok(['group', 'create', '-n', 'RG-A', '-l', 'EastUS']);
  });

  test('group show, exists, list; lists below a group or the subscription', () => {
    assert.equal(tsv(['group', 'show', '-n', 'rg-a', '--query', 'location']), 'eastus');
    assert.equal(ok(['group', 'exists', '-n', 'rg-a']).out, 'true\n');
    assert.equal(ok(['group', 'exists', '-n', 'rg-zzz']).out, 'false\n');
    assert.deepEqual(tsv(['group', 'list', '--query', '[].name']).split('\n'), ['default', 'rg-a', 'rg-b']);
    assert.deepEqual(tsv(['identity', 'list', '-g', 'rg-b', '--query', '[].name']).split('\n'), ['mi2']);
    assert.deepEqual(tsv(['identity', 'list', '--query', '[].name']).split('\n'), ['mi1', 'mi2']);
  });

  test('account show|list|set: the current subscription', async () => {
    const a = ok(['account', 'show']).json;
    assert.equal(a.id, DEFAULT_SUB);
    assert.equal(a.isDefault, true);
    // the admin adds a subscription (PUT /subscriptions/{id}); the CLI moves to it
    const other = '22222222-3333-4444-5555-666666666666';
    const p = await s.mgmt('PUT', `/subscriptions/${other}`, { displayName: 'team two' });
    assert.equal(p.status, 201, p.text);
    assert.deepEqual(ok(['account', 'list', '--query', '[].id']).json.sort(), [DEFAULT_SUB, other].sort());
    ok(['account', 'set', '--subscription', 'team two']);
    assert.match(readFileSync(env.COFFER_CONFIG, 'utf8'), new RegExp(`^subscription = ${other}$`, 'm'));
    assert.equal(tsv(['account', 'show', '--query', 'id']), other);
    assert.equal(ok(['group', 'list']).out, '[]\n', 'a new subscription has no group');
    fails(['account', 'set', '-s', 'nosuchsubscription'], 'SubscriptionNotFound');
    ok(['account', 'set', '-s', DEFAULT_SUB]);
  });

  test('group delete: refused while the group holds resources unless --yes; then everything in it goes', async () => {
    ok(['group', 'create', '-n', 'rg-del', '-l', 'eastus']);
    const mi = ok(['identity', 'create', '-g', 'rg-del', '-n', 'mi-del']).json;
    ok(['keyvault', 'create', '-g', 'rg-del', '-n', 'kvdel', '--enable-purge-protection']);
    ok(['acr', 'create', '-g', 'rg-del', '-n', 'regdel01', '--sku', 'Basic']);
    ok(['acr', 'identity', 'assign', '-g', 'rg-del', '-n', 'regdel01', '--identities', mi.id]);
    assert.deepEqual((await s.mgmtOk('GET', `/subscriptions/${DEFAULT_SUB}/resourceGroups/rg-del/resources`)).value
      .map((r) => r.id).sort(), [armId('identity', 'mi-del', 'rg-del'), armId('registry', 'regdel01', 'rg-del')].sort());
    const f = fails(['group', 'delete', '-n', 'rg-del'], 'ConfirmationRequired');
    assert.match(f.err, /holds 3 resources/);
    assert.match(f.err, /Microsoft\.KeyVault\/vaults\/kvdel/);
    assert.match(f.err, /--yes/);
    ok(['acr', 'show', '-g', 'rg-del', '-n', 'regdel01']);
    ok(['keyvault', 'show', '-g', 'rg-del', '-n', 'kvdel']);

    // an identity of the group that a registry of another group uses: refused, nothing deleted
    ok(['acr', 'create', '-g', 'rg-a', '-n', 'regkeep01', '--sku', 'Basic']);
    ok(['acr', 'identity', 'assign', '-g', 'rg-a', '-n', 'regkeep01', '--identities', mi.id]);
    const inuse = await s.mgmt('DELETE', `/subscriptions/${DEFAULT_SUB}/resourceGroups/rg-del`);
    assert.equal(inuse.status, 409, inuse.text);
    assert.equal(inuse.json.error.code, 'IdentityInUse');
    assert.match(inuse.json.error.message, /regkeep01/);
    ok(['identity', 'show', '-g', 'rg-del', '-n', 'mi-del']);
    ok(['acr', 'identity', 'remove', '-g', 'rg-a', '-n', 'regkeep01', '--identities', mi.id]);

    assert.equal(ok(['group', 'delete', '-n', 'rg-del', '--yes']).out, '');
    assert.equal(ok(['group', 'exists', '-n', 'rg-del']).out, 'false\n');
    fails(['keyvault', 'show', '-n', 'kvdel'], 'ResourceNotFound');
    fails(['acr', 'show', '-n', 'regdel01'], 'ResourceNotFound');
    assert.equal((await s.mgmt('GET', '/identities/mi-del')).status, 404);
    // the name is free again
    ok(['acr', 'create', '-g', 'rg-a', '-n', 'regdel01', '--sku', 'Basic']);
    // the default group stays (the legacy paths create there)
    const dflt = await s.mgmt('DELETE', `/subscriptions/${DEFAULT_SUB}/resourceGroups/default`);
    assert.equal(dflt.status, 409, dflt.text);
    assert.match(dflt.json.error.message, /default resource group/);
    // an empty group goes without --yes
    ok(['group', 'create', '-n', 'rg-empty', '-l', 'eastus']);
    ok(['group', 'delete', '-n', 'rg-empty']);
    fails(['group', 'show', '-n', 'rg-empty'], 'ResourceGroupNotFound');
  });

  test('keyvault: ARM paths and ids; a vault name taken in another group is 409', async () => {
    const kv = ok(['keyvault', 'create', '-g', 'rg-a', '-n', 'kvarm1']).json;
    assert.equal(kv.id, armId('vault', 'kvarm1', 'rg-a'));
    assert.equal(kv.resourceGroup, 'rg-a');
    assert.equal(kv.location, 'eastus');
    assert.equal(kv.properties.enableRbacAuthorization, false, 'access policies unless asked');
    const other = await request(`${s.kv.url}${armId('vault', 'kvarm1', 'rg-b')}`,
      { method: 'PUT', body: {}, agent: s.kv.agent, token: s.kv.adminToken });
    assert.equal(other.status, 409, other.text);
    assert.equal(other.json.error.code, 'VaultAlreadyExists');
    fails(['keyvault', 'show', '-g', 'rg-b', '-n', 'kvarm1'], 'ResourceNotFound');
    // without -g (nor a default): found in the subscription
    assert.equal(tsv(['keyvault', 'show', '-n', 'kvarm1', '--query', 'id']), kv.id);
    assert.deepEqual(tsv(['keyvault', 'list', '-g', 'rg-a', '--query', '[].name']).split('\n'), ['kvarm1']);
    // the legacy path still answers, with the ARM id
    const legacy = await request(`${s.kv.url}/vaults/kvarm1`, { agent: s.kv.agent, token: s.kv.adminToken });
    assert.equal(legacy.json.id, kv.id);
  });
});

describe('the migration of a data dir made before resource groups', { timeout: 120000 }, () => {
  const dirs = [];
  after(() => {
    if (!process.env.KEEP_E2E_DIRS) for (const d of dirs) execFileSync('rm', ['-rf', d]);
  });

  test('cofferd: identities and registries land in the default group of the default subscription', async () => {
    const dataDir = freshDir('coffer-arm-migrate-');
    dirs.push(dataDir);
    let d = await startCofferd({ dataDir });
    const call = (method, path, body) => request(`${d.mgmtUrl}${path}`, { method, body, token: d.adminToken, agent: false });
    assert.equal((await call('PUT', '/identities/oldmi', {})).status, 201);
    assert.equal((await call('PUT', '/registries/oldreg', {
      identity: { type: 'UserAssigned', userAssignedIdentities: { '/identities/oldmi': {} } },
    })).status, 201);
    await d.stop();
    // what an older cofferd left: no migration 2, so no subscription,
    // group or placement (on SQLite or PostgreSQL); the later steps stay,
    // as only the steps a database has not recorded run
    metaSql(dataDir, 'DROP TABLE resource_placements; DROP TABLE resource_groups; '
      + 'DROP TABLE subscriptions; DELETE FROM schema_version WHERE version = 2;', { readonly: false });
    d = await startCofferd({ dataDir, args: ['--default-group', 'migrated'] });
    try {
      const log = await d.waitLog(/resources placed in the default resource group/);
      assert.match(log, /"count":"2"/);
      const mi = await call('GET', `/subscriptions/${DEFAULT_SUB}/resourceGroups/migrated/providers/${TYPES.identity}/oldmi`);
      assert.equal(mi.status, 200, mi.text);
      assert.equal(mi.json.id, armId('identity', 'oldmi', 'migrated'));
      const reg = await call('GET', `/subscriptions/${DEFAULT_SUB}/resourceGroups/migrated/providers/${TYPES.registry}/oldreg`);
      assert.equal(reg.status, 200, reg.text);
      assert.deepEqual(Object.keys(reg.json.identity.userAssignedIdentities), [armId('identity', 'oldmi', 'migrated')]);
      // the legacy paths keep working
      assert.equal((await call('GET', '/registries/oldreg')).json.id, armId('registry', 'oldreg', 'migrated'));
      const groups = await call('GET', `/subscriptions/${DEFAULT_SUB}/resourceGroups`);
      assert.deepEqual(groups.json.value.map((g) => g.name), ['migrated']);
    } finally {
      await d.stop();
    }
  });

  test('keyvaultd: vaults land in the configured default group', async () => {
    const top = freshDir('coffer-arm-kvmigrate-');
    dirs.push(top);
    const dataDir = join(top, 'data');
    let kv = await startKeyvaultd({ dataDir });
    await kv.admin.createVault('oldvault');
    await kv.stop();
    // what an older keyvaultd left: no placement of any vault
    execFileSync('sqlite3', [join(dataDir, 'keyvault.db'), 'DROP TABLE vault_arm;']);
    const sub = '33333333-4444-5555-6666-777777777777';
    kv = await startKeyvaultd({ dataDir, config: { default_subscription: sub, default_resource_group: 'old-vaults' } });
    try {
      const v = await kv.admin.getVault('oldvault');
      assert.equal(v.id, armId('vault', 'oldvault', 'old-vaults', sub));
      assert.equal(v.resourceGroup, 'old-vaults');
      const list = await kv.request(`/subscriptions/${sub}/resourceGroups/old-vaults/providers/${TYPES.vault}`, { admin: true });
      assert.deepEqual(list.json.value.map((x) => x.name).sort(), ['default', 'oldvault']);
    } finally {
      await kv.stop();
    }
  });
});

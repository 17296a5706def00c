// templates.test.mjs -- deployment templates (issue 14): the whole CMK
// setup of the reference tutorial (a user-assigned identity, a vault with
// purge protection, an access policy, a key, a Premium registry encrypted
// under that key) from one ARM template with one command,
// `coffer deployment group create`, as `az deployment group create` does
// it; then what a team that keeps the file in git does with it: redeploy
// (nothing changes, and the output says so), edit and look first
// (what-if), deploy the edit (in place), and the changes the APIs refuse
// (their own error, at the template path of the value). A failing resource
// stops the deployment with what was made before it named, and a rerun
// after the fix completes it. The reference's own template (§1.4: an
// existing key given as kek_id) deploys as written. `coffer group export`
// writes a template that recreates a group's setup elsewhere.
//
// Against the real keyvaultd and cofferd (lib/cmk.mjs), the real coffer
// CLI, and skopeo pushing and pulling through the deployed registry.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCmkStack } from './lib/cmk.mjs';
import { cofferRunner, stackEnv } from './lib/cli.mjs';
import { buildImage, put } from './lib/images.mjs';
import { tempDir } from './lib/oci.mjs';
import { armId, TYPES } from './lib/arm.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CMK_TEMPLATE = join(ROOT, 'docs', 'templates', 'cmk-registry.json');

describe('deployment templates', { timeout: 300000 }, () => {
  let s;
  let env;
  let dir;
  let layout;
  let sub;
  const { coffer, ok, fails } = cofferRunner(() => env);
  const G = 'tplgroup';
  const NAMES = ['registry_name=tplregistry', 'identity_name=tplidentity', 'vault_name=tplvault'];
  // A template file in the test's directory (a modified copy of one).
  const file = (name, obj) => {
    const p = join(dir, name);
    writeFileSync(p, JSON.stringify(obj, null, 2));
    return p;
  };
  const cmk = () => JSON.parse(readFileSync(CMK_TEMPLATE, 'utf8'));
  const deploy = (verb, f, params, extra = [], group = G) =>
    ['deployment', 'group', verb, '-g', group, '--template-file', f, ...(params.length ? ['--parameters', ...params] : []), ...extra];
  const id = (kind, name, group = G) => armId(kind, name, group, sub);

  before(async () => {
    s = await startCmkStack();
    dir = tempDir('coffer-templates-');
    env = stackEnv(s, dir);
    sub = ok(['account', 'show', '--query', 'id', '-o', 'tsv']).out.trim();
    ok(['group', 'create', '-n', G, '-l', 'westeurope']);
    layout = await buildImage({
      tag: 'v1',
      layers: [(x) => { put(x, 'etc/motd', 'deployed from a template\n'); }, (x) => { put(x, 'data.bin', Buffer.alloc(100000, 3)); }],
    });
  });
  after(async () => { await s?.stop(); });

  test('validate reads the template and its parameters, and makes nothing', () => {
    const v = ok(deploy('validate', CMK_TEMPLATE, NAMES)).json;
    assert.equal(v.properties.provisioningState, 'Succeeded');
    assert.equal(v.name, 'cmk-registry', "the file's name, as az names a deployment");
    assert.deepEqual(v.properties.validatedResources.map((r) => r.id), [
      id('identity', 'tplidentity'),
      id('vault', 'tplvault'),
      `${id('vault', 'tplvault')}/accessPolicies/add`,
      `${id('vault', 'tplvault')}/keys/tplregistry-key`,
      id('registry', 'tplregistry'),
    ]);
    assert.deepEqual(v.properties.parameters.location, { type: 'string', value: 'westeurope' }, "[resourceGroup().location]");
    assert.deepEqual(v.properties.parameters.key_size, { type: 'int', value: 3072 });
    assert.deepEqual(ok(['identity', 'list', '-g', G]).json, []);
    // ARM's parameter checks, with the parameter's path
    const bad = fails(deploy('validate', CMK_TEMPLATE, [...NAMES, 'sku=Gold']), 'InvalidTemplate');
    assert.match(bad.err, /parameters\.sku: the value "Gold" is not one of the allowed values \["Basic","Standard","Premium"\]/);
    const missing = fails(deploy('validate', CMK_TEMPLATE, NAMES.slice(1)), 'InvalidTemplate');
    assert.match(missing.err, /parameters\.registry_name: no value given/);
    fails(deploy('validate', CMK_TEMPLATE, NAMES, [], 'nosuchgroup'), 'ResourceGroupNotFound');
  });

  test('what-if on an empty group: five resources to create, nothing made', () => {
    const w = ok(deploy('what-if', CMK_TEMPLATE, NAMES)).json;
    assert.equal(w.status, 'Succeeded');
    assert.deepEqual(w.changes.map((c) => [c.templatePath, c.changeType]), [
      ['resources[0]', 'Create'], ['resources[1]', 'Create'], ['resources[2]', 'Create'],
      ['resources[3]', 'Create'], ['resources[4]', 'Create']]);
    assert.deepEqual(w.changeSummary, { create: 5, modify: 0, noChange: 0 });
    // what only the deployment will know shows as its expression, as ARM's what-if shows it
    const reg = w.changes[4].after;
    assert.equal(reg.properties.encryption.keyVaultProperties.identity,
      "[reference(variables('identity_id'), '2018-11-30').clientId]");
    assert.equal(reg.sku.name, 'Premium');
    assert.deepEqual(ok(['identity', 'list', '-g', G]).json, []);
    assert.deepEqual(ok(['keyvault', 'list', '-g', G]).json, []);
  });

  test('create: the whole CMK setup from one file and one command; push and pull', async () => {
    const d = ok(deploy('create', CMK_TEMPLATE, NAMES)).json;
    assert.equal(d.properties.provisioningState, 'Succeeded');
    assert.equal(d.id, `/subscriptions/${sub}/resourceGroups/${G}/providers/Microsoft.Resources/deployments/cmk-registry`);
    assert.deepEqual(d.properties.changeSummary, { create: 5, modify: 0, noChange: 0 });
    assert.deepEqual(d.properties.outputResources.map((r) => r.id)[4], id('registry', 'tplregistry'));
    const mi = ok(['identity', 'show', '-g', G, '-n', 'tplidentity']).json;
    assert.equal(mi.location, 'westeurope');
    const kv = ok(['keyvault', 'show', '-g', G, '-n', 'tplvault']).json;
    assert.equal(kv.properties.enablePurgeProtection, true);
    assert.deepEqual(kv.properties.accessPolicies.map((p) => [p.objectId, [...p.permissions.keys].sort()]),
      [[mi.principalId, ['get', 'unwrapKey', 'wrapKey']]]);
    const key = ok(['keyvault', 'key', 'show', '--vault-name', 'tplvault', '-n', 'tplregistry-key']).json;
    assert.equal(key.key.kty, 'RSA');
    assert.equal(Buffer.from(key.key.n, 'base64').length * 8, 3072);
    const keyUri = key.key.kid.replace(/\/[^/]*$/, '');
    assert.deepEqual(d.properties.outputs.keyUri, { type: 'string', value: keyUri });
    const reg = ok(['acr', 'show', '-n', 'tplregistry']).json;
    assert.equal(reg.sku.name, 'Premium');
    assert.equal(reg.resourceGroup, G);
    assert.equal(reg.location, 'westeurope');
    assert.equal(reg.adminUserEnabled, false);
    assert.deepEqual(Object.keys(reg.identity.userAssignedIdentities), [mi.id]);
    assert.equal(reg.encryption.status, 'enabled');
    assert.equal(reg.encryption.keyVaultProperties.keyIdentifier, keyUri, 'version-less: automatic rotation');
    assert.equal(reg.encryption.keyVaultProperties.versionedKeyIdentifier, key.key.kid);
    assert.equal(reg.encryption.keyVaultProperties.identity, mi.clientId);
    assert.deepEqual(d.properties.outputs.loginServer, { type: 'string', value: reg.loginServer });
    // what only Azure has is said, not silently dropped
    assert.ok(d.properties.notes.some((n) => /networkRuleSet: accepted/.test(n)), d.properties.notes.join('\n'));
    await s.push(layout, 'tplregistry');
    await s.pullSame(layout, 'tplregistry', 'pull from the deployed registry');
  });

  test('a second deployment of the same file changes nothing, and says so', () => {
    const before = ok(['acr', 'show', '-n', 'tplregistry']).json;
    const versions = ok(['keyvault', 'key', 'list-versions', '--vault-name', 'tplvault', '-n', 'tplregistry-key']).json;
    const d = ok(deploy('create', CMK_TEMPLATE, NAMES)).json;
    assert.deepEqual(d.properties.changeSummary, { create: 0, modify: 0, noChange: 5 });
    assert.deepEqual(d.properties.changes.map((c) => c.changeType), Array(5).fill('NoChange'));
    const w = ok(deploy('what-if', CMK_TEMPLATE, NAMES)).json;
    assert.deepEqual(w.changeSummary, { create: 0, modify: 0, noChange: 5 });
    // no new key version, same registry, same policies
    assert.equal(ok(['keyvault', 'key', 'list-versions', '--vault-name', 'tplvault', '-n', 'tplregistry-key']).json.length, versions.length);
    const after = ok(['acr', 'show', '-n', 'tplregistry']).json;
    assert.equal(after.encryption.keyVaultProperties.versionedKeyIdentifier, before.encryption.keyVaultProperties.versionedKeyIdentifier);
    assert.equal(after.creationDate, before.creationDate);
  });

  test('what-if after an edit shows the one change; create applies it in place', async () => {
    const edited = [...NAMES, 'admin_user_enabled=true'];
    const w = ok(deploy('what-if', CMK_TEMPLATE, edited)).json;
    assert.deepEqual(w.changes.map((c) => c.changeType), ['NoChange', 'NoChange', 'NoChange', 'NoChange', 'Modify']);
    assert.deepEqual(w.changes[4].delta, [{ path: 'properties.adminUserEnabled', propertyChangeType: 'Modify', before: false, after: true }]);
    assert.equal(ok(['acr', 'show', '-n', 'tplregistry', '--query', 'adminUserEnabled', '-o', 'tsv']).out.trim(), 'false', 'what-if changed nothing');
    // the same edit from a parameters file
    const pf = join(dir, 'params.json');
    writeFileSync(pf, JSON.stringify({ $schema: 'x', contentVersion: '1.0.0.0', parameters: { admin_user_enabled: { value: true } } }));
    const d = ok(deploy('create', CMK_TEMPLATE, [...NAMES, `@${pf}`])).json;
    assert.deepEqual(d.properties.changeSummary, { create: 0, modify: 1, noChange: 4 });
    assert.equal(d.properties.changes[4].delta[0].path, 'properties.adminUserEnabled');
    assert.equal(ok(['acr', 'show', '-n', 'tplregistry', '--query', 'adminUserEnabled', '-o', 'tsv']).out.trim(), 'true');
    await s.pullSame(layout, 'tplregistry', 'pull after the in-place update');
    assert.deepEqual(ok(deploy('create', CMK_TEMPLATE, edited)).json.properties.changeSummary, { create: 0, modify: 0, noChange: 5 });
  });

  test("a vault firewall in the template (networkAcls) is compared and changed in place", async () => {
    const t = cmk();
    t.resources[1].properties.networkAcls = { defaultAction: 'deny', bypass: 'AzureServices', ipRules: [{ value: '127.0.0.1' }], virtualNetworkRules: [] };
    const f = file('firewall.json', t);
    const edited = [...NAMES, 'admin_user_enabled=true'];
    const w = ok(deploy('what-if', f, edited)).json;
    assert.deepEqual(w.changes.map((c) => c.changeType), ['NoChange', 'Modify', 'NoChange', 'NoChange', 'NoChange']);
    assert.deepEqual(w.changes[1].delta.map((x) => [x.path, x.after]), [
      ['properties.networkAcls.defaultAction', 'Deny'], ['properties.networkAcls.ipRules', ['127.0.0.1/32']]]);
    assert.deepEqual(ok(deploy('create', f, edited)).json.properties.changeSummary, { create: 0, modify: 1, noChange: 4 });
    const acls = ok(['keyvault', 'show', '-n', 'tplvault', '--query', 'properties.networkAcls']).json;
    assert.equal(acls.defaultAction, 'Deny');
    assert.deepEqual(acls.ipRules, [{ value: '127.0.0.1/32' }]);
    assert.deepEqual(ok(deploy('create', f, edited)).json.properties.changeSummary, { create: 0, modify: 0, noChange: 5 });
    // cofferd reaches the vault from 127.0.0.1: the registry keeps its key
    assert.equal(ok(['acr', 'encryption', 'check', '-n', 'tplregistry', '--query', 'keyVaultProperties.keyStatus', '-o', 'tsv']).out.trim(), 'available');
  });

  test('changes the APIs refuse fail with their own error, at the template path', () => {
    const edited = [...NAMES, 'admin_user_enabled=true'];
    // a CMK registry never goes below Premium
    let r = fails(deploy('create', CMK_TEMPLATE, [...edited, 'sku=Standard']), 'CmkRequiresPremium');
    assert.match(r.err, /^ERROR: \(CmkRequiresPremium\) resources\[4\]\.sku\.name: /);
    assert.match(r.err, /the deployment stopped at resources\[4\] \(Microsoft\.ContainerRegistry\/registries 'tplregistry'\); done before it: resources\[0\] unchanged, resources\[1\] unchanged, resources\[2\] unchanged, resources\[3\] unchanged;/);
    assert.equal(ok(['acr', 'show', '-n', 'tplregistry', '--query', 'sku.name', '-o', 'tsv']).out.trim(), 'Premium');
    // purge protection never goes off again (keyvaultd's Conflict)
    const t = cmk();
    t.resources[1].properties.enablePurgeProtection = false;
    r = fails(deploy('create', file('no-purge-protection.json', t), edited), 'Conflict');
    assert.match(r.err, /resources\[1\]\.properties\.enablePurgeProtection: Purge protection cannot be disabled/);
    assert.match(r.err, /done before it: resources\[0\] unchanged;/);
    // a key's type and size are fixed
    r = fails(deploy('create', CMK_TEMPLATE, [...edited, 'key_size=4096']), 'Conflict');
    assert.match(r.err, /resources\[3\]\.properties\.keySize: the key 'tplvault\/tplregistry-key' exists with another keySize/);
    // a customer-managed key only at creation: a plain registry first, then the same with a CMK
    const plain = cmk();
    delete plain.resources[4].properties.encryption;
    plain.resources[4].identity = { type: 'None' };
    const pp = file('plain.json', plain);
    const other = ['registry_name=tplplain', 'identity_name=tplidentity', 'vault_name=tplvault', 'key_name=tplregistry-key', 'admin_user_enabled=true'];
    assert.deepEqual(ok(deploy('create', pp, other)).json.properties.changeSummary, { create: 1, modify: 0, noChange: 4 });
    r = fails(deploy('create', CMK_TEMPLATE, other), 'CmkOnlyAtCreation');
    assert.match(r.err, /^ERROR: \(CmkOnlyAtCreation\) resources\[4\]\.properties\.encryption: /);
    assert.equal(ok(['acr', 'show', '-n', 'tplplain', '--query', 'encryption.status', '-o', 'tsv']).out.trim(), 'disabled');
  });

  test('template errors carry their path and stop before anything is made', () => {
    const t = cmk();
    t.resources[4].properties.encryption.keyVaultProperties.KeyIdentifier = 'http://vault.example/secrets/x';
    const names = ['registry_name=tplbroken', 'identity_name=tplbrokenid', 'vault_name=tplbrokenkv'];
    let r = fails(deploy('create', file('bad-key.json', t), names), 'InvalidKeyIdentifier');
    assert.match(r.err, /^ERROR: \(InvalidKeyIdentifier\) resources\[4\]\.properties\.encryption\.keyVaultProperties\.KeyIdentifier: 'http:\/\/vault\.example\/secrets\/x' is not a key identifier/);
    fails(['identity', 'show', '-g', G, '-n', 'tplbrokenid'], 'ResourceNotFound');
    const u = cmk();
    u.resources[3].properties.keyOps = "[concat(parameters('nosuch'))]";
    r = fails(deploy('create', file('bad-param.json', u), names), 'InvalidTemplate');
    assert.match(r.err, /resources\[3\]\.properties\.keyOps: the template has no parameter 'nosuch'/);
    const v = cmk();
    v.resources.push({ type: 'Microsoft.Storage/storageAccounts', apiVersion: '2021-01-01', name: 'x' });
    r = fails(deploy('validate', file('storage.json', v), names), 'InvalidTemplate');
    assert.match(r.err, /resources\[5\]\.type: 'Microsoft\.Storage\/storageAccounts' is not a resource type coffer deploys/);
    const w = cmk();
    w.resources[4].properties.policies.trustPolicy.status = 'enabled';
    r = fails(deploy('validate', file('trust.json', w), names), 'InvalidTemplate');
    assert.match(r.err, /resources\[4\]\.properties\.policies\.trustPolicy: coffer has no such policy/);
    fails(['identity', 'show', '-g', G, '-n', 'tplbrokenid'], 'ResourceNotFound');
  });

  test('nothing half-made: what was made before a failure is reported, and a rerun after the fix completes', async () => {
    // the same setup without the access policy: the registry cannot reach its key
    const t = cmk();
    t.resources.splice(2, 1);
    delete t.resources[3].dependsOn;
    const names = ['registry_name=tplsecond', 'identity_name=tplsecondid', 'vault_name=tplsecondkv'];
    const r = fails(deploy('create', file('no-policy.json', t), names), 'KeyVaultAccessDenied');
    assert.match(r.err, /^ERROR: \(KeyVaultAccessDenied\) resources\[3\]\.properties\.encryption\.keyVaultProperties\.KeyIdentifier: Failed to access KeyId /);
    assert.match(r.err, /done before it: resources\[0\] created, resources\[1\] created, resources\[2\] created; run it again after the fix to complete it/);
    fails(['acr', 'show', '-n', 'tplsecond'], 'ResourceNotFound');
    // the fix: the full template; what exists is left as it is
    const d = ok(deploy('create', CMK_TEMPLATE, names)).json;
    assert.deepEqual(d.properties.changes.map((c) => c.changeType), ['NoChange', 'NoChange', 'Modify', 'NoChange', 'Create']);
    assert.equal(ok(['acr', 'encryption', 'show', '-n', 'tplsecond', '--query', 'keyVaultProperties.keyStatus', '-o', 'tsv']).out.trim(), 'available');
    await s.push(layout, 'tplsecond');
    await s.pullSame(layout, 'tplsecond', 'pull after the rerun');
  });

  test("the reference tutorial's template deploys as written (an existing key as kek_id)", async () => {
    ok(['group', 'create', '-n', 'tutorialrg', '-l', 'eastus']);
    ok(['keyvault', 'create', '-g', 'tutorialrg', '-n', 'tutorialkv', '--enable-purge-protection']);
    const kid = ok(['keyvault', 'key', 'create', '--vault-name', 'tutorialkv', '-n', 'tutorialkey', '--query', 'key.kid', '-o', 'tsv']).out.trim();
    const tf = join(ROOT, 'tests', 'e2e', 'tutorial', 'CMKtemplate.json');
    const p = ['registry_name=tutorialreg', 'identity_name=tutorialid', 'vault_name=tutorialkv'];
    // the tutorial's command passes key_id to a template whose parameter is kek_id: ARM refuses that
    const q = fails(deploy('create', tf, [...p, `key_id=${kid}`], [], 'tutorialrg'), 'InvalidTemplate');
    assert.match(q.err, /the parameter 'key_id' is given but the template has no such parameter; its parameters are: vault_name, registry_name, identity_name, kek_id/);
    const d = ok(deploy('create', tf, [...p, `kek_id=${kid}`], [], 'tutorialrg')).json;
    assert.deepEqual(d.properties.changes.map((c) => [c.templatePath, c.changeType]),
      [['resources[0]', 'Create'], ['resources[1]', 'Modify'], ['resources[2]', 'Create']], 'the policy adds to an existing vault');
    const reg = ok(['acr', 'show', '-n', 'tutorialreg']).json;
    assert.equal(reg.encryption.keyVaultProperties.keyIdentifier, kid, 'a versioned key: manual rotation');
    assert.equal(reg.encryption.keyVaultProperties.keyStatus, 'available');
    await s.push(layout, 'tutorialreg');
    await s.pullSame(layout, 'tutorialreg', 'pull from the tutorial template\'s registry');
    assert.deepEqual(ok(deploy('create', tf, [...p, `kek_id=${kid}`], [], 'tutorialrg')).json.properties.changeSummary,
      { create: 0, modify: 0, noChange: 3 });
  });

  test('group export writes a template that recreates the setup elsewhere', async () => {
    const exported = ok(['group', 'export', '-n', G]).json;
    const ef = file('exported.json', exported);
    // redeployed where it came from: nothing to change
    const same = ok(['deployment', 'group', 'create', '-g', G, '-f', ef]).json;
    assert.equal(same.properties.changeSummary.create + same.properties.changeSummary.modify, 0,
      JSON.stringify(same.properties.changes.filter((c) => c.changeType !== 'NoChange')));
    // elsewhere: another group, every name a parameter
    ok(['group', 'create', '-n', 'tplcopy', '-l', 'northeurope']);
    const params = Object.entries(exported.parameters).map(([k, v]) => `${k}=${v.defaultValue}copy`);
    assert.ok(params.includes('registries_tplregistry_name=tplregistrycopy'), params.join(' '));
    const d = ok(['deployment', 'group', 'create', '-g', 'tplcopy', '-f', ef, '--parameters', ...params]).json;
    assert.equal(d.properties.changeSummary.modify + d.properties.changeSummary.noChange, 0);
    const shape = (g, suffix) => {
      const regs = ok(['acr', 'list', '-g', g]).json;
      const idName = (clientId) => ok(['identity', 'list', '-g', g]).json.find((m) => m.clientId === clientId)?.name;
      return regs.map((r) => ({
        name: r.name.slice(0, r.name.length - suffix.length),
        sku: r.sku.name,
        admin: r.adminUserEnabled,
        anonymous: r.anonymousPullEnabled,
        encryption: r.encryption.status,
        keyIdentity: r.encryption.status === 'enabled' ? idName(r.encryption.keyVaultProperties.identity)?.replace(suffix, '') : null,
        rotation: r.encryption.keyVaultProperties?.keyRotationEnabled ?? null,
        keyStatus: r.encryption.keyVaultProperties?.keyStatus ?? null,
        identities: Object.keys(r.identity?.userAssignedIdentities || {}).map((k) => k.split('/').pop().replace(suffix, '')).sort(),
      })).sort((a, b) => a.name.localeCompare(b.name));
    };
    assert.deepEqual(shape('tplcopy', 'copy'), shape(G, ''));
    const vaults = (g, suffix) => ok(['keyvault', 'list', '-g', g]).json.map((v) => {
      const ids = ok(['identity', 'list', '-g', g]).json;
      return {
        name: v.name.replace(suffix, ''),
        purge: v.properties.enablePurgeProtection,
        policies: v.properties.accessPolicies.map((p) => [ids.find((m) => m.principalId === p.objectId)?.name.replace(suffix, ''), [...p.permissions.keys].sort()]).sort(),
        keys: ok(['keyvault', 'key', 'list', '--vault-name', v.name]).json.map((k) => {
          const b = ok(['keyvault', 'key', 'show', '--vault-name', v.name, '-n', k.kid.split('/').pop()]).json;
          return [k.kid.split('/').pop(), b.key.kty, Buffer.from(b.key.n, 'base64').length * 8, [...b.key.keyOps].sort()];
        }),
      };
    }).sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(vaults('tplcopy', 'copy'), vaults(G, ''));
    await s.push(layout, 'tplregistrycopy');
    await s.pullSame(layout, 'tplregistrycopy', 'pull from the registry recreated from the export');
  });

  test("make run's demo from one template and one command (the default vault updated in place)", async () => {
    const demo = ['registry_name=cofferdemo', 'identity_name=cofferdemo-mi', 'vault_name=default',
      'key_name=cofferdemo-key', 'admin_user_enabled=true'];
    const w = ok(deploy('what-if', CMK_TEMPLATE, demo, [], 'default')).json;
    // the vault exists: its purge protection goes on, and the policy adds to its list
    assert.deepEqual(w.changes.map((c) => c.changeType), ['Create', 'Modify', 'Modify', 'Create', 'Create']);
    assert.ok(w.changes[1].delta.some((x) => x.path === 'properties.enablePurgeProtection' && x.before === false && x.after === true),
      JSON.stringify(w.changes[1].delta));
    const d = ok(deploy('create', CMK_TEMPLATE, demo, [], 'default')).json;
    assert.deepEqual(d.properties.changeSummary, { create: 3, modify: 2, noChange: 0 });
    assert.equal(ok(['keyvault', 'show', '-n', 'default', '--query', 'properties.enablePurgeProtection', '-o', 'tsv']).out.trim(), 'true');
    const reg = ok(['acr', 'show', '-n', 'cofferdemo']).json;
    assert.equal(reg.resourceGroup, 'default');
    assert.equal(reg.adminUserEnabled, true);
    assert.equal(reg.encryption.keyVaultProperties.keyIdentifier, `${s.kv.url}/keys/cofferdemo-key`, "the default vault's keys live at vault_url");
    assert.equal(reg.encryption.keyVaultProperties.keyStatus, 'available');
    await s.push(layout, 'cofferdemo');
    await s.pullSame(layout, 'cofferdemo', 'pull from the demo registry');
    assert.deepEqual(ok(deploy('create', CMK_TEMPLATE, demo, [], 'default')).json.properties.changeSummary,
      { create: 0, modify: 0, noChange: 5 });
  });
});

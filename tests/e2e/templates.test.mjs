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
import { cofferRunner } from './lib/cli.mjs';
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
    env = {
      PATH: process.env.PATH,
      HOME: dir,
      COFFER_CONFIG: join(dir, 'coffer.config'),
      COFFER_URL: s.mgmtUrl,
      COFFER_TOKEN: s.adminToken,
      COFFER_VAULT_URL: s.kv.url,
      COFFER_VAULT_TOKEN: s.kv.adminToken,
      COFFER_VAULT_CA: s.caPath,
    };
    writeFileSync(env.COFFER_CONFIG, '');
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
    assert.equal(Buffer.from(key.key.n, 'base64url').length * 8, 3072);
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
});

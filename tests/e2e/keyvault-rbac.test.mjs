// keyvault-rbac.test.mjs -- Key Vault RBAC beside access policies (issue
// 20, docs/keyvault.md "Authorization: Azure RBAC"), against the real
// keyvaultd with callers holding real signed tokens, and the real Azure SDK
// (@azure/keyvault-keys): a vault made with enableRbacAuthorization ignores
// its access policies and enforces Azure's built-in key roles ("Key Vault
// Crypto Service Encryption User", "Key Vault Crypto Officer", "Key Vault
// Administrator", ...) at the vault's scope or a key's; role assignments
// and definitions are ARM resources of the management API, refused as ARM
// refuses them.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { KeyClient, CryptographyClient } from '@azure/keyvault-keys';
import { createIssuer, startKeyvaultd, sdkOptions, API, TENANT } from './lib/vault.mjs';
import { armId, DEFAULT_SUB } from './lib/arm.mjs';

const AUTHZ = '/providers/Microsoft.Authorization';
const ROLE = {
  encryptionUser: 'e147488a-f6f5-4113-8e2d-b22465e65bf6',
  officer: '14b46e9e-c2b7-41b4-b07b-48a6ebf60603',
  admin: '00482a5a-887f-4fb3-b363-3b7fe8e74483',
};

describe('keyvault-rbac', { timeout: 120000 }, () => {
  let d;
  let iss;
  const G = 'rbac-rg';
  const V = 'rbackv1';
  const vaultId = armId('vault', V, G);
  const admin = (method, path, body) => d.request(path, { method, body, admin: true });
  const assign = (scope, role, oid, id = randomUUID()) => admin('PUT', `${scope}${AUTHZ}/roleAssignments/${id}`,
    { properties: { roleDefinitionId: `/subscriptions/${DEFAULT_SUB}${AUTHZ}/roleDefinitions/${role}`, principalId: oid } });
  const keyCall = (oid, method, path, body) => d.request(`${path}?${API}`,
    { method, body, vault: V, token: iss.token({ oid }) });

  before(async () => {
    iss = createIssuer();
    d = await startKeyvaultd({ issuers: [iss.config()] });
    const r = await admin('PUT', vaultId, {
      location: 'eastus', properties: { tenantId: TENANT, enablePurgeProtection: true, enableRbacAuthorization: true },
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.properties.enableRbacAuthorization, true);
    for (const k of ['k1', 'k2']) {
      const c = await d.request(`/keys/${k}/create?${API}`, { method: 'POST', body: { kty: 'RSA' }, vault: V, admin: true });
      assert.equal(c.status, 200, c.text);
    }
  });
  after(async () => { await d?.stop(); });

  test('without a role nothing is allowed, whatever the access policies say', async () => {
    const oid = randomUUID();
    const pol = await admin('PUT', `${vaultId}/accessPolicies/add`, { properties: { accessPolicies: [
      { tenantId: TENANT, objectId: oid, permissions: { keys: ['all'] } }] } });
    assert.equal(pol.status, 200, pol.text);
    const r = await keyCall(oid, 'GET', '/keys/k1');
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'Forbidden');
    assert.equal(r.json.error.innererror.code, 'ForbiddenByRbac');
    assert.match(r.json.error.message, new RegExp(`oid=${oid}`));
    assert.match(r.json.error.message, /Action: 'Microsoft\.KeyVault\/vaults\/keys\/read'/);
    assert.ok(r.json.error.message.includes(`${vaultId}/keys/k1`), r.json.error.message);
  });

  test('Crypto Service Encryption User at the vault: read, wrap and unwrap every key, nothing else (Azure SDK)', async () => {
    const cred = iss.credential();
    const a = await assign(vaultId, ROLE.encryptionUser, cred.oid);
    assert.equal(a.status, 201, a.text);
    const kc = new KeyClient(d.vaultUrl(V), cred, sdkOptions(d));
    const key = await kc.getKey('k2');
    const cc = new CryptographyClient(key.id, cred, sdkOptions(d));
    const secret = Buffer.alloc(32, 9);
    const w = await cc.wrapKey('RSA-OAEP-256', secret);
    const u = await cc.unwrapKey('RSA-OAEP-256', w.result);
    assert.ok(Buffer.from(u.result).equals(secret), 'unwrap gives the secret back');
    await assert.rejects(kc.createKey('k3', 'RSA'), (e) => e.statusCode === 403 && /create\/action/.test(e.message));
    await assert.rejects(cc.decrypt({ algorithm: 'RSA-OAEP', ciphertext: w.result }), (e) => e.statusCode === 403);
    await assert.rejects(kc.beginDeleteKey('k2'), (e) => e.statusCode === 403);
  });

  test('an assignment at a key scope reaches that key only', async () => {
    const oid = randomUUID();
    assert.equal((await assign(`${vaultId}/keys/k1`, ROLE.officer, oid)).status, 201);
    assert.equal((await keyCall(oid, 'GET', '/keys/k1')).status, 200);
    assert.equal((await keyCall(oid, 'POST', '/keys/k1/rotate')).status, 200, 'Officer rotates');
    assert.equal((await keyCall(oid, 'GET', '/keys/k2')).status, 403, 'not another key');
    assert.equal((await keyCall(oid, 'GET', '/keys')).status, 403, 'not the vault (list)');
  });

  test('Administrator at the vault: every key operation', async () => {
    const oid = randomUUID();
    assert.equal((await assign(vaultId, ROLE.admin, oid)).status, 201);
    const c = await keyCall(oid, 'POST', '/keys/byadmin/create', { kty: 'RSA' });
    assert.equal(c.status, 200, c.text);
    assert.equal((await keyCall(oid, 'GET', '/keys')).status, 200);
    assert.equal((await keyCall(oid, 'PUT', '/keys/byadmin/rotationpolicy', {
      lifetimeActions: [{ trigger: { timeBeforeExpiry: 'P30D' }, action: { type: 'Notify' } }] })).status, 200);
  });

  test('assignments: list by scope and principal, no duplicates, delete, and ARM refusals', async () => {
    const oid = randomUUID();
    const id = randomUUID();
    const a = await assign(vaultId, ROLE.encryptionUser, oid, id);
    assert.equal(a.status, 201, a.text);
    assert.equal(a.json.id, `${vaultId}${AUTHZ}/roleAssignments/${id}`);
    assert.equal(a.json.properties.scope, vaultId);
    // the same name again: no change; the same triple under another name: 409
    assert.equal((await assign(vaultId, ROLE.encryptionUser, oid, id)).status, 200);
    const dup = await assign(vaultId, ROLE.encryptionUser, oid);
    assert.equal(dup.status, 409);
    assert.equal(dup.json.error.code, 'RoleAssignmentExists');
    // listed at the vault, at its group, at the subscription, and filtered by principal
    const f = encodeURIComponent(`principalId eq '${oid}'`);
    for (const scope of [vaultId, `/subscriptions/${DEFAULT_SUB}/resourceGroups/${G}`, `/subscriptions/${DEFAULT_SUB}`, '']) {
      const l = await admin('GET', `${scope}${AUTHZ}/roleAssignments?$filter=${f}`);
      assert.equal(l.status, 200, l.text);
      assert.deepEqual(l.json.value.map((x) => x.name), [id], `listed at '${scope}'`);
    }
    const other = await admin('GET', `/subscriptions/${DEFAULT_SUB}/resourceGroups/other-rg${AUTHZ}/roleAssignments`);
    assert.deepEqual(other.json.value, []);
    // refusals
    const bad = [
      [await assign(vaultId, '11111111-2222-3333-4444-555555555555', oid), 400, 'RoleDefinitionDoesNotExist'],
      [await assign(`/subscriptions/${DEFAULT_SUB}`, ROLE.admin, oid), 400, 'InvalidScope'],
      [await assign(armId('vault', V, 'other-rg'), ROLE.admin, oid), 404, 'ResourceNotFound'],
      [await assign(`${vaultId}/keys/nosuchkey`, ROLE.admin, oid), 404, 'ResourceNotFound'],
      [await admin('PUT', `${vaultId}${AUTHZ}/roleAssignments/not-a-guid`, {}), 400, 'InvalidRoleAssignmentId'],
      [await admin('PUT', `${vaultId}${AUTHZ}/roleAssignments/${randomUUID()}`, { properties: {} }), 400, 'InvalidRoleAssignmentRequest'],
    ];
    for (const [r, status, code] of bad) {
      assert.equal(r.status, status, r.text);
      assert.equal(r.json.error.code, code);
    }
    // a JWT caller never manages roles, whatever it holds
    const self = await d.request(`${vaultId}${AUTHZ}/roleAssignments`, { token: iss.token({ oid }) });
    assert.equal(self.status, 403);
    assert.equal(self.json.error.innererror.code, 'AdminTokenRequired');
    // delete: the assignment answers; deleting it again is 204
    const del = await admin('DELETE', `${vaultId}${AUTHZ}/roleAssignments/${id}`);
    assert.equal(del.status, 200, del.text);
    assert.equal(del.json.name, id);
    assert.equal((await admin('DELETE', `${vaultId}${AUTHZ}/roleAssignments/${id}`)).status, 204);
    assert.equal((await admin('GET', `${vaultId}${AUTHZ}/roleAssignments/${id}`)).status, 404);
  });

  test('role definitions: the built-in key roles with their published permissions', async () => {
    const all = await admin('GET', `${AUTHZ}/roleDefinitions`);
    assert.equal(all.status, 200);
    const names = all.json.value.map((r) => r.properties.roleName);
    for (const n of ['Key Vault Crypto Service Encryption User', 'Key Vault Crypto Officer', 'Key Vault Administrator'])
      assert.ok(names.includes(n), n);
    const q = encodeURIComponent("roleName eq 'Key Vault Crypto Service Encryption User'");
    const one = await admin('GET', `/subscriptions/${DEFAULT_SUB}${AUTHZ}/roleDefinitions?$filter=${q}`);
    assert.equal(one.json.value.length, 1);
    const r = one.json.value[0];
    assert.equal(r.name, ROLE.encryptionUser);
    assert.equal(r.id, `/subscriptions/${DEFAULT_SUB}${AUTHZ}/roleDefinitions/${ROLE.encryptionUser}`);
    assert.deepEqual(r.properties.permissions[0].dataActions, ['Microsoft.KeyVault/vaults/keys/read',
      'Microsoft.KeyVault/vaults/keys/wrap/action', 'Microsoft.KeyVault/vaults/keys/unwrap/action']);
    assert.equal(r.properties.type, 'BuiltInRole');
    const admin1 = await admin('GET', `${AUTHZ}/roleDefinitions/${ROLE.admin}`);
    assert.deepEqual(admin1.json.properties.permissions[0].dataActions, ['Microsoft.KeyVault/vaults/*']);
  });

  test('back to access policies: the vault follows them again, the roles stay for later', async () => {
    const oid = randomUUID();
    assert.equal((await assign(vaultId, ROLE.admin, oid)).status, 201);
    const p = await admin('PATCH', vaultId, { properties: { enableRbacAuthorization: false } });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.properties.enableRbacAuthorization, false);
    assert.equal((await keyCall(oid, 'GET', '/keys/k1')).status, 403, 'the role no longer counts');
    await admin('PUT', `${vaultId}/accessPolicies/add`, { properties: { accessPolicies: [
      { tenantId: TENANT, objectId: oid, permissions: { keys: ['get'] } }] } });
    assert.equal((await keyCall(oid, 'GET', '/keys/k1')).status, 200, 'the policy does');
    await admin('PATCH', vaultId, { properties: { enableRbacAuthorization: true } });
    assert.equal((await keyCall(oid, 'POST', '/keys/k1/rotate')).status, 200, 'the role counts again');
  });

  // Azure: "When a Key Vault is soft-deleted, ... Azure RBAC roles
  // assignments ... will be deleted. Recovering a soft-deleted Key Vault
  // will not restore these services."
  test('a deleted vault takes its role assignments along; recovered, it has none', async () => {
    const tmp = armId('vault', 'rbacgone1', G);
    assert.equal((await admin('PUT', tmp, { properties: { tenantId: TENANT, enableRbacAuthorization: true } })).status, 201);
    const oid = randomUUID();
    const list = () => d.request(`/keys?${API}`, { vault: 'rbacgone1', token: iss.token({ oid }) });
    assert.equal((await assign(tmp, ROLE.admin, oid)).status, 201);
    assert.equal((await list()).status, 200);
    assert.equal((await admin('DELETE', tmp)).status, 200);
    const mine = `${AUTHZ}/roleAssignments?$filter=${encodeURIComponent(`principalId eq '${oid}'`)}`;
    assert.deepEqual((await admin('GET', mine)).json.value, []);
    const rec = await admin('PUT', tmp, { properties: { createMode: 'recover' } });
    assert.equal(rec.status, 200);
    assert.equal(rec.json.properties.enableRbacAuthorization, true, 'the permission model is the vault\'s');
    assert.deepEqual((await admin('GET', mine)).json.value, []);
    assert.equal((await list()).status, 403);
  });
});

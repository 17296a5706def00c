// control-api.test.mjs -- cofferd's management API without customer-managed
// keys (docs/control-plane.md): the admin token, identities,
// registries and every refusal that needs no vault, deletion that really
// removes the data, and the identity issuer: a token from /msi/token that
// the real keyvaultd accepts (JWKS fetched from cofferd's /jwks).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startCofferd, BUILD, freshDir } from './lib/daemons.mjs';
import { OciClient, randomBuf, assertOciError } from './lib/oci.mjs';
import { registryIds, objectKeys, objectHas, blobKey } from './lib/objects.mjs';
import { startKeyvaultd, sdkOptions, TENANT, RESOURCE, API, unb64u } from './lib/vault.mjs';
import { ManagedIdentityCredential } from '@azure/identity';
import { KeyClient } from '@azure/keyvault-keys';
import { armId } from './lib/arm.mjs';

let d;
before(async () => { d = await startCofferd({ args: ['--tenant', TENANT] }); });
after(async () => { await d?.stop(); });

// One management call. o.token: the bearer (default: the admin token;
// null: none); o.raw: a string body sent as is; o.headers.
async function mgmt(method, path, body, o = {}) {
  const headers = { ...(o.headers || {}) };
  const tok = o.token === undefined ? d.adminToken : o.token;
  if (tok !== null) headers.authorization = `Bearer ${tok}`;
  let payload;
  if (o.raw !== undefined) payload = o.raw;
  else if (body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${d.mgmtUrl}${path}`, { method, headers, body: payload });
  const text = await r.text();
  let json;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: r.status, headers: r.headers, text, json };
}

function assertArmError(r, status, code, what = '') {
  assert.equal(r.status, status, `${what}: status ${r.status}, body ${r.text}`);
  assert.equal(r.json?.error?.code, code, `${what}: ${r.text}`);
  assert.equal(typeof r.json.error.message, 'string');
  assert.ok(r.json.error.message.length > 0);
}

// A refused registry name is told ACR's rule and shown a name that keeps it.
function assertStatesRegistryNameRule(message, name) {
  assert.ok(message.includes(name), `the name is quoted: ${message}`);
  assert.match(message, /5-50 letters and digits/, message);
  const ex = /for example '([^']*)'/.exec(message);
  assert.ok(ex, `an example: ${message}`);
  assert.match(ex[1], /^[A-Za-z0-9]{5,50}$/, `the example keeps the rule: ${message}`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

// What must not change when a request is refused.
async function state() {
  const regs = await mgmt('GET', '/registries');
  const ids = await mgmt('GET', '/identities');
  assert.equal(regs.status, 200);
  assert.equal(ids.status, 200);
  return { regs: regs.json, ids: ids.json, objects: objectKeys(d.dataDir) };
}

test('both listeners are up and logged with their api', async () => {
  const log = await d.waitLog(/"api":"management"/);
  assert.match(log, /"msg":"listening"[^\n]*"api":"data"/);
  assert.match(log, /"msg":"listening"[^\n]*"api":"management"/);
  assert.notEqual(d.port, d.ports.mgmt);
  assert.equal((await fetch(`${d.url}/v2/`)).status, 200);
  assert.equal((await fetch(`${d.mgmtUrl}/jwks`)).status, 200);
  // the data plane does not serve the management API, nor the reverse
  assert.equal((await fetch(`${d.url}/registries`, { headers: { authorization: `Bearer ${d.adminToken}` } })).status, 404);
  assert.equal((await mgmt('GET', '/v2/')).status, 404);
});

test('the admin token: 43 base64url chars in a 0600 file, required by every route but the issuer', async () => {
  assert.match(d.adminToken, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(statSync(join(d.dataDir, 'admin.token')).mode & 0o777, 0o600);
  assert.equal(statSync(join(d.dataDir, 'keys', 'issuer')).mode & 0o777, 0o600);
  for (const [method, path] of [['GET', '/identities'], ['GET', '/registries'], ['PUT', '/identities/nope1'],
    ['PUT', '/registries/nope1'], ['DELETE', '/registries/nope1'], ['GET', '/identities/x1y'],
    ['POST', '/registries/nope1/encryption/check'], ['GET', '/nowhere']]) {
    for (const token of [null, '', 'x'.repeat(43), `${d.adminToken}x`, d.adminToken.slice(0, 42)]) {
      const r = await mgmt(method, path, method === 'PUT' ? {} : undefined, { token });
      assertArmError(r, 401, 'Unauthorized', `${method} ${path} with ${JSON.stringify(token)}`);
    }
  }
  // nothing was created by the refused PUTs
  const s = await state();
  assert.ok(!s.regs.value.some((x) => x.name === 'nope1'));
  assert.ok(!s.ids.value.some((x) => x.name === 'nope1'));
  // the issuer's documents need no credential
  assert.equal((await mgmt('GET', '/jwks', undefined, { token: null })).status, 200);
  assert.equal((await mgmt('GET', '/.well-known/openid-configuration', undefined, { token: null })).status, 200);
});

test('issuer documents: OpenID configuration and JWKS', async () => {
  const oc = (await mgmt('GET', '/.well-known/openid-configuration', undefined, { token: null })).json;
  const iss = `http://127.0.0.1:${d.ports.mgmt}`;
  assert.deepEqual(oc, { issuer: iss, jwks_uri: `${iss}/jwks`, id_token_signing_alg_values_supported: ['ES256'] });
  const jwks = (await mgmt('GET', '/jwks', undefined, { token: null })).json;
  assert.equal(jwks.keys.length, 1);
  const k = jwks.keys[0];
  assert.deepEqual(Object.keys(k).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
  assert.equal(k.kty, 'EC');
  assert.equal(k.crv, 'P-256');
  assert.equal(k.alg, 'ES256');
  assert.equal(k.use, 'sig');
  assert.match(k.kid, /^[0-9a-f]{16}$/);
  assert.match(d.log(), new RegExp(`"kid":"${k.kid}"`));
});

test('identities: PUT creates (201) then keeps (200), GET, list by name, DELETE', async () => {
  const a = await mgmt('PUT', '/identities/zeta-mi_1', {});
  assert.equal(a.status, 201, a.text);
  assert.deepEqual(Object.keys(a.json).sort(), ['clientId', 'id', 'location', 'name', 'principalId', 'resourceGroup', 'tenantId', 'type']);
  assert.equal(a.json.resourceGroup, 'default', 'the legacy path creates in the default group');
  assert.equal(a.json.id, armId('identity', 'zeta-mi_1'));
  assert.equal(a.json.name, 'zeta-mi_1');
  assert.equal(a.json.type, 'Microsoft.ManagedIdentity/userAssignedIdentities');
  assert.match(a.json.clientId, UUID);
  assert.match(a.json.principalId, UUID);
  assert.notEqual(a.json.clientId, a.json.principalId);
  assert.equal(a.json.tenantId, TENANT);
  const again = await mgmt('PUT', '/identities/zeta-mi_1', undefined);
  assert.equal(again.status, 200);
  assert.deepEqual(again.json, a.json, 'unchanged');
  const b = await mgmt('PUT', '/identities/alpha1', { location: 'ignored', tags: { x: 1 } });
  assert.equal(b.status, 201, 'unknown properties are ignored');
  assert.deepEqual((await mgmt('GET', '/identities/zeta-mi_1')).json, a.json);
  const list = (await mgmt('GET', '/identities')).json.value;
  const names = list.map((x) => x.name);
  assert.deepEqual(names, [...names].sort(), 'sorted by name');
  assert.ok(names.includes('alpha1') && names.includes('zeta-mi_1'));
  assert.equal((await mgmt('DELETE', '/identities/alpha1')).status, 200);
  assertArmError(await mgmt('GET', '/identities/alpha1'), 404, 'ResourceNotFound');
  assertArmError(await mgmt('DELETE', '/identities/alpha1'), 404, 'ResourceNotFound');
  // re-created: new ids
  const c = await mgmt('PUT', '/identities/alpha1', {});
  assert.equal(c.status, 201);
  assert.notEqual(c.json.clientId, b.json.clientId);
  assert.equal((await mgmt('DELETE', '/identities/alpha1')).status, 200);
});

test('identities: invalid names and bodies are refused and create nothing', async () => {
  const before = await state();
  for (const name of ['ab', '-abc', '_abc', 'a.bc', 'a%20b', 'x'.repeat(129)]) {
    assertArmError(await mgmt('PUT', `/identities/${name}`, {}), 400, 'InvalidName', name);
  }
  assertArmError(await mgmt('PUT', '/identities/okname', undefined, { raw: '{"a":' }), 400, 'InvalidRequest');
  assertArmError(await mgmt('PUT', '/identities/okname', undefined, { raw: '[1]' }), 400, 'InvalidRequest');
  assertArmError(await mgmt('PUT', '/identities/okname', undefined, { raw: '{"a":1,"a":2}' }), 400, 'InvalidRequest');
  assert.deepEqual(await state(), before);
  assert.equal((await mgmt('PUT', `/identities/${'x'.repeat(128)}`, {})).status, 201, '128 chars is the limit');
  assert.equal((await mgmt('DELETE', `/identities/${'x'.repeat(128)}`)).status, 200);
});

test('registries: create Basic, Standard, Premium (default) and read them back', async () => {
  const mi = (await mgmt('PUT', '/identities/regmi1', {})).json;
  const basic = await mgmt('PUT', '/registries/BasicReg01', { sku: { name: 'Basic' } });
  assert.equal(basic.status, 201, basic.text);
  const j = basic.json;
  assert.equal(j.id, armId('registry', 'basicreg01'));
  assert.equal(j.name, 'basicreg01', 'stored lower-case');
  assert.equal(j.type, 'Microsoft.ContainerRegistry/registries');
  assert.deepEqual(j.sku, { name: 'Basic', tier: 'Basic' });
  assert.deepEqual(j.identity, { type: 'None' });
  assert.equal(j.properties.loginServer, `127.0.0.1:${d.port}/basicreg01`);
  assert.match(j.properties.creationDate, RFC3339);
  assert.equal(j.properties.provisioningState, 'Succeeded');
  assert.deepEqual(j.properties.encryption, { status: 'disabled', keyVaultProperties: null });

  const std = await mgmt('PUT', '/registries/stdreg01', {
    sku: { name: 'standard' },
    identity: { type: 'SystemAssigned, UserAssigned', userAssignedIdentities: { '/identities/regmi1': {} } },
  });
  assert.equal(std.status, 201, std.text);
  assert.deepEqual(std.json.sku, { name: 'Standard', tier: 'Standard' });
  const id = std.json.identity;
  assert.equal(id.type, 'SystemAssigned, UserAssigned');
  assert.match(id.principalId, UUID);
  assert.match(id.clientId, UUID);
  assert.equal(id.tenantId, TENANT);
  assert.deepEqual(id.userAssignedIdentities, {
    [armId('identity', 'regmi1')]: { principalId: mi.principalId, clientId: mi.clientId },
  });

  const prem = await mgmt('PUT', '/registries/premreg01', undefined);
  assert.equal(prem.status, 201, prem.text);
  assert.deepEqual(prem.json.sku, { name: 'Premium', tier: 'Premium' });

  assert.deepEqual((await mgmt('GET', '/registries/PremReg01')).json, prem.json, 'names are case-insensitive');
  assertArmError(await mgmt('PUT', '/registries/premreg01', {}), 409, 'AlreadyExists');
  assertArmError(await mgmt('PUT', '/registries/PREMREG01', { sku: { name: 'Basic' } }), 409, 'AlreadyExists');
  assert.equal((await mgmt('GET', '/registries/premreg01')).json.sku.name, 'Premium', 'unchanged');

  const list = (await mgmt('GET', '/registries')).json.value;
  const names = list.map((x) => x.name);
  assert.deepEqual(names, [...names].sort());
  for (const n of ['basicreg01', 'stdreg01', 'premreg01']) assert.ok(names.includes(n), n);
  assert.deepEqual(list.find((x) => x.name === 'stdreg01'), std.json);

  // an identity in use cannot be deleted
  assertArmError(await mgmt('DELETE', '/identities/regmi1'), 409, 'IdentityInUse');
  // PATCH: sku and identities
  const p1 = await mgmt('PATCH', '/registries/basicreg01', { sku: { name: 'Premium' } });
  assert.equal(p1.status, 200, p1.text);
  assert.equal(p1.json.sku.name, 'Premium');
  const p2 = await mgmt('PATCH', '/registries/stdreg01', { identity: { type: 'SystemAssigned' } });
  assert.equal(p2.status, 200, p2.text);
  assert.equal(p2.json.identity.type, 'SystemAssigned');
  assert.equal(p2.json.identity.clientId, id.clientId, 'the system identity is kept');
  assert.equal(p2.json.identity.userAssignedIdentities, undefined);
  const p3 = await mgmt('PATCH', '/registries/stdreg01', { identity: { type: 'None' } });
  assert.deepEqual(p3.json.identity, { type: 'None' });
  const p4 = await mgmt('PATCH', '/registries/stdreg01', { identity: { type: 'SystemAssigned' } });
  assert.notEqual(p4.json.identity.clientId, id.clientId, 'removing the system identity deleted it');
  assert.equal((await mgmt('DELETE', '/identities/regmi1')).status, 200, 'no longer in use');

  // no CMK here: the encryption check and CMK changes are refused
  assertArmError(await mgmt('POST', '/registries/premreg01/encryption/check'), 400, 'CmkNotEnabled');
  assertArmError(await mgmt('PATCH', '/registries/premreg01', {
    properties: { encryption: { status: 'enabled', keyVaultProperties: { keyIdentifier: 'https://kv.example/keys/k', identity: mi.clientId } } },
  }), 400, 'CmkOnlyAtCreation');
  assert.equal((await mgmt('PATCH', '/registries/premreg01', { properties: { encryption: { status: 'disabled' } } })).status, 200);
  assertArmError(await mgmt('PATCH', '/registries/nosuchreg', {}), 404, 'ResourceNotFound');
  assertArmError(await mgmt('GET', '/registries/nosuchreg'), 404, 'ResourceNotFound');
  assertArmError(await mgmt('DELETE', '/registries/nosuchreg'), 404, 'ResourceNotFound');
  for (const n of ['basicreg01', 'stdreg01', 'premreg01']) assert.equal((await mgmt('DELETE', `/registries/${n}`)).status, 200);
});

test('registries: invalid names, skus and bodies are 400 and create nothing', async () => {
  const mi = (await mgmt('PUT', '/identities/refusemi', {})).json;
  const before = await state();
  const kid = 'https://kv1.vault.localhost:8443/keys/k1';
  const cmk = (kvp, extra = {}) => ({
    identity: { type: 'UserAssigned', userAssignedIdentities: { '/identities/refusemi': {} } },
    properties: { encryption: { status: 'enabled', keyVaultProperties: kvp } },
    ...extra,
  });
  const cases = [
    ['abcd', {}, 'InvalidName'],
    ['my-registry', {}, 'InvalidName'],
    ['my_registry', {}, 'InvalidName'],
    ['r'.repeat(51), {}, 'InvalidName'],
    ['goodname1', { sku: { name: 'Gold' } }, 'InvalidSku'],
    ['goodname1', { sku: {} }, 'InvalidSku'],
    ['goodname1', { sku: 'Premium' }, 'InvalidRequest'],
    ['goodname1', { sku: { name: 3 } }, 'InvalidRequest'],
    ['goodname1', { identity: 'UserAssigned' }, 'InvalidRequest'],
    ['goodname1', { identity: { type: 'Managed' } }, 'InvalidRequest'],
    ['goodname1', { identity: { type: 'UserAssigned' } }, 'InvalidRequest'],
    ['goodname1', { identity: { type: 'UserAssigned', userAssignedIdentities: { refusemi: {} } } }, 'InvalidRequest'],
    ['goodname1', { identity: { type: 'UserAssigned', userAssignedIdentities: { '/identities/ghost1': {} } } }, 'IdentityNotFound'],
    ['goodname1', { identity: { type: 'None', userAssignedIdentities: { '/identities/refusemi': {} } } }, 'InvalidRequest'],
    ['goodname1', { properties: [] }, 'InvalidRequest'],
    ['goodname1', { properties: { encryption: { status: 'maybe' } } }, 'InvalidRequest'],
    ['goodname1', cmk({ keyIdentifier: kid, identity: mi.clientId }, { sku: { name: 'Basic' } }), 'CmkRequiresPremium'],
    ['goodname1', cmk({ keyIdentifier: kid, identity: mi.clientId }, { sku: { name: 'Standard' } }), 'CmkRequiresPremium'],
    ['goodname1', cmk({ keyIdentifier: kid }), 'IdentityRequired'],
    ['goodname1', { properties: { encryption: { status: 'enabled' } } }, 'IdentityRequired'],
    ['goodname1', cmk({ keyIdentifier: kid, identity: '11111111-2222-4333-8444-555555555555' }), 'IdentityRequired'],
    ['goodname1', cmk({ keyIdentifier: kid, identity: 'system' }), 'IdentityRequired'],
    ['goodname1', cmk({ keyIdentifier: kid, identity: 'refusemi' }), 'IdentityRequired'],
    ['goodname1', cmk({ keyIdentifier: 'http://kv1/keys/k1', identity: mi.clientId }), 'InvalidKeyIdentifier'],
    ['goodname1', cmk({ keyIdentifier: 'https://kv1/keys/k1/123', identity: mi.clientId }), 'InvalidKeyIdentifier'],
    ['goodname1', cmk({ keyIdentifier: 'https://kv1/secrets/k1', identity: mi.clientId }), 'InvalidKeyIdentifier'],
    ['goodname1', cmk({ identity: mi.clientId }), 'InvalidKeyIdentifier'],
    ['goodname1', cmk({ keyIdentifier: 42, identity: mi.clientId }), 'InvalidRequest'],
  ];
  for (const [name, body, code] of cases) {
    const r = await mgmt('PUT', `/registries/${name}`, body);
    assertArmError(r, 400, code, `${name} ${JSON.stringify(body)}`);
    if (code === 'InvalidName') assertStatesRegistryNameRule(r.json.error.message, name);
  }
  for (const raw of ['not json', '[]', '"Premium"', '{"sku":{"name":"Basic"},"sku":{"name":"Premium"}}']) {
    assertArmError(await mgmt('PUT', '/registries/goodname1', undefined, { raw }), 400, 'InvalidRequest', raw);
  }
  const big = JSON.stringify({ tags: { x: 'y'.repeat(70 * 1024) } });
  const r = await mgmt('PUT', '/registries/goodname1', undefined, { raw: big });
  assertArmError(r, 413, 'RequestTooLarge');
  assert.deepEqual(await state(), before, 'nothing created');
  assert.equal((await mgmt('DELETE', '/identities/refusemi')).status, 200);
});

test('DELETE removes the registry data; the name can be reused', async () => {
  assert.equal((await mgmt('PUT', '/registries/delme01', {})).status, 201);
  const c = new OciClient(d.url, 'delme01/app');
  const blob = randomBuf(100 * 1024);
  const digest = await c.pushBlob(blob);
  assert.equal((await c.get(`/blobs/${digest}`)).status, 200);
  const id = registryIds(d.dataDir).find((x) => objectHas(d.dataDir, blobKey(x, digest)));
  assert.ok(id, 'the sealed blob is stored');

  const del = await mgmt('DELETE', '/registries/delme01');
  assert.equal(del.status, 200, del.text);
  assert.deepEqual(objectKeys(d.dataDir, `registries/${id}/`), [], 'the registry\'s objects are gone');
  assertArmError(await mgmt('GET', '/registries/delme01'), 404, 'ResourceNotFound');
  assertOciError(await c.get(`/blobs/${digest}`), 404, 'NAME_UNKNOWN');
  const cat = await fetch(`${d.url}/v2/_catalog`).then((x) => x.json());
  assert.ok(!cat.repositories.includes('delme01/app'), 'gone from the catalog');

  // same name again: a new, empty registry
  const again = await mgmt('PUT', '/registries/delme01', { sku: { name: 'Basic' } });
  assert.equal(again.status, 201, again.text);
  const r = await c.get(`/blobs/${digest}`);
  assert.equal(r.status, 404);
  const digest2 = await c.pushBlob(blob);
  assert.equal(digest2, digest);
  assert.deepEqual(Buffer.from((await c.get(`/blobs/${digest}`)).body), blob);
  assert.equal((await mgmt('DELETE', '/registries/delme01')).status, 200);
});

test('/msi/token: a token keyvaultd accepts for that identity', async () => {
  const iss = `http://127.0.0.1:${d.ports.mgmt}`;
  const kv = await startKeyvaultd({ issuers: [{ issuer: iss, jwks_url: `${iss}/jwks` }] });
  try {
    await kv.admin.createVault('ctlkv1', { enablePurgeProtection: true });
    const mi = (await mgmt('PUT', '/identities/vaultmi1', {})).json;
    const other = (await mgmt('PUT', '/identities/vaultmi2', {})).json;
    await kv.admin.allow('ctlkv1', mi.principalId, ['get', 'create', 'wrapKey', 'unwrapKey']);

    const q = `resource=${encodeURIComponent(`${RESOURCE}/.default`)}&api-version=2019-08-01`;
    const t = await mgmt('GET', `/msi/token?${q}&client_id=${mi.clientId}`, undefined,
      { token: null, headers: { 'X-IDENTITY-HEADER': d.adminToken } });
    assert.equal(t.status, 200, t.text);
    assert.deepEqual(Object.keys(t.json).sort(), ['access_token', 'client_id', 'expires_on', 'resource', 'token_type']);
    assert.equal(t.json.token_type, 'Bearer');
    assert.equal(t.json.resource, RESOURCE);
    assert.equal(t.json.client_id, mi.clientId);
    const [h, p] = t.json.access_token.split('.').map((x, i) => (i < 2 ? JSON.parse(unb64u(x).toString()) : x));
    const kid = (await mgmt('GET', '/jwks', undefined, { token: null })).json.keys[0].kid;
    assert.deepEqual(h, { alg: 'ES256', typ: 'JWT', kid });
    assert.equal(p.iss, iss);
    assert.equal(p.sub, mi.principalId);
    assert.equal(p.oid, mi.principalId);
    assert.equal(p.appid, mi.clientId);
    assert.equal(p.tid, TENANT);
    assert.equal(p.aud, RESOURCE);
    assert.equal(p.nbf, p.iat);
    assert.equal(p.exp, p.iat + 3600);
    assert.equal(t.json.expires_on, String(p.exp));

    // the vault accepts it: create a key and wrap with it as the identity
    const vault = { vault: 'ctlkv1' };
    let r = await kv.request(`/keys/ctlkey/create?${API}`, { ...vault, method: 'POST', token: t.json.access_token, body: { kty: 'RSA', key_size: 2048 } });
    assert.equal(r.status, 200, r.text);
    const version = r.json.key.kid.split('/').pop();
    r = await kv.request(`/keys/ctlkey?${API}`, { ...vault, token: t.json.access_token });
    assert.equal(r.status, 200, r.text);
    r = await kv.request(`/keys/ctlkey/${version}/wrapkey?${API}`, { ...vault, method: 'POST', token: t.json.access_token,
      body: { alg: 'RSA-OAEP-256', value: Buffer.alloc(32, 7).toString('base64url') } });
    assert.equal(r.status, 200, r.text);
    const audit = await kv.admin.audit({ vault: 'ctlkv1', objectId: mi.principalId });
    assert.ok(audit.length >= 3, 'the vault saw the identity as the caller');

    // the Azure SDK's ManagedIdentityCredential (App Service source) against
    // cofferd, its token used by the SDK's KeyClient against keyvaultd
    process.env.IDENTITY_ENDPOINT = `${d.mgmtUrl}/msi/token`;
    process.env.IDENTITY_HEADER = d.adminToken;
    try {
      const cred = new ManagedIdentityCredential({ clientId: mi.clientId });
      const client = new KeyClient(kv.vaultUrl('ctlkv1'), cred, sdkOptions(kv));
      const k = await client.getKey('ctlkey');
      assert.equal(k.name, 'ctlkey');
      assert.equal(k.properties.version, version);
    } finally {
      delete process.env.IDENTITY_ENDPOINT;
      delete process.env.IDENTITY_HEADER;
    }

    // the same lookups by principal_id and mi_res_id; another identity has
    // no policy: authenticated, then refused
    for (const sel of [`principal_id=${mi.principalId}`, 'mi_res_id=/identities/vaultmi1']) {
      const t2 = await mgmt('GET', `/msi/token?${q}&${sel}`, undefined, { token: null, headers: { 'X-IDENTITY-HEADER': d.adminToken } });
      assert.equal(t2.status, 200, `${sel}: ${t2.text}`);
      assert.equal(t2.json.client_id, mi.clientId);
      r = await kv.request(`/keys/ctlkey?${API}`, { ...vault, token: t2.json.access_token });
      assert.equal(r.status, 200, r.text);
    }
    const t3 = await mgmt('GET', `/msi/token?${q}&client_id=${other.clientId}`, undefined, { token: null, headers: { 'X-IDENTITY-HEADER': d.adminToken } });
    r = await kv.request(`/keys/ctlkey?${API}`, { ...vault, token: t3.json.access_token });
    assert.equal(r.status, 403, r.text);
    assert.match(r.text, new RegExp(other.principalId));
    // a token for another audience is refused by the vault
    const t4 = await mgmt('GET', `/msi/token?resource=https://management.azure.com/&client_id=${mi.clientId}`, undefined, { token: null, headers: { 'X-IDENTITY-HEADER': d.adminToken } });
    assert.equal(t4.status, 200);
    r = await kv.request(`/keys/ctlkey?${API}`, { ...vault, token: t4.json.access_token });
    assert.equal(r.status, 401, r.text);

    // refusals of the token endpoint
    const hdr = { 'X-IDENTITY-HEADER': d.adminToken };
    assertArmError(await mgmt('GET', `/msi/token?${q}&client_id=${mi.clientId}`, undefined, { token: null }), 401, 'Unauthorized');
    assertArmError(await mgmt('GET', `/msi/token?${q}&client_id=${mi.clientId}`, undefined, { token: null, headers: { 'X-IDENTITY-HEADER': 'nope' } }), 401, 'Unauthorized');
    assertArmError(await mgmt('GET', `/msi/token?client_id=${mi.clientId}`, undefined, { token: null, headers: hdr }), 400, 'InvalidRequest');
    assertArmError(await mgmt('GET', `/msi/token?${q}`, undefined, { token: null, headers: hdr }), 400, 'InvalidRequest');
    assertArmError(await mgmt('GET', `/msi/token?${q}&client_id=11111111-2222-4333-8444-555555555555`, undefined, { token: null, headers: hdr }), 400, 'InvalidRequest');
    assertArmError(await mgmt('GET', `/msi/token?${q}&mi_res_id=/identities/ghost1`, undefined, { token: null, headers: hdr }), 400, 'InvalidRequest');
    assertArmError(await mgmt('GET', `/msi/token?${q}&client_id=${mi.clientId}&principal_id=${mi.principalId}`, undefined, { token: null, headers: hdr }), 400, 'InvalidRequest');

    // deleting the identity ends its tokens' issuance
    assert.equal((await mgmt('DELETE', '/identities/vaultmi2')).status, 200);
    assertArmError(await mgmt('GET', `/msi/token?${q}&client_id=${other.clientId}`, undefined, { token: null, headers: hdr }), 400, 'InvalidRequest');
    assert.equal((await mgmt('DELETE', '/identities/vaultmi1')).status, 200);
  } finally {
    await kv.stop();
  }
});

test('a restart keeps the admin token and the issuer key (same kid)', async () => {
  const kid = (await mgmt('GET', '/jwks', undefined, { token: null })).json.keys[0].kid;
  const token = d.adminToken;
  assert.equal((await d.stop()).code, 0);
  d = await startCofferd({ dataDir: d.dataDir, args: ['--tenant', TENANT] });
  assert.equal(d.adminToken, token);
  assert.equal((await mgmt('GET', '/jwks', undefined, { token: null })).json.keys[0].kid, kid);
  assert.equal((await mgmt('GET', '/registries')).status, 200);
});

test('bad control-plane flags: exit 2 with a message, nothing started', () => {
  const dir = freshDir('coffer-flags-');
  const run = (...args) => spawnSync(join(BUILD, 'cofferd'), ['--data', join(dir, 'd'), '--listen', '127.0.0.1:0',
    '--mgmt-listen', '127.0.0.1:0', ...args], { encoding: 'utf8', timeout: 10000 });
  for (const [args, re] of [
    [['--tenant', 'not-a-uuid'], /--tenant wants a UUID/],
    [['--issuer', 'ftp://x'], /--issuer wants an http/],
    [['--key-check-interval', '0'], /--key-check-interval wants 1\.\.86400/],
    [['--key-check-interval', '86401'], /--key-check-interval wants/],
    [['--vault-timeout', '301'], /--vault-timeout wants 1\.\.300/],
    [['--vault-ca', join(dir, 'missing.pem')], /--vault-ca/],
  ]) {
    const r = run(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  assert.ok(!existsSync(join(dir, 'd')), 'no data directory made');
  const help = spawnSync(join(BUILD, 'cofferd'), ['--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  for (const f of ['--mgmt-listen', '--issuer', '--tenant', '--vault-ca', '--key-check-interval', '--vault-timeout']) {
    assert.ok(help.stdout.includes(f), f);
  }
});

// vault-network: a vault's network rules (the Key Vault firewall,
// properties.networkAcls) enforced by keyvaultd on the keys data plane,
// seen through the Azure SDK from npm: with defaultAction Deny only client
// addresses in ipRules get through, and, with bypass AzureServices,
// trusted services (callers of an issuer configured "trusted_service":
// cofferd in a real deployment). A refusal is Azure's: 403 Forbidden /
// ForbiddenByFirewall, "Client address is not authorized and caller is not
// a trusted service." with the client address. The management API is
// never subject to the rules. A soft-deleted vault answers VaultNotFound
// saying so. Other client addresses come from 127.0.0.2 (this host's too).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { KeyClient, CryptographyClient } from '@azure/keyvault-keys';
import { createIssuer, startKeyvaultd, sdkOptions, makeAgent, TENANT } from './lib/vault.mjs';

const VAULT = 'netkv';
let d, plain, trusted, caller, service, other, url;

// An SDK client of vault netkv for credential cred; from: the client's address.
const client = (cred, from) => new KeyClient(url, cred, sdkOptions(d, from ? { agent: from } : {}));

// Asserts that p fails with the firewall's 403 naming client address addr.
async function refused(p, addr, what) {
  await assert.rejects(p, (e) => {
    assert.equal(e.statusCode, 403, `${what}: ${e.message}`);
    assert.equal(e.code, 'Forbidden', what);
    assert.equal(e.details?.error?.innerError?.code, 'ForbiddenByFirewall', what);
    assert.match(e.message, /^Client address is not authorized and caller is not a trusted service\.\r\nClient address: /, what);
    assert.ok(e.message.includes(`Client address: ${addr}\r\n`), `${what}: ${e.message}`);
    assert.ok(e.message.includes(`Vault: ${VAULT}`), what);
    return true;
  });
}

const acls = async (networkAcls) => (await d.admin.patchVault(VAULT, { networkAcls })).properties.networkAcls;

before(async () => {
  plain = createIssuer({ issuer: 'https://plain.issuer.test/' });
  trusted = createIssuer({ issuer: 'https://cofferd.issuer.test/' });
  d = await startKeyvaultd({ issuers: [plain, { ...trusted.config(), trusted_service: true }] });
  url = d.vaultUrl(VAULT);
  await d.admin.createVault(VAULT, { enablePurgeProtection: true });
  caller = plain.credential();
  service = trusted.credential();
  for (const c of [caller, service]) await d.admin.allow(VAULT, c.oid, ['get', 'create', 'wrapKey', 'unwrapKey']);
  await client(caller).createRsaKey('netkey', { keySize: 2048 });
  other = makeAgent(d.ca, { localAddress: '127.0.0.2' });
});
after(async () => { other?.destroy(); await d?.stop(); });

test('a new vault lets every address through; its rules read like ARM', async () => {
  const v = await d.admin.getVault(VAULT);
  assert.deepEqual(v.properties.networkAcls, { bypass: 'AzureServices', defaultAction: 'Allow', ipRules: [], virtualNetworkRules: [] });
  await client(caller).getKey('netkey');
  await client(caller, other).getKey('netkey');
});

test('Deny: refused with ForbiddenByFirewall until the client address is allowed', async () => {
  await acls({ defaultAction: 'Deny', bypass: 'None' });
  await refused(client(caller).getKey('netkey'), '127.0.0.1', 'get, no rule');
  // the CMK path: the SDK's CryptographyClient, and a vault-side unwrap
  await refused(new CryptographyClient(`${url}/keys/netkey`, caller, sdkOptions(d)).unwrapKey('RSA-OAEP-256', randomBytes(256)),
    '127.0.0.1', 'unwrap, no rule');
  // the admin token is no exception on the keys API
  const r = await d.request(`/keys/netkey?api-version=7.4`, { admin: true, vault: VAULT });
  assert.equal(r.status, 403);
  assert.equal(r.json.error.innererror.code, 'ForbiddenByFirewall');
  // the management API is never subject to the rules
  assert.deepEqual((await acls({ ipRules: [{ value: '127.0.0.1' }, { value: '10.1.0.0/16' }] })).ipRules,
    [{ value: '127.0.0.1/32' }, { value: '10.1.0.0/16' }]);
  const k = await client(caller).getKey('netkey');
  const cc = new CryptographyClient(k.id, caller, sdkOptions(d));
  const secret = randomBytes(32);
  const w = await cc.wrapKey('RSA-OAEP-256', secret);
  assert.deepEqual(Buffer.from((await cc.unwrapKey('RSA-OAEP-256', w.result)).result), secret);
  // another address of this host is not in the rules
  await refused(client(caller, other).getKey('netkey'), '127.0.0.2', 'get from 127.0.0.2');
  await acls({ ipRules: [{ value: '127.0.0.0/8' }] });
  await client(caller, other).getKey('netkey');
  await acls({ ipRules: [] });
  await refused(client(caller, other).getKey('netkey'), '127.0.0.2', 'rule removed');
});

test('bypass AzureServices lets a trusted service through Deny; bypass None does not', async () => {
  await acls({ defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [] });
  await client(service).getKey('netkey');
  await client(service, other).getKey('netkey');
  await refused(client(caller).getKey('netkey'), '127.0.0.1', 'an ordinary caller');
  await acls({ bypass: 'None' });
  await refused(client(service).getKey('netkey'), '127.0.0.1', 'trusted service, bypass None');
  // a firewall passed is no permission: the access policy still decides
  await acls({ bypass: 'AzureServices' });
  const stranger = trusted.credential();
  await assert.rejects(client(stranger).getKey('netkey'), (e) => e.details?.error?.innerError?.code === 'ForbiddenByPolicy');
  await acls({ defaultAction: 'Allow' });
  await client(caller, other).getKey('netkey');
});

test('rules the vault cannot enforce are refused, changing nothing', async () => {
  for (const bad of [{ defaultAction: 'Block' }, { ipRules: [{ value: '10.0.0.1/8' }] },
    { ipRules: [{ value: '2001:db8::1' }] }, { virtualNetworkRules: [{ id: '/subnets/x' }] }]) {
    const r = await d.request(`/vaults/${VAULT}`, { method: 'PATCH', admin: true, body: { properties: { networkAcls: bad } } });
    assert.equal(r.status, 400, JSON.stringify(bad));
    assert.equal(r.json.error.code, 'BadParameter');
    assert.match(r.json.error.message, /^properties\.networkAcls/);
  }
  assert.equal((await d.admin.getVault(VAULT)).properties.networkAcls.defaultAction, 'Allow');
});

test('a soft-deleted vault: the SDK gets VaultNotFound saying so; recovered, it works', async () => {
  await d.admin.deleteVault(VAULT);
  await assert.rejects(client(caller).getKey('netkey'), (e) => {
    assert.equal(e.statusCode, 404);
    assert.equal(e.code, 'VaultNotFound');
    assert.match(e.message, new RegExp(`^The vault '${VAULT}' is soft-deleted \\(deleted at \\S+Z, purged at \\S+Z\\): recover it`));
    return true;
  });
  const del = await d.admin.call('GET', `/deletedVaults/${VAULT}`);
  // ARM's DeletedVaultProperties (location, tags and the ARM vaultId: arm.c)
  assert.deepEqual(Object.keys(del.properties).sort(),
    ['deletionDate', 'location', 'purgeProtectionEnabled', 'scheduledPurgeDate', 'tags', 'vaultId']);
  assert.equal(del.type, 'Microsoft.KeyVault/deletedVaults');
  const days = (Date.parse(del.properties.scheduledPurgeDate) - Date.parse(del.properties.deletionDate)) / 86400000;
  assert.equal(days, 90, 'the vault\'s retention');
  const early = await d.request(`/deletedVaults/${VAULT}/purge`, { method: 'POST', admin: true });
  assert.equal(early.status, 405);
  const rec = await d.request(`/vaults/${VAULT}`, { method: 'PUT', admin: true, body: { properties: { createMode: 'recover', tenantId: TENANT } } });
  assert.equal(rec.status, 200, rec.text);
  await client(caller).getKey('netkey');
});

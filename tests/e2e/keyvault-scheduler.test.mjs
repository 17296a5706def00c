// keyvault-scheduler.test.mjs -- rotation policies are carried out by the
// scheduler inside keyvaultd: a Rotate action "PT2S" after creation adds a
// new version by itself (same key type and size), and the old version
// still unwraps what it wrapped. rotation_min_s is lowered so the test
// takes seconds, not the 7 days Azure enforces.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, publicEncrypt, constants } from 'node:crypto';
import { KeyClient, CryptographyClient } from '@azure/keyvault-keys';
import { createIssuer, startKeyvaultd, sdkOptions, publicKeyOf, ALL_KEY_PERMISSIONS } from './lib/vault.mjs';

let d, cred, client;

before(async () => {
  const issuer = createIssuer();
  d = await startKeyvaultd({ issuers: [issuer], config: { scheduler_interval_s: 1, rotation_min_s: 1 } });
  cred = issuer.credential();
  await d.admin.allow('default', cred.oid, ALL_KEY_PERMISSIONS);
  client = new KeyClient(d.vaultUrl('default'), cred, sdkOptions(d));
});
after(async () => { await d?.stop(); });

async function versions(name) {
  const out = [];
  for await (const p of client.listPropertiesOfKeyVersions(name)) out.push(p);
  return out;
}

test('a Rotate lifetime action makes the scheduler add a version; the old one still unwraps', async () => {
  const k1 = await client.createRsaKey('auto-rotated', { keySize: 2048 });
  const secret = randomBytes(32);
  const wrapped = publicEncrypt({ key: publicKeyOf(k1), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, secret);
  const policy = await client.updateKeyRotationPolicy('auto-rotated', {
    lifetimeActions: [{ action: 'Rotate', timeAfterCreate: 'PT2S' }],
  });
  assert.equal(policy.lifetimeActions[0].action, 'Rotate');
  assert.equal(policy.lifetimeActions[0].timeAfterCreate, 'PT2S');

  let vs = [];
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    vs = await versions('auto-rotated');
    if (vs.length >= 2) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok(vs.length >= 2, `expected the scheduler to rotate within 20 s; versions: ${vs.length}`);
  const latest = await client.getKey('auto-rotated');
  assert.notEqual(latest.properties.version, k1.properties.version);
  assert.equal(latest.keyType, 'RSA');
  assert.equal(latest.key.n.length, k1.key.n.length);

  const old = new CryptographyClient(k1.id, cred, sdkOptions(d));
  const r = await old.unwrapKey('RSA-OAEP-256', wrapped);
  assert.deepEqual(Buffer.from(r.result), secret);

  const audit = await d.admin.audit({ operation: 'KeyRotateByPolicy' });
  const ev = audit.find((a) => a.key === 'auto-rotated' && a.version === latest.properties.version);
  assert.ok(ev, `the automatic rotation is in the audit log: ${JSON.stringify(audit)}`);
  assert.equal(ev.status, 200);
});

// cmk-revocation: revoking a customer-managed key blocks the registry's
// data, and restoring it gives everything back (reference: acr-cmk.md §2.4,
// §3.4; docs/cmk.md "Revocation and restore", docs/registry.md "Key
// availability"),
// against the real keyvaultd and cofferd. Three ways to revoke, each undone:
//   - the identity's access policy removed, then given back;
//   - the key disabled, then enabled;
//   - the key deleted (soft delete), then recovered.
// While revoked, within seconds (background key checks): manifest and blob
// reads and blob writes answer 403 DENIED naming the registry and the
// cause, skopeo cannot pull, encryption shows keyStatus unavailable and a
// lastError; the tags list still answers. Restored: the same bytes pull.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCmkStack, waitFor } from './lib/cmk.mjs';
import { buildImage, put } from './lib/images.mjs';
import { assertOciError, sha256 } from './lib/oci.mjs';

describe('cmk-revocation', { timeout: 120000 }, () => {
  let s;
  let mi;
  let key;
  let layout;
  const REG = 'cmkrevoke1';

  before(async () => {
    s = await startCmkStack();
    await s.createVault('cmkvault');
    mi = await s.createIdentity('mi-revoke');
    await s.grant('cmkvault', mi.principalId);
    key = await s.createKey('cmkvault', 'revk');
    const r = await s.createCmkRegistry(REG, { keyId: key.id, identity: mi });
    assert.equal(r.status, 201, `create: ${r.text}`);
    layout = await buildImage({
      tag: 'v1',
      layers: [(x) => { put(x, 'etc/motd', 'cmk revocation\n'); }, (x) => { put(x, 'blob.bin', Buffer.alloc(200000, 3)); }],
    });
    await s.push(layout, REG);
    await s.pullSame(layout, REG, 'pull before any revocation');
  });
  after(async () => { await s?.stop(); });

  // Waits for the background key check to lock the registry, then checks
  // what a user sees while it is locked.
  async function assertLocked(how) {
    const p = await waitFor(`${how}: keyStatus unavailable`, async () => {
      const k = await s.kvp(REG);
      return k.keyStatus === 'unavailable' && k;
    });
    assert.equal(typeof p.lastError, 'string', `${how}: lastError is set`);
    assert.ok(p.lastError.length > 0, `${how}: lastError is not empty`);

    // The row and the data plane change in one check: allow that check to finish.
    const { manifest, blob } = await waitFor(`${how}: data plane answers 403`, async () => {
      const x = await s.rawReads(layout, REG);
      assertOciError(x.manifest, 403, 'DENIED', `${how}: manifest read`);
      assertOciError(x.blob, 403, 'DENIED', `${how}: blob read`);
      return x;
    }, { timeoutMs: 5000 });
    for (const [what, r] of [['manifest', manifest], ['blob', blob]]) {
      assertOciError(r, 403, 'DENIED', `${how}: ${what} read`);
      const msg = r.json().errors.find((e) => e.code === 'DENIED').message;
      assert.ok(msg.includes(REG), `${how}: ${what} error names the registry: ${msg}`);
      assert.match(msg, /customer-managed key/, `${how}: ${what} error names the cause: ${msg}`);
      assert.ok(msg.includes(p.lastError), `${how}: ${what} error carries lastError (${p.lastError}): ${msg}`);
      assert.match(msg, /Nothing is lost/, `${how}: ${what} error says nothing is lost: ${msg}`);
      assert.ok(msg.includes(`coffer acr encryption show -n ${REG}`), `${how}: ${what} error says how to look: ${msg}`);
    }
    // A write is refused too.
    const c = s.oci(REG);
    const buf = Buffer.from(`new blob while locked ${how}`);
    let w = await c.req('POST', '/blobs/uploads/');
    if (w.status === 202) w = await c.finish(c.location(w), sha256(buf), buf);
    assertOciError(w, 403, 'DENIED', `${how}: blob push`);
    // Metadata needs no key.
    const tags = await c.get('/tags/list');
    assert.equal(tags.status, 200, `${how}: tags list answers (${tags.status} ${tags.body})`);
    assert.deepEqual(tags.json().tags, ['v1'], `${how}: tags list content`);
    // A real client cannot pull.
    await assert.rejects(s.pullSame(layout, REG, `${how}: pull while locked`), `${how}: skopeo pull fails`);
    return p;
  }

  async function assertUnlocked(how) {
    const p = await waitFor(`${how}: keyStatus available again`, async () => {
      const k = await s.kvp(REG);
      return k.keyStatus === 'available' && k.lastError === null && k;
    });
    assert.equal(p.versionedKeyIdentifier, key.kid, `${how}: same key version`);
    await s.waitServes(layout, REG, how);
    await s.pullSame(layout, REG, `${how}: pull after restore (same bytes, nothing lost)`);
  }

  // Revokes, checks the locked registry (extra: more checks on it), and
  // restores in any case, so one failure does not cascade into the next test.
  async function revokeCycle(how, revoke, restore, extra) {
    await waitFor(`${how}: starts from an unlocked registry`, async () => (await s.kvp(REG)).keyStatus === 'available');
    await revoke();
    try {
      const p = await assertLocked(how);
      if (extra) await extra(p);
    } finally {
      await restore();
    }
    await assertUnlocked(`${how}, then restored`);
  }

  test('access policy removed: locked within seconds (403 DENIED); policy restored: same bytes pull', async () => {
    await revokeCycle('policy removed',
      () => s.revokeAll('cmkvault', mi.principalId),
      () => s.grant('cmkvault', mi.principalId),
      (p) => {
        assert.match(p.lastError, /403/, `lastError has the vault's status: ${p.lastError}`);
        assert.ok(p.lastError.includes(mi.clientId), `lastError names the identity: ${p.lastError}`);
        assert.match(p.lastError, /does not have keys unwrapKey permission/, `lastError has the vault's message: ${p.lastError}`);
      });
  });

  test('key disabled: locked; key enabled again: same bytes pull', async () => {
    await revokeCycle('key disabled',
      () => s.setKeyEnabled('cmkvault', 'revk', key.version, false),
      () => s.setKeyEnabled('cmkvault', 'revk', key.version, true),
      (p) => assert.match(p.lastError, /disabled/i, `lastError says the key is disabled: ${p.lastError}`));
  });

  test('key deleted: locked; key recovered from soft delete: same bytes pull', async () => {
    await revokeCycle('key deleted',
      () => s.deleteKey('cmkvault', 'revk'),
      () => s.recoverKey('cmkvault', 'revk'),
      (p) => assert.match(p.lastError, /404|not ?found/i, `lastError says the key is gone: ${p.lastError}`));
  });

  test('a restart while revoked stays locked (403 DENIED, never 200) and unlocks when restored', async () => {
    await revokeCycle('revoked across a restart',
      () => s.revokeAll('cmkvault', mi.principalId),
      () => s.grant('cmkvault', mi.principalId),
      async () => {
        await s.restartCofferd();
        // Right after the restart (first check pending or done) reads must not succeed.
        const { manifest } = await s.rawReads(layout, REG);
        assert.ok([403, 503].includes(manifest.status), `manifest right after restart: ${manifest.status} ${manifest.body}`);
        await assertLocked('revoked, after the restart');
      });
  });
});

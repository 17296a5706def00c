// cmk-concurrency: the key state of a CMK registry is touched by several
// threads of cofferd at once -- the data plane's workers (keyring), the
// management API (rotate-key, encryption/check) and the key-check thread
// (automatic rotation every --key-check-interval) -- and none of that may
// hand a request the wrong key or a wiped one. Against the real keyvaultd
// and cofferd (run it against build/tsan too: docs/hardening.md):
//   1. while 6 clients push and pull images of their own in a loop, the key
//      is rotated in the vault 5 times (followed automatically), rotate-key
//      moves the registry to another identity, and encryption/check runs in
//      a loop: no request fails, every acknowledged push pulls back
//      bit-identical (during and after), versionedKeyIdentifier ends at the
//      newest version, and everything pulls after a cofferd restart;
//   2. revoke and restore while readers run: once the check has locked the
//      registry every read answers 403 DENIED, no read ever returns other
//      bytes than were pushed, and after the restore everything reads back.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCmkStack, waitFor, sleep } from './lib/cmk.mjs';
import { MT, descriptor, sha256, randomBuf } from './lib/oci.mjs';

const REG = 'cmkconc';
const CLIENTS = 6;
const VAULT_ROTATIONS = 5;

// An image of client i, number n: a config and one layer of random bytes
// spanning two sealed segments, so a read decrypts more than once.
function makeImage(i, n) {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', client: i, n }));
  const layer = randomBuf(70000 + ((i * 7 + n) % 5) * 1000);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MT.manifest,
    config: descriptor(MT.config, config), layers: [descriptor(MT.layerTar, layer)],
  }));
  return { client: i, tag: `t${n}`, config, layer, manifest };
}

describe('cmk-concurrency', { timeout: 180000 }, () => {
  let s;
  let mi1;
  let mi2;
  let key;
  const acked = []; // images whose push was acknowledged (201 on the manifest)

  // Requests that did not answer what they should (status or transport)
  // and reads that returned other bytes than were pushed.
  const failed = [];
  const wrong = [];
  const fail = (what, r) => { failed.push(`${what}: ${r.status} ${String(r.body).slice(0, 300)}`); return false; };
  const expect = (what, r, status) => r.status === status || fail(what, r);
  const client = (i) => s.oci(REG, `c${i}`);
  // Any call, with a transport error recorded instead of thrown.
  const guard = async (what, fn) => {
    try { return await fn(); } catch (e) { failed.push(`${what}: ${e.message}`); return null; }
  };

  async function push(img) {
    const c = client(img.client);
    for (const b of [img.config, img.layer]) {
      const r0 = await c.req('POST', '/blobs/uploads/');
      if (!expect(`push ${img.client}/${img.tag}: POST upload`, r0, 202)) return false;
      const r1 = await c.finish(c.location(r0), sha256(b), b);
      if (!expect(`push ${img.client}/${img.tag}: PUT blob`, r1, 201)) return false;
    }
    const r2 = await c.putManifest(img.tag, img.manifest, MT.manifest);
    return expect(`push ${img.client}/${img.tag}: PUT manifest`, r2, 201);
  }

  // Reads img back: each answer is passed to onStatus(what, r) (true: go
  // on); a 200 must carry exactly the pushed bytes.
  async function read(img, onStatus) {
    const c = client(img.client);
    const parts = [
      [`manifest ${img.client}/${img.tag}`, () => c.getManifest(img.tag), img.manifest],
      [`config ${img.client}/${img.tag}`, () => c.get(`/blobs/${sha256(img.config)}`), img.config],
      [`layer ${img.client}/${img.tag}`, () => c.get(`/blobs/${sha256(img.layer)}`), img.layer],
    ];
    for (const [what, get, want] of parts) {
      const r = await get();
      if (r.status === 200 && !r.body.equals(want)) wrong.push(`${what}: 200 with other bytes (${r.body.length} bytes)`);
      if (!onStatus(what, r)) return false;
    }
    return true;
  }
  const readSame = (img, what) => read(img, (w, r) => expect(`${what}: ${w}`, r, 200));
  const readAll = async (what) => {
    for (let k = 0; k < acked.length; k += CLIENTS) {
      await Promise.all(acked.slice(k, k + CLIENTS).map((img) => guard(what, () => readSame(img, what))));
    }
  };

  before(async () => {
    s = await startCmkStack({ keyCheckInterval: 1 });
    await s.createVault('cmkvault');
    mi1 = await s.createIdentity('mi-conc1');
    mi2 = await s.createIdentity('mi-conc2');
    await s.grant('cmkvault', mi1.principalId);
    await s.grant('cmkvault', mi2.principalId);
    key = await s.createKey('cmkvault', 'ck');
    const r = await s.createCmkRegistry(REG, { keyId: key.id, identity: mi1 });
    assert.equal(r.status, 201, `create: ${r.text}`);
    assert.equal(r.json.properties.encryption.keyVaultProperties.keyRotationEnabled, true, 'automatic rotation');
    const u = await s.patchRegistry(REG, {
      identity: { type: 'UserAssigned', userAssignedIdentities: { [mi1.id]: {}, [mi2.id]: {} } },
    });
    assert.equal(u.status, 200, `assign the second identity: ${u.text}`);
  });
  after(async () => { await s?.stop(); });

  const report = () => `failed (${failed.length}):\n${failed.slice(0, 20).join('\n')}\n` +
    `wrong bytes (${wrong.length}):\n${wrong.slice(0, 20).join('\n')}`;

  test('pushes and pulls while the key rotates 5 times, rotate-key moves the identity and checks run', async (t) => {
    let stop = false;
    const clients = Array.from({ length: CLIENTS }, (_, i) => (async () => {
      const mine = [];
      for (let n = 0; !stop; n++) {
        const img = makeImage(i, n);
        if (await guard(`push ${i}/${img.tag}`, () => push(img))) {
          acked.push(img);
          mine.push(img);
          await guard(`pull back ${i}/${img.tag}`, () => readSame(img, 'pull back'));
        }
        const old = mine[Math.floor(Math.random() * mine.length)];
        if (old) await guard(`re-pull ${i}/${old.tag}`, () => readSame(old, 're-pull'));
      }
    })());
    let checks = 0;
    const checker = (async () => {
      while (!stop) {
        const r = await guard('encryption/check', () => s.mgmt('POST', `/registries/${REG}/encryption/check`));
        if (r && expect('encryption/check', { status: r.status, body: r.text }, 200)) {
          const k = r.json.properties.encryption.keyVaultProperties;
          if (k.keyStatus !== 'available') failed.push(`encryption/check: keyStatus ${k.keyStatus}: ${k.lastError}`);
          checks++;
        }
      }
    })();
    let versions = [key];
    let manual;
    try {
      for (let v = 0; v < VAULT_ROTATIONS; v++) {
        await sleep(1100);
        versions.push(await s.rotateVaultKey('cmkvault', 'ck'));
        if (v === 2) {
          manual = await s.rotateKey(REG, { identity: mi2.clientId });
          assert.equal(manual.status, 200, `rotate-key to the second identity: ${manual.text}`);
        }
      }
      await sleep(1500);
    } finally {
      stop = true;
      await Promise.all([...clients, checker]);
    }
    versions = versions.map((v) => v.kid);
    assert.equal(new Set(versions).size, VAULT_ROTATIONS + 1, 'the vault made 5 new versions');
    assert.equal(manual.json.properties.encryption.keyVaultProperties.identity, mi2.clientId, 'rotate-key moved the identity');
    assert.ok(acked.length >= CLIENTS * 2, `every client pushed more than once (${acked.length} images)`);
    t.diagnostic(`${acked.length} images pushed, ${checks} checks, ${versions.length} key versions`);
    assert.ok(checks >= 3, `encryption/check ran in a loop (${checks} times)`);
    assert.deepEqual([failed, wrong], [[], []], report());

    const newest = versions[versions.length - 1];
    const p = await waitFor('versionedKeyIdentifier at the newest version', async () => {
      const k = (await s.check(REG)).properties.encryption.keyVaultProperties;
      return k.versionedKeyIdentifier === newest && k;
    });
    assert.equal(p.keyStatus, 'available', 'keyStatus');
    assert.equal(p.identity, mi2.clientId, 'identity after rotate-key');
    assert.equal(p.keyIdentifier, key.id, 'keyIdentifier stays non-versioned');
    assert.equal(p.lastError, null, `lastError: ${p.lastError}`);

    await readAll('pull after the storm');
    assert.deepEqual([failed, wrong], [[], []], report());

    await s.restartCofferd();
    const first = acked[0];
    await waitFor('the restarted cofferd serves the registry', async () =>
      (await client(first.client).getManifest(first.tag)).status === 200);
    await readAll('pull after a restart');
    assert.deepEqual([failed, wrong], [[], []], report());
    assert.equal((await s.kvp(REG)).versionedKeyIdentifier, newest, 'the newest version survives the restart');
  });

  test('revoke and restore while readers run: 403 DENIED while locked, never other bytes', async (t) => {
    assert.ok(acked.length > 0, 'images from the first test');
    let stop = false;
    let revokeAt = Infinity; // the access is being taken away
    let lockedAt = Infinity; // the check that locked returned
    let restoreAt = Infinity; // the access is being given back
    let openAt = Infinity; // the check that unlocked returned
    let denied = 0;
    let served = 0;
    const readers = Array.from({ length: CLIENTS }, () => (async () => {
      while (!stop) {
        const img = acked[Math.floor(Math.random() * acked.length)];
        const t0 = Date.now();
        await guard(`read ${img.client}/${img.tag}`, () => read(img, (what, r) => {
          if (r.status === 200) {
            served++;
            if (t0 > lockedAt && t0 < restoreAt) return fail(`${what}: served while locked`, r);
            return true;
          }
          if (r.status === 403 && r.json().errors?.some((e) => e.code === 'DENIED')) {
            denied++;
            if (Date.now() < revokeAt) return fail(`${what}: denied before the revocation`, r);
            if (t0 > openAt) return fail(`${what}: denied after the restore`, r);
            return false; // the rest of this image is denied too
          }
          return fail(`${what}: neither the bytes nor 403 DENIED`, r);
        }));
      }
    })());
    try {
      await sleep(500);
      revokeAt = Date.now();
      await s.revokeAll('cmkvault', mi2.principalId);
      const locked = await waitFor('the check locks the registry', async () => {
        const k = (await s.check(REG)).properties.encryption.keyVaultProperties;
        return k.keyStatus === 'unavailable' && k;
      });
      lockedAt = Date.now();
      assert.match(locked.lastError, /403/, `lastError: ${locked.lastError}`);
      await sleep(1500);
      restoreAt = Date.now();
      await s.grant('cmkvault', mi2.principalId);
      await waitFor('the check unlocks the registry', async () =>
        (await s.check(REG)).properties.encryption.keyVaultProperties.keyStatus === 'available');
      openAt = Date.now();
      await sleep(1000);
    } finally {
      stop = true;
      await Promise.all(readers);
    }
    t.diagnostic(`${served} reads served, ${denied} denied`);
    assert.ok(denied > 0, 'readers saw 403 DENIED while the key was revoked');
    assert.ok(served > 0, 'readers were served outside the revoked window');
    assert.deepEqual([failed, wrong], [[], []], report());
    await readAll('pull after the restore');
    assert.deepEqual([failed, wrong], [[], []], report());
  });
});

// harden-vault-crash: keyvaultd killed with SIGKILL during concurrent key
// creation, rotation and wrap loses no acknowledged key version and leaves
// no half-made key.
//
// Each round starts keyvaultd on the same data dir, runs 6 workers that
// create an RSA key, rotate it and wrap a random 32-byte value with the new
// version, over and over, and SIGKILLs the daemon on the k-th request of the
// round's kind (create, rotate, wrap) or at a random instant. After each
// restart:
//   * every version whose create or rotate got 200 is there, with the same
//     public key, and is listed among its key's versions;
//   * every value whose wrap got 200 unwraps to the original bytes;
//   * every key and version the vault lists is whole: GET gives its key
//     material and the latest version of each key wraps and unwraps.
// At the end the daemon is stopped and keyvault.db passes
// PRAGMA integrity_check (sqlite3 CLI, read-only). Seeded (HARDEN_SEED).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID, randomBytes } from 'node:crypto';
import { join, dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createIssuer, startKeyvaultd, ALL_KEY_PERMISSIONS, API } from './lib/vault.mjs';
import { prng, seedFromEnv } from './lib/harden.mjs';
import { removeAtExit } from './lib/oci.mjs';

const WORKERS = 6;
const PLAN = ['create', 'rotate', 'wrap', 'create', 'rotate', 'random'];

let d;
after(async () => { await d?.stop(); });

const path = (kid) => new URL(kid).pathname;

test('SIGKILL during key creation, rotation and wrap: no lost version, no half-made key', { timeout: 90000 }, async () => {
  const rnd = prng(seedFromEnv('harden-vault-crash'));
  const issuer = createIssuer();
  d = await startKeyvaultd({ issuers: [issuer] });
  const dataDir = d.dataDir;
  removeAtExit(dirname(dataDir));
  removeAtExit(dirname(d.configPath));
  const oid = randomUUID();
  await d.admin.allow('default', oid, ALL_KEY_PERMISSIONS);
  const token = issuer.token({ oid });
  const versions = new Map(); // kid path -> n (public modulus) of every acknowledged version
  const wraps = [];           // { kid, value, plain }
  const hits = { create: 0, rotate: 0, wrap: 0, random: 0 };

  for (let round = 0; round < PLAN.length; round++) {
    const want = PLAN[round];
    const k = rnd.int(2, 8);
    let seen = 0;
    let killed = false;
    let resolveKill;
    const killDone = new Promise((r) => { resolveKill = r; });
    const dd = d;
    const doKill = async () => {
      if (killed) return;
      killed = true;
      await sleep(rnd.int(0, 3));
      await dd.kill();
      resolveKill();
    };
    const phase = (p) => {
      if (killed) throw new Error('killed');
      if (p === want && ++seen === k) { hits[p]++; doKill(); }
    };
    if (want === 'random') setTimeout(() => { hits.random++; doKill(); }, rnd.int(100, 1500));
    const safety = setTimeout(doKill, 15000);
    const call = (p, opts) => d.request(p, { ...opts, token });

    const workers = [];
    for (let w = 0; w < WORKERS; w++) {
      workers.push((async () => {
        for (let i = 0; ; i++) {
          const name = `k-r${round}-w${w}-${i}`;
          try {
            phase('create');
            const c = await call(`/keys/${name}/create?${API}`, { method: 'POST', body: { kty: 'RSA', key_size: 2048 } });
            assert.equal(c.status, 200, `create ${name}: ${c.status} ${c.text}`);
            versions.set(path(c.json.key.kid), c.json.key.n);
            phase('rotate');
            const r = await call(`/keys/${name}/rotate?${API}`, { method: 'POST' });
            assert.equal(r.status, 200, `rotate ${name}: ${r.status} ${r.text}`);
            versions.set(path(r.json.key.kid), r.json.key.n);
            const plain = randomBytes(32);
            phase('wrap');
            const wr = await call(`${path(r.json.key.kid)}/wrapkey?${API}`, { method: 'POST', body: { alg: 'RSA-OAEP-256', value: plain.toString('base64url') } });
            assert.equal(wr.status, 200, `wrap ${name}: ${wr.status} ${wr.text}`);
            wraps.push({ kid: path(r.json.key.kid), value: wr.json.value, plain });
          } catch (err) {
            if (err.code === 'ERR_ASSERTION' && !killed) throw err;
            return;
          }
        }
      })());
    }
    await killDone;
    clearTimeout(safety);
    for (const res of await Promise.allSettled(workers)) if (res.status === 'rejected') throw res.reason;
    dd.agent.destroy();

    d = await startKeyvaultd({ issuers: [issuer], dataDir });
    removeAtExit(dirname(d.configPath));
    await verify(d, token, versions, wraps);
  }
  console.log(`# kills landed: ${JSON.stringify(hits)}; acknowledged versions ${versions.size}; wraps ${wraps.length}`);
  assert.ok(versions.size > 0 && wraps.length > 0, 'operations were acknowledged');
  await d.stop();
  const out = execFileSync('sqlite3', ['-readonly', join(dataDir, 'keyvault.db'), 'PRAGMA integrity_check'], { encoding: 'utf8' }).trim();
  assert.equal(out, 'ok');
  d = null;
});

async function verify(dm, token, versions, wraps) {
  const call = (p, opts = {}) => dm.request(p, { ...opts, token });
  for (const [kid, n] of versions) {
    const g = await call(`${kid}?${API}`);
    assert.equal(g.status, 200, `acknowledged version ${kid} after restart: ${g.status} ${g.text}`);
    assert.equal(g.json.key.n, n, `${kid}: same public key`);
  }
  for (const w of wraps) {
    const u = await call(`${w.kid}/unwrapkey?${API}`, { method: 'POST', body: { alg: 'RSA-OAEP-256', value: w.value } });
    assert.equal(u.status, 200, `unwrap with ${w.kid}: ${u.status} ${u.text}`);
    assert.ok(Buffer.from(u.json.value, 'base64url').equals(w.plain), `${w.kid} unwraps to the original`);
  }
  // every key the vault lists is whole
  let next = `/keys?${API}&maxresults=25`;
  const names = [];
  while (next) {
    const l = await call(next.startsWith('http') ? path(next) + new URL(next).search : next);
    assert.equal(l.status, 200, `list keys: ${l.status} ${l.text}`);
    for (const k of l.json.value) names.push(path(k.kid).split('/')[2]);
    next = l.json.nextLink || null;
  }
  for (const name of names) {
    const vl = await call(`/keys/${name}/versions?${API}`);
    assert.equal(vl.status, 200);
    const listed = vl.json.value.map((v) => path(v.kid));
    assert.ok(listed.length > 0, `${name} has versions`);
    for (const kid of listed) {
      const g = await call(`${kid}?${API}`);
      assert.equal(g.status, 200, `listed version ${kid}: ${g.status} ${g.text}`);
      assert.ok(g.json.key.n && g.json.key.e, `${kid} has its key material`);
    }
    for (const [kid] of versions) {
      if (kid.split('/')[2] === name) assert.ok(listed.includes(kid), `${kid} is listed among ${name}'s versions`);
    }
    const latest = await call(`/keys/${name}?${API}`);
    assert.equal(latest.status, 200, `latest version of ${name}: ${latest.status} ${latest.text}`);
    assert.ok(listed.includes(path(latest.json.key.kid)), `${name}'s latest version is listed`);
    const plain = randomBytes(16);
    const wr = await call(`${path(latest.json.key.kid)}/wrapkey?${API}`, { method: 'POST', body: { alg: 'RSA-OAEP-256', value: plain.toString('base64url') } });
    assert.equal(wr.status, 200, `wrap with ${name} (latest): ${wr.status} ${wr.text}`);
    const u = await call(`${path(wr.json.kid)}/unwrapkey?${API}`, { method: 'POST', body: { alg: 'RSA-OAEP-256', value: wr.json.value } });
    assert.ok(Buffer.from(u.json.value, 'base64url').equals(plain), `${name} wraps and unwraps`);
  }
}

// registry-auth-timing: a 401 costs the same whatever was wrong, so its
// timing tells nothing about which registries and users exist
// (docs/security.md, "learning which registries and users exist"). A wrong password for a registry
// that exists, a user that does not exist in it, and a registry that does
// not exist at all are each asked ~1,000 times over one keep-alive loopback
// connection, and the distributions of their response times are compared.
//
// This compares distributions; it asserts nothing about speed, and it must
// not flake on a shared, loaded 2-core machine. How:
//   - the kinds of request are interleaved, in an order that rotates every
//     round, so whatever the machine does meanwhile (other tests, other
//     engineers' builds, GC) falls on all of them alike;
//   - the verdict uses effect sizes, not p-values: the rank statistic
//     AUC = P(time of A > time of B) (Mann-Whitney U / n_a n_b; 0.5 when
//     the two cost the same) and the relative difference of the medians.
//     Under equal cost the AUC of two samples of 1,000 has a standard
//     deviation of about 0.013 whatever the load (ranks do not care how
//     noisy the times are), so |AUC - 0.5| > 0.075 is more than 5.5 of
//     them; a leak must also move the medians by more than 6%. Before the
//     fix, a missing registry answered 15-25% faster with AUC 0.62-0.68 (at
//     a load average of 12-13 on this machine); after it, in ten runs at
//     load 13, |AUC - 0.5| <= 0.028 and the medians within 3.5% (with the
//     metadata on PostgreSQL, AUC up to 0.543: a row that exists is read
//     over a connection);
//   - a comparison that looks like a leak is measured once more, afresh, and
//     the test fails only if the second sample says so too.
// The numbers of each run are printed as test diagnostics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startCofferd } from './lib/daemons.mjs';

const N = 1000;         // requests of each kind per sample
const WARMUP = 100;     // rounds before measuring
const AUC_TOL = 0.075;  // |AUC - 0.5| beyond which the ranks differ
const MEDIAN_TOL = 0.06; // and relative difference of the medians beyond which it matters

let d;
const REG = 'timingreg1';
const WRONG = 'wrongpassword-abcdefghijklmnopqrstuvwxyz012'; // 43 characters, as real passwords

before(async () => {
  d = await startCofferd({ auth: true });
  const h = { authorization: `Bearer ${d.adminToken}`, 'content-type': 'application/json' };
  const c = await fetch(`${d.mgmtUrl}/registries/${REG}`, { method: 'PUT', headers: h, body: JSON.stringify({ properties: { adminUserEnabled: true } }) });
  assert.equal(c.status, 201, await c.text());
  const t = await fetch(`${d.mgmtUrl}/registries/${REG}/tokens/timingtok1`, {
    method: 'PUT', headers: h, body: JSON.stringify({ properties: { scope: [{ repository: 'app', actions: ['content/read'] }] } }),
  });
  assert.equal(t.status, 201, await t.text());
  const g = await fetch(`${d.mgmtUrl}/registries/${REG}/tokens/timingtok1/generateCredentials`, { method: 'POST', headers: h, body: '{}' });
  assert.equal(g.status, 200, await g.text());
});
after(async () => { await d?.stop(); });

// One keep-alive connection: send() writes a request and resolves with
// its status and the nanoseconds until the whole response was read.
async function connection(port) {
  const s = connect(port, '127.0.0.1');
  s.setNoDelay(true);
  await new Promise((res, rej) => { s.once('connect', res); s.once('error', rej); });
  let buf = Buffer.alloc(0);
  let waiting = null;
  s.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    const he = buf.indexOf('\r\n\r\n');
    if (!waiting || he < 0) return;
    const head = buf.subarray(0, he).toString('latin1');
    const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (buf.length < he + 4 + len) return;
    buf = buf.subarray(he + 4 + len);
    const w = waiting;
    waiting = null;
    w({ status: Number(head.split(' ')[1]), head, end: process.hrtime.bigint() });
  });
  return {
    send(text) {
      return new Promise((res) => {
        const t0 = process.hrtime.bigint();
        waiting = (r) => res({ ...r, ns: Number(r.end - t0) });
        s.write(text);
      });
    },
    close() { s.destroy(); },
  };
}

const basic = (user) => `Basic ${Buffer.from(`${user}:${WRONG}`).toString('base64')}`;

// { kind: [µs...] }: N of each kind, interleaved, the order rotating every round.
async function sample(kinds, check) {
  const names = Object.keys(kinds);
  const out = Object.fromEntries(names.map((k) => [k, []]));
  const c = await connection(d.port);
  try {
    for (let round = 0; round < WARMUP + N; round++) {
      for (let i = 0; i < names.length; i++) {
        const k = names[(round + i) % names.length];
        const r = await c.send(kinds[k]);
        check(k, r);
        if (round >= WARMUP) out[k].push(r.ns / 1000);
      }
    }
  } finally {
    c.close();
  }
  return out;
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2; };

// P(a > b) + P(a == b) / 2, from the ranks of both samples together.
function auc(a, b) {
  const all = [...a.map((v) => [v, 0]), ...b.map((v) => [v, 1])].sort((x, y) => x[0] - y[0]);
  let rankSumA = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j][0] === all[i][0]) j++;
    const rank = (i + 1 + j) / 2; // ties share their mean rank
    for (let k = i; k < j; k++) if (all[k][1] === 0) rankSumA += rank;
    i = j;
  }
  return (rankSumA - (a.length * (a.length + 1)) / 2) / (a.length * b.length);
}

function compare(s, a, b) {
  const ma = median(s[a]), mb = median(s[b]);
  const r = { a, b, medianA: ma, medianB: mb, rel: (ma - mb) / mb, auc: auc(s[a], s[b]) };
  r.leak = Math.abs(r.auc - 0.5) > AUC_TOL && Math.abs(r.rel) > MEDIAN_TOL;
  return r;
}

const show = (r) => `${r.a} vs ${r.b}: medians ${r.medianA.toFixed(1)} / ${r.medianB.toFixed(1)} µs (${(100 * r.rel).toFixed(1)}%), AUC ${r.auc.toFixed(3)}`;

// Measures, compares; a comparison that looks like a leak is measured
// again and must look like one again.
async function assertSameCost(t, kinds, pairs, check) {
  let s = await sample(kinds, check);
  for (const [a, b] of pairs) {
    let r = compare(s, a, b);
    t.diagnostic(show(r));
    if (r.leak) {
      s = await sample(kinds, check);
      r = compare(s, a, b);
      t.diagnostic(`measured again: ${show(r)}`);
    }
    assert.ok(!r.leak, `the timing of a 401 tells ${a} from ${b}: ${show(r)} (tolerance: |AUC - 0.5| <= ${AUC_TOL} or medians within ${100 * MEDIAN_TOL}%)`);
  }
}

test('data plane: a 401 for a missing registry or user costs what a wrong password costs', async (t) => {
  const get = (reg, user) => `GET /v2/${reg}/app/manifests/v1 HTTP/1.1\r\nHost: 127.0.0.1:${d.port}\r\nAuthorization: ${basic(user)}\r\n\r\n`;
  const kinds = {
    'wrong admin password': get(REG, REG),
    'wrong token password': get(REG, 'timingtok1'),
    'no such user': get(REG, 'nosuchuser'),
    'no such registry': get('nosuchreg1', 'nosuchreg1'),
  };
  let first;
  await assertSameCost(t, kinds, [
    ['wrong admin password', 'no such registry'],
    ['wrong admin password', 'no such user'],
    ['wrong token password', 'no such registry'],
  ], (k, r) => {
    assert.equal(r.status, 401, `${k}: ${r.head}`);
    // and the same challenge shape, no error parameter for any of them
    const ch = /\r\nWWW-Authenticate: ([^\r]*)/i.exec(r.head)?.[1];
    assert.ok(ch && !ch.includes('error='), `${k}: ${ch}`);
    first ??= ch.replace(/repository:[^:]+\/app/, 'repository:X/app');
    assert.equal(ch.replace(/repository:[^:]+\/app/, 'repository:X/app'), first, k);
  });
});

test('token endpoint: a 401 for a missing registry costs what a wrong password costs', async (t) => {
  const tok = (reg, user) => `GET /oauth2/token?service=127.0.0.1:${d.port}&scope=repository:${reg}/app:pull HTTP/1.1\r\nHost: 127.0.0.1:${d.port}\r\nAuthorization: ${basic(user)}\r\n\r\n`;
  const kinds = {
    'wrong admin password': tok(REG, REG),
    'no such user': tok(REG, 'nosuchuser'),
    'no such registry': tok('nosuchreg1', 'nosuchreg1'),
  };
  await assertSameCost(t, kinds, [
    ['wrong admin password', 'no such registry'],
    ['wrong admin password', 'no such user'],
  ], (k, r) => assert.equal(r.status, 401, `${k}: ${r.head}`));
});

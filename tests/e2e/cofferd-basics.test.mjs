import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startCofferd } from './lib/daemons.mjs';

let d;
before(async () => { d = await startCofferd(); });
after(async () => { await d?.stop(); });

test('GET /v2/ answers 200 with the distribution API version header', async () => {
  const r = await fetch(`${d.url}/v2/`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0');
  assert.match(r.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
});

test('cofferd stops cleanly on SIGTERM', async () => {
  const res = await d.stop();
  assert.equal(res.code, 0);
});

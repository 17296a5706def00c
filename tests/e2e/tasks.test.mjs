// tasks: registry tasks (docs/tasks.md) with real clients, against the real
// keyvaultd and cofferd, on whatever backends the suite runs (SQLite +
// files, PostgreSQL + S3):
//   - purge, as `coffer acr run` and as a task: a dry run lists what it
//     would delete and deletes nothing; a real run deletes the matching
//     tags older than --ago except the newest --keep, and with --untagged
//     the manifests left without a tag; what stays pulls back bit-identical
//     with skopeo;
//   - a cron schedule triggers a run (the tasks' test clock moved past the
//     next minute, never by waiting);
//   - run logs are sealed: no plaintext of a log anywhere in the storage;
//     on a CMK registry whose key is revoked `task logs` answers
//     KeyUnavailable, and reads again once the key is back;
//   - retention with the test clock: 24 hours on a CMK registry, 30 days
//     otherwise, logs and runs then gone;
//   - import (`coffer acr import`, and as a task's command) from Debian's
//     docker-registry and from a second cofferd that wants the token flow
//     with credentials: pulled back bit-identical with skopeo, by tag and
//     by digest, no blob's bytes at rest in plaintext.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCmkStack, waitFor, sleep } from './lib/cmk.mjs';
import { cofferRunner, stackEnv } from './lib/cli.mjs';
import { buildImage, put, skopeo, readLayout } from './lib/images.mjs';
import { objectKeys, objectGet } from './lib/objects.mjs';
import { metaBytes, startCofferd } from './lib/daemons.mjs';
import { startDistribution } from './lib/oci.mjs';

const DAY = 86400;

describe('tasks', { timeout: 300000 }, () => {
  let s;
  let env;
  let mi;
  let key;
  const layouts = [];
  let untagged;
  const PLAIN = 'taskplain1';
  const CMK = 'taskcmk1';
  const home = mkdtempSync(join(tmpdir(), 'coffer-tasks-home-'));
  const clock = join(home, 'clock');
  let offset = 0;
  const setClock = (secs) => { offset = secs; writeFileSync(clock, String(secs)); };
  const { coffer, ok, fails } = cofferRunner(() => env);
  const tags = async (reg, repo) => JSON.parse((await skopeo(['list-tags', '--tls-verify=false',
    `docker://${s.ref(reg, repo)}`])).stdout).Tags.sort();

  before(async () => {
    setClock(0);
    s = await startCmkStack({ cofferdArgs: ['--test-clock-file', clock, '--task-tick', '1'] });
    env = stackEnv(s, home);
    await s.createVault('taskvault');
    mi = await s.createIdentity('mi-tasks');
    await s.grant('taskvault', mi.principalId);
    key = await s.createKey('taskvault', 'taskkey');
    const r = await s.createCmkRegistry(CMK, { keyId: key.id, identity: mi });
    assert.equal(r.status, 201, `create: ${r.text}`);
    await s.mgmtOk('PUT', `/registries/${PLAIN}`, { sku: { name: 'Standard' } });
    const image = (tag, text) => buildImage({ tag, layers: [(x) => { put(x, 'etc/motd', `${text}\n`); }] });
    for (let i = 1; i <= 4; i++) layouts.push(await image(`v${i}`, `image ${i}`));
    // app:v1..v4, one second apart (a tag's time has second granularity)
    for (let i = 1; i <= 4; i++) {
      await s.push(layouts[i - 1], PLAIN, `v${i}`);
      await sleep(1100);
    }
    layouts.push(await image('keep1', 'other'));
    await s.push(layouts[4], PLAIN, 'keep1', 'other');
    // an untagged manifest: pushed as app:tmp, then the tag deleted
    const tmp = await image('tmp', 'untagged');
    await s.push(tmp, PLAIN, 'tmp');
    untagged = readLayout(tmp, 'tmp').digest;
    const d = await s.oci(PLAIN).req('DELETE', '/manifests/tmp');
    assert.equal(d.status, 202, `untag: ${d.status} ${d.body}`);
    await s.push(layouts[0], CMK, 'v1');
  });
  after(async () => { await s?.stop(); });

  const PURGE = "acr purge --filter 'app:v.*' --ago 1d --keep 1 --untagged";

  test('a dry run lists what purge would delete and deletes nothing', async () => {
    setClock(2 * DAY); // every tag is two days old on the tasks' clock
    const run = ok(['acr', 'run', '-r', PLAIN, '--cmd', `${PURGE} --dry-run`]).json;
    assert.equal(run.status, 'Succeeded');
    assert.equal(run.runType, 'QuickRun');
    assert.match(run.runId, /^cf[0-9a-f]{10}$/);
    const log = ok(['acr', 'task', 'logs', '-r', PLAIN, '--run-id', run.runId]).out;
    for (const t of ['v1', 'v2', 'v3']) assert.match(log, new RegExp(`Would delete tag app:${t} `), log);
    assert.doesNotMatch(log, /app:v4/, 'the newest tag is kept (--keep 1)');
    assert.doesNotMatch(log, /other/, 'another repository is not touched');
    assert.ok(log.includes(`Would delete manifest app@${untagged}`), log);
    assert.deepEqual(await tags(PLAIN, 'app'), ['v1', 'v2', 'v3', 'v4']);
    const m = await s.oci(PLAIN).getManifest(untagged);
    assert.equal(m.status, 200, 'the untagged manifest is still there');
  });

  test('a purge task deletes old tags but the newest --keep, and untagged manifests', async () => {
    const t = ok(['acr', 'task', 'create', '-n', 'purge-app', '-r', PLAIN, '--cmd', PURGE]).json;
    assert.equal(t.name, 'purge-app');
    assert.equal(t.properties.schedule, null);
    const run = ok(['acr', 'task', 'run', '-n', 'purge-app', '-r', PLAIN]).json;
    assert.equal(run.status, 'Succeeded', JSON.stringify(run));
    assert.equal(run.task, 'purge-app');
    assert.equal(run.trigger, 'Manual');
    assert.deepEqual(await tags(PLAIN, 'app'), ['v4']);
    assert.deepEqual(await tags(PLAIN, 'other'), ['keep1']);
    assert.equal((await s.oci(PLAIN).getManifest(untagged)).status, 404, 'untagged manifest deleted');
    const log = ok(['acr', 'task', 'logs', '-r', PLAIN, '--run-id', run.runId]).out;
    assert.match(log, /Deleted tag app:v1 /);
    assert.match(log, /Number of deleted tags: 3/);
    assert.match(log, /Number of deleted manifests: \d/);
    await s.pullSame(layouts[3], PLAIN, 'the kept tag', 'v4');
    await s.pullSame(layouts[4], PLAIN, 'the other repository', 'keep1', 'other');
    const runs = ok(['acr', 'task', 'list-runs', '-r', PLAIN, '-n', 'purge-app']).json;
    assert.deepEqual(runs.map((x) => x.runId), [run.runId]);
  });

  test('a command is checked when the task is stored; a bad schedule is refused', () => {
    fails(['acr', 'task', 'create', '-n', 'bad-task', '-r', PLAIN, '--cmd', 'rm -rf /'], 'InvalidRequest');
    fails(['acr', 'task', 'create', '-n', 'bad-task', '-r', PLAIN, '--cmd', "purge --filter 'app:(' --ago 1d"], 'InvalidRequest');
    fails(['acr', 'task', 'create', '-n', 'bad-task', '-r', PLAIN, '--cmd', 'purge --filter app:.* --ago 1d',
      '--schedule', '0 3 * *'], 'InvalidRequest');
    fails(['acr', 'task', 'show', '-n', 'bad-task', '-r', PLAIN], 'ResourceNotFound');
  });

  test('a schedule triggers a run when its minute comes (test clock)', async () => {
    const t = ok(['acr', 'task', 'create', '-n', 'every-minute', '-r', PLAIN, '--schedule', '* * * * *',
      '--cmd', "purge --filter 'nothing:.*' --ago 0d"]).json;
    assert.equal(t.properties.schedule, '* * * * *');
    assert.ok(t.properties.nextRunTime, 'a next run time');
    assert.deepEqual(ok(['acr', 'task', 'list-runs', '-r', PLAIN, '-n', 'every-minute']).json, []);
    setClock(offset + 120);
    const runs = await waitFor('a timer run', async () => {
      const r = ok(['acr', 'task', 'list-runs', '-r', PLAIN, '-n', 'every-minute']).json;
      return r.length >= 1 && r[0].status !== 'Running' && r;
    }, { timeoutMs: 20000 });
    assert.equal(runs.length, 1, 'one run for one due minute');
    assert.equal(runs[0].trigger, 'Timer');
    assert.equal(runs[0].status, 'Succeeded');
    ok(['acr', 'task', 'delete', '-n', 'every-minute', '-r', PLAIN]);
    const names = ok(['acr', 'task', 'list', '-r', PLAIN]).json.map((x) => x.name);
    assert.deepEqual(names, ['purge-app']);
  });

  test('run logs are sealed: no plaintext in the storage; a revoked key makes them unreadable', async () => {
    const run = ok(['acr', 'run', '-r', CMK, '--cmd', "purge --filter 'app:zzz.*' --ago 0d --dry-run"]).json;
    assert.equal(run.status, 'Succeeded');
    assert.equal(run.logRetentionHours, 24);
    const log = ok(['acr', 'task', 'logs', '-r', CMK, '--run-id', run.runId]).out;
    assert.match(log, /purge: filter app:zzz\.\*/);
    // every stored object: none holds a line of any log
    const needles = ['purge: filter', 'Deleted tag app:v1', 'Would delete', 'Number of deleted'].map((x) => Buffer.from(x));
    const keys = objectKeys(s.dataDir, 'registries/');
    assert.ok(keys.some((k) => k.includes('/tasklogs/')), `task logs are stored objects: ${keys}`);
    for (const k of keys) {
      const b = objectGet(s.dataDir, k);
      for (const n of needles) assert.equal(b.indexOf(n), -1, `${k} holds plaintext "${n}"`);
    }
    // the metadata at rest (SQLite file and WAL, or a pg_dump) holds no log text either
    const meta = metaBytes(s.dataDir);
    for (const n of needles) assert.equal(meta.indexOf(n), -1, `the metadata holds plaintext "${n}"`);

    await s.revokeAll('taskvault', mi.principalId);
    await waitFor('keyStatus unavailable', async () => (await s.kvp(CMK)).keyStatus === 'unavailable');
    const r = fails(['acr', 'task', 'logs', '-r', CMK, '--run-id', run.runId], 'KeyUnavailable');
    assert.match(r.err, new RegExp(CMK));
    fails(['acr', 'run', '-r', CMK, '--cmd', "purge --filter 'app:.*' --ago 0d"], 'KeyUnavailable');
    await s.grant('taskvault', mi.principalId);
    await waitFor('keyStatus available', async () => (await s.kvp(CMK)).keyStatus === 'available');
    const again = await waitFor('logs readable again', async () => {
      const x = coffer(['acr', 'task', 'logs', '-r', CMK, '--run-id', run.runId]);
      return x.code === 0 && x.out;
    });
    assert.equal(again, log);
  });

  test('logs are kept 24 hours on a CMK registry and 30 days otherwise (test clock)', async () => {
    const cmkRun = ok(['acr', 'run', '-r', CMK, '--cmd', "purge --filter 'app:zzz' --ago 0d"]).json;
    const plainRuns = ok(['acr', 'task', 'list-runs', '-r', PLAIN]).json;
    assert.ok(plainRuns.length >= 3);
    const base = offset;
    setClock(base + 23 * 3600);
    await sleep(2500); // two ticks: nothing expires before 24 hours
    assert.ok(ok(['acr', 'task', 'list-runs', '-r', CMK]).json.some((x) => x.runId === cmkRun.runId));
    ok(['acr', 'task', 'logs', '-r', CMK, '--run-id', cmkRun.runId]);

    setClock(base + 25 * 3600);
    await waitFor('CMK runs expired', () => ok(['acr', 'task', 'list-runs', '-r', CMK]).json.length === 0);
    const gone = fails(['acr', 'task', 'logs', '-r', CMK, '--run-id', cmkRun.runId], 'ResourceNotFound');
    assert.match(gone.err, /24 hours/);
    const cmkId = s.sqlRows(`SELECT id FROM registries WHERE name = '${CMK}'`)[0].id;
    assert.deepEqual(objectKeys(s.dataDir, `registries/${cmkId}/tasklogs/`), [], 'sealed logs removed');
    // the other registry's runs stay
    assert.equal(ok(['acr', 'task', 'list-runs', '-r', PLAIN]).json.length, plainRuns.length);

    setClock(base + 29 * DAY);
    await sleep(2500);
    assert.equal(ok(['acr', 'task', 'list-runs', '-r', PLAIN]).json.length, plainRuns.length);
    setClock(base + 31 * DAY);
    await waitFor('plain runs expired', () => ok(['acr', 'task', 'list-runs', '-r', PLAIN]).json.length === 0);
    const plainId = s.sqlRows(`SELECT id FROM registries WHERE name = '${PLAIN}'`)[0].id;
    assert.deepEqual(objectKeys(s.dataDir, `registries/${plainId}/tasklogs/`), []);
    // the task itself stays
    assert.deepEqual(ok(['acr', 'task', 'list', '-r', PLAIN]).json.map((x) => x.name), ['purge-app']);
  });

  describe('import', () => {
    let dist;
    let src2;
    let img;
    let creds;
    before(async () => {
      dist = await startDistribution({ registry: 'dist' });
      img = await buildImage({ tag: '1.0', layers: [
        (x) => { put(x, 'etc/motd', 'imported image\n'); },
        (x) => { put(x, 'data/blob.bin', Buffer.alloc(300000, 7)); },
      ] });
      await skopeo(['copy', '--preserve-digests', '--dest-tls-verify=false', `oci:${img}:1.0`,
        `docker://${new URL(dist.url).host}/lib/hello:1.0`]);
      // a second cofferd whose data plane authenticates (token flow)
      src2 = await startCofferd({ auth: true });
      const r = await fetch(`${src2.mgmtUrl}/registries/srcreg01`, { method: 'PUT',
        headers: { authorization: `Bearer ${src2.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ sku: { name: 'Standard' }, properties: { adminUserEnabled: true } }) });
      assert.equal(r.status, 201, await r.text());
      const l = await (await fetch(`${src2.mgmtUrl}/registries/srcreg01/listCredentials`, { method: 'POST',
        headers: { authorization: `Bearer ${src2.adminToken}` } })).json();
      creds = { user: l.username, password: l.passwords[0].value };
      await skopeo(['copy', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds',
        `${creds.user}:${creds.password}`, `oci:${img}:1.0`,
        `docker://127.0.0.1:${src2.port}/srcreg01/team/hello:1.0`]);
    });
    after(async () => { await dist?.stop(); await src2?.stop(); });

    test('acr import copies an image from docker-registry, pulled back bit-identical', async () => {
      const run = ok(['acr', 'import', '-n', PLAIN, '--source', `${new URL(dist.url).host}/lib/hello:1.0`,
        '--image', 'imported:1.0']).json;
      assert.equal(run.status, 'Succeeded', JSON.stringify(run));
      assert.equal(run.cmd, 'import');
      const log = ok(['acr', 'task', 'logs', '-r', PLAIN, '--run-id', run.runId]).out;
      assert.match(log, /Copied blob sha256:/);
      assert.match(log, /Stored manifest imported@sha256:[0-9a-f]{64} as tag 1\.0/);
      await s.pullSame(img, PLAIN, 'imported from docker-registry', '1.0', 'imported');
      // by digest, into another repository: the blobs are linked, not fetched again
      const dg = readLayout(img, '1.0').digest;
      const run2 = ok(['acr', 'import', '-n', PLAIN, '--source', `${new URL(dist.url).host}/lib/hello@${dg}`,
        '--image', 'bydigest:1.0']).json;
      assert.equal(run2.status, 'Succeeded');
      assert.match(ok(['acr', 'task', 'logs', '-r', PLAIN, '--run-id', run2.runId]).out, /Blobs copied: 0, already present: 3/);
      await s.pullSame(img, PLAIN, 'imported by digest', '1.0', 'bydigest');
      // an unknown tag fails the run, naming it
      const bad = ok(['acr', 'import', '-n', PLAIN, '--source', `${new URL(dist.url).host}/lib/hello:nope`]).json;
      assert.equal(bad.status, 'Failed');
      assert.match(ok(['acr', 'task', 'logs', '-r', PLAIN, '--run-id', bad.runId]).out, /no manifests\/nope/);
    });

    test('import from another cofferd with credentials (token flow), into a CMK registry; no plaintext blob at rest', async () => {
      const source = `127.0.0.1:${src2.port}/srcreg01/team/hello:1.0`;
      const anon = ok(['acr', 'import', '-n', CMK, '--source', source]).json;
      assert.equal(anon.status, 'Failed', 'without credentials the source refuses');
      const run = ok(['acr', 'import', '-n', CMK, '--source', source, '--image', 'team/hello:1.0',
        '--username', creds.user, `--password=${creds.password}`]).json;
      assert.equal(run.status, 'Succeeded', ok(['acr', 'task', 'logs', '-r', CMK, '--run-id', run.runId]).out);
      const log = ok(['acr', 'task', 'logs', '-r', CMK, '--run-id', run.runId]).out;
      assert.ok(!log.includes(creds.password), 'the log never holds the password');
      await s.pullSame(img, CMK, 'imported from cofferd', '1.0', 'team/hello');
      // no blob's bytes rest in plaintext anywhere in the storage
      const src = readLayout(img, '1.0');
      const cmkId = s.sqlRows(`SELECT id FROM registries WHERE name = '${CMK}'`)[0].id;
      const keys = objectKeys(s.dataDir, `registries/${cmkId}/`);
      for (const dg of src.layers) {
        const probe = src.blob(dg).subarray(0, 64);
        for (const k of keys) assert.equal(objectGet(s.dataDir, k).indexOf(probe), -1, `${k} holds layer ${dg} in plaintext`);
      }
      // a task may import, but never keep a password
      fails(['acr', 'task', 'create', '-n', 'import-task', '-r', CMK, '--cmd',
        `import --source ${source} --username u --password p`], 'InvalidRequest');
      ok(['acr', 'task', 'create', '-n', 'import-task', '-r', PLAIN, '--cmd',
        `import --source ${new URL(dist.url).host}/lib/hello:1.0 --image fromtask:1.0`]);
      assert.equal(ok(['acr', 'task', 'run', '-n', 'import-task', '-r', PLAIN]).json.status, 'Succeeded');
      await s.pullSame(img, PLAIN, 'imported by a task', '1.0', 'fromtask');
      ok(['acr', 'task', 'delete', '-n', 'import-task', '-r', PLAIN]);
    });
  });
});

// package: coffer installed for real. `make install` gives two systemd
// units that systemd-analyze verifies and scores as docs/install.md says.
// `make deb` gives a package that, on a clean Debian 12 server
// (tests/package/clean-root: mmdebstrap, then systemd as its init),
// installs with `apt-get install ./coffer_*.deb`, creates one system user
// per daemon and leaves both daemons stopped until configured: booted with
// its own systemd (systemd-nspawn) nothing of coffer runs, and install-deps
// has left docker-registry (the benchmark's peer) off, so :5000 is free.
// Configured as docs/install.md says, the daemons started as their units
// say (tests/package/start-unit, systemd's stand-in in a chroot, as
// ../shared/tools/fresh-machine.sh starts units) answer on their ports and
// work together; booted again, the real systemd runs both under the units'
// hardening (seccomp filter, no capabilities, read-only system).
//
// Needs root (mmdebstrap, chroot, namespaces) and the network (apt); the
// root-only tests say so and skip elsewhere.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { join, basename } from 'node:path';
import { ROOT, freshDir, BACKEND } from './lib/daemons.mjs';

// Nothing here depends on cofferd's metadata backend: test-all's PostgreSQL
// pass leaves it to the SQLite pass (it takes minutes: a package, a root).
const otherPass = BACKEND === 'sqlite' ? false : 'independent of the metadata backend: runs in the SQLite pass';
const asRoot = process.getuid() === 0;
const needRoot = otherPass || (asRoot ? false : 'needs root: mmdebstrap, chroot and namespaces');
const cleanRoot = join(ROOT, 'tests/package/clean-root');

// Runs a command, returns {status, stdout, out}; out is stdout+stderr.
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 20 * 60000, ...opts });
  return { status: r.status, stdout: r.stdout || '', out: `${r.stdout || ''}${r.stderr || ''}` };
}
// KEY=VALUE lines as an object (the last value of a key wins)
const kv = (text) => Object.fromEntries(text.split('\n').filter((l) => /^[a-z0-9_-]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

test('make install: both units pass systemd-analyze verify; their exposure is the score docs/install.md gives', { skip: otherPass }, () => {
  const dest = freshDir('coffer-install-');
  // PREFIX and SYSCONFDIR inside the temp dir: the units name binaries that exist
  const m = run('make', ['-s', 'install', `PREFIX=${dest}/usr`, `SYSCONFDIR=${dest}/etc`], { cwd: ROOT });
  assert.equal(m.status, 0, m.out);
  for (const bin of ['cofferd', 'keyvaultd', 'coffer']) assert.ok(existsSync(join(dest, 'usr/bin', bin)), bin);
  const units = ['cofferd.service', 'keyvaultd.service'].map((u) => join(dest, 'usr/lib/systemd/system', u));
  const unitText = units.map((u) => readFileSync(u, 'utf8'));
  for (const t of unitText) {
    assert.match(t, new RegExp(`^ExecStart=${dest}/usr/bin/\\w+ --config ${dest}/etc/coffer/\\w+\\.json --data /var/lib/coffer/\\w+$`, 'm'));
    for (const line of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'PrivateTmp=yes', 'CapabilityBoundingSet=', 'UMask=0077'])
      assert.match(t, new RegExp(`^${line}$`, 'm'), line);
    assert.match(t, /^StateDirectory=coffer\/\w+$/m);
    const exec = t.match(/^ExecStart=.*$/m)[0];
    assert.doesNotMatch(exec, /token|password|secret|-key\b|\bpin\b/i, `no secret on the command line: ${exec}`);
  }
  const v = run('systemd-analyze', ['verify', ...units]);
  assert.equal(v.status, 0, v.out);
  assert.equal(v.out.trim(), '', `systemd-analyze verify says nothing: ${v.out}`);

  const doc = readFileSync(join(ROOT, 'docs/install.md'), 'utf8');
  for (const u of units) {
    const s = run('systemd-analyze', ['security', '--offline=yes', u]);
    const got = s.out.match(/Overall exposure level for (\S+): ([\d.]+) (\w+)/);
    assert.ok(got, s.out);
    const want = doc.match(new RegExp(`\`${got[1]}\`[^\\n]*?exposure ([\\d.]+) (\\w+)`));
    assert.ok(want, `docs/install.md gives ${got[1]}'s score as "\`${got[1]}\` ... exposure N LEVEL"`);
    assert.deepEqual([got[2], got[3]], [want[1], want[2]], `${got[1]}: systemd-analyze says ${got[2]} ${got[3]}`);
  }
});

// --- the package in a clean Debian 12 root ----------------------------------
let dir; // the root's temp dir
let deb;

const inRoot = (args, opts) => run(cleanRoot, ['run', dir, ...args], opts);
// boots the root with its own systemd (systemd-nspawn) and runs boot-check
const bootCheck = () => {
  const b = run(cleanRoot, ['boot', dir, '/usr/local/sbin/boot-check']);
  assert.equal(b.status, 0, b.out);
  return { r: kv(b.stdout), out: b.out };
};

const readBootLog = () => { try { return readFileSync(join(dir, 'boot.log'), 'utf8').slice(-4000); } catch { return ''; } };

describe('the .deb on a clean Debian 12 server', { skip: needRoot }, () => {
  before(async () => {
    const b = run('make', ['-s', 'deb'], { cwd: ROOT });
    assert.equal(b.status, 0, `make deb: ${b.out}`);
    deb = b.stdout.trim().split('\n').pop();
    assert.match(basename(deb), /^coffer_[\d.]+_\w+\.deb$/);
    dir = mkdtempSync('/var/tmp/coffer-pkg-');
    const r = run(cleanRoot, ['new', dir]);
    assert.equal(r.status, 0, r.out);
    copyFileSync(join(ROOT, deb), join(dir, 'root/root', basename(deb)));
    for (const f of ['start-unit', 'configure-and-start', 'boot-check']) copyFileSync(join(ROOT, 'tests/package', f), join(dir, 'root/usr/local/sbin', f));
    mkdirSync(join(dir, 'root/opt/coffer/scripts'), { recursive: true });
    copyFileSync(join(ROOT, 'scripts/install-deps'), join(dir, 'root/opt/coffer/scripts/install-deps'));
  });

  after(() => {
    if (dir && !process.env.KEEP_E2E_DIRS) run(cleanRoot, ['remove', dir]);
  });

  test('apt-get install ./coffer_*.deb on a clean Debian 12 server: programs, units, one system user per daemon', () => {
    // a server has an init: systemd first (minbase has none), then the package
    const i = inRoot(['--', '/bin/sh', '-c', 'cd /root && apt-get update -qq && export DEBIAN_FRONTEND=noninteractive && '
      + `apt-get install -y -qq --no-install-recommends systemd systemd-sysv dbus && apt-get install -y -qq ./${basename(deb)}`]);
    assert.equal(i.status, 0, i.out);
    const q = inRoot(['--', '/bin/sh', '-c', [
      'for b in cofferd keyvaultd coffer; do echo "bin_$b=$(command -v $b)"; done',
      'for u in cofferd keyvaultd; do echo "user_$u=$(getent passwd $u | cut -d: -f3,6,7)"; done',
      'echo "enabled=$(ls /etc/systemd/system/multi-user.target.wants/ | tr "\\n" " ")"',
      'echo "etc_coffer=$(ls -A /etc/coffer | tr "\\n" " ")"',
      'echo "state=$(ls -A /var/lib/coffer 2>/dev/null | tr "\\n" " ")"',
      'echo "version=$(cofferd --version)"',
    ].join('; ')]);
    assert.equal(q.status, 0, q.out);
    const r = kv(q.out);
    assert.equal(r.bin_cofferd, '/usr/bin/cofferd');
    assert.equal(r.bin_keyvaultd, '/usr/bin/keyvaultd');
    assert.equal(r.bin_coffer, '/usr/bin/coffer');
    for (const u of ['cofferd', 'keyvaultd']) {
      const [uid, home, shell] = r[`user_${u}`].split(':');
      assert.ok(Number(uid) > 0 && Number(uid) < 1000, `${u} is a system user (uid ${uid})`);
      assert.equal(home, `/var/lib/coffer/${u}`);
      assert.equal(shell, '/usr/sbin/nologin');
    }
    assert.match(r.enabled, /cofferd\.service/, 'enabled: starts at boot once configured');
    assert.match(r.enabled, /keyvaultd\.service/);
    assert.equal(r.etc_coffer.trim(), '', 'no configuration shipped: nothing can start before the operator writes it');
    assert.equal(r.state.trim(), '', 'no state before the first start');
    assert.match(r.version, /^cofferd [\d.]+$/);
  });

  test('booted with its own systemd before it is configured, nothing of coffer runs; install-deps leaves docker-registry off: :5000 stays free', () => {
    const d = inRoot(['--', '/opt/coffer/scripts/install-deps', 'distribution']);
    assert.equal(d.status, 0, d.out);
    assert.match(d.out, /docker-registry\.service neither enabled nor started/);
    const q = inRoot(['--', '/bin/sh', '-c', 'echo "binary=$(command -v docker-registry)"; echo "masked=$(readlink /etc/systemd/system/docker-registry.service)"']);
    const f = kv(q.out);
    assert.equal(f.binary, '/usr/bin/docker-registry', 'the benchmark finds its peer');
    assert.equal(f.masked, '', 'not left masked: the operator may enable it');

    const { r, out } = bootCheck();
    for (const u of ['cofferd', 'keyvaultd']) {
      assert.equal(r[`enabled_${u}`], 'enabled', out);
      assert.equal(r[`active_${u}`], 'inactive', `${u} stopped until configured: ${out}`);
      assert.equal(r[`condition_${u}`], 'no', `${u} skipped by ConditionPathExists: ${out}`);
    }
    assert.equal(r['enabled_docker-registry'], 'disabled', out);
    assert.equal(r['active_docker-registry'], 'inactive', out);
    for (const p of [5000, 5001, 8443]) assert.equal(r[`port_${p}`], 'closed', `:${p}: ${out}`);
  });

  test('configured as docs/install.md says and started as their units say (start-unit), both daemons answer on their ports and work together', () => {
    const c = inRoot(['--net', '--', '/usr/local/sbin/configure-and-start']);
    const r = kv(c.out);
    const log = () => `${c.out}\n${inRoot(['--', '/bin/sh', '-c', 'tail -n 5 /var/log/start-unit/*.log']).out}`;
    assert.equal(r.error, undefined, log());
    assert.match(r.keyvaultd_start, /^running keyvaultd\.service \d+$/, log());
    assert.match(r.cofferd_start, /^running cofferd\.service \d+$/, log());
    assert.equal(r.v2_status, '401', 'the registry answers, and asks for credentials');
    assert.equal(r.mgmt_status, '401', 'the management API answers, and asks for the admin token');
    assert.equal(r.vault_default, 'default', 'the vault answers over TLS with its default vault');
    assert.equal(r.cmk_status, 'enabled available', `a CMK registry works across the two daemons: ${log()}`);
    assert.equal(r.user_cofferd, 'cofferd');
    assert.equal(r.user_keyvaultd, 'keyvaultd');
    assert.equal(r.state_cofferd, 'cofferd 700');
    assert.equal(r.state_keyvaultd, 'keyvaultd 700');
    assert.equal(r.token_mode, 'cofferd 600');
    assert.equal(r.cross_read, 'refused', "the registry's user cannot read the vault's master key");
    assert.equal(r.readonly_etc, 'refused');
    assert.equal(r.stop_cofferd, 'stopped', log());
    assert.equal(r.stop_keyvaultd, 'stopped', log());
  });

  test('booted with its own systemd once configured, both daemons run under the units\' hardening and the CMK registry is available', () => {
    const { r, out } = bootCheck();
    for (const u of ['cofferd', 'keyvaultd']) {
      assert.equal(r[`active_${u}`], 'active', `${u}: ${out}\n${readBootLog()}`);
      assert.equal(r[`user_${u}`], u, out);
      assert.equal(r[`nnp_${u}`], '1', 'NoNewPrivileges=');
      assert.equal(r[`seccomp_${u}`], '2', 'SystemCallFilter=: a seccomp filter is on');
      assert.equal(r[`capbnd_${u}`], '0000000000000000', 'CapabilityBoundingSet= empty');
      assert.equal(r[`root_${u}`], 'ro', 'ProtectSystem=strict');
    }
    for (const p of [5000, 5001, 8443]) assert.equal(r[`port_${p}`], 'open', `:${p}: ${out}`);
    assert.equal(r.cmk_key, 'available', `cofferd unwraps through keyvaultd under the filters: ${out}`);
  });
});

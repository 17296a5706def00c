// cli.mjs -- run build/coffer from end-to-end tests.
//
// cofferRunner(getEnv) gives three helpers over the environment getEnv()
// returns when called (tests fill it in before()):
//   coffer(args, extraEnv) -> {code, out, err, json}   extraEnv merges over
//                             it; a value of undefined removes the variable
//   ok(args, extraEnv)     coffer that must exit 0 with nothing on stderr
//   fails(args, code, extraEnv)  coffer that must exit 1 with exactly one
//                             line `ERROR: (<code>) <message>` and no stdout
//
// stackEnv(s, home, path) is the environment of a user of a startCmkStack()
// stack s: the CLI pointed at its management API and vault by variables,
// HOME and an empty config file (no defaults) in home.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD } from './daemons.mjs';

export function stackEnv(s, home, path = process.env.PATH) {
  const env = {
    PATH: path,
    HOME: home,
    COFFER_CONFIG: join(home, 'coffer.config'),
    COFFER_URL: s.mgmtUrl,
    COFFER_TOKEN: s.adminToken,
    COFFER_VAULT_URL: s.kv.url,
    COFFER_VAULT_TOKEN: s.kv.adminToken,
    COFFER_VAULT_CA: s.caPath,
  };
  writeFileSync(env.COFFER_CONFIG, '');
  return env;
}

export function cofferRunner(getEnv) {
  const coffer = (args, extraEnv = {}) => {
    const e = { ...getEnv(), ...extraEnv };
    for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
    const r = spawnSync(join(BUILD, 'coffer'), args, { env: e, encoding: 'utf8', timeout: 60000 });
    let json;
    try { json = r.stdout ? JSON.parse(r.stdout) : undefined; } catch { json = undefined; }
    return { code: r.status, out: r.stdout, err: r.stderr, json };
  };
  const ok = (args, extraEnv) => {
    const r = coffer(args, extraEnv);
    assert.equal(r.code, 0, `coffer ${args.join(' ')} -> ${r.code}\n${r.err}`);
    assert.equal(r.err, '');
    return r;
  };
  const fails = (args, code, extraEnv) => {
    const r = coffer(args, extraEnv);
    assert.equal(r.code, 1, `coffer ${args.join(' ')} -> ${r.code}\n${r.out}\n${r.err}`);
    assert.match(r.err, new RegExp(`^ERROR: \\(${code}\\) \\S`), r.err);
    assert.equal(r.err.split('\n').filter(Boolean).length, 1, 'one line');
    assert.equal(r.out, '');
    return r;
  };
  return { coffer, ok, fails };
}

// cli.mjs -- run build/coffer from end-to-end tests.
//
// cofferRunner(getEnv) gives three helpers over the environment getEnv()
// returns when called (tests fill it in before()):
//   coffer(args, extraEnv) -> {code, out, err, json}   extraEnv merges over
//                             it; a value of undefined removes the variable
//   ok(args, extraEnv)     coffer that must exit 0 with nothing on stderr
//   fails(args, code, extraEnv)  coffer that must exit 1 with exactly one
//                             line `ERROR: (<code>) <message>` and no stdout
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BUILD } from './daemons.mjs';

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

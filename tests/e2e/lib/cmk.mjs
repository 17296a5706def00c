// cmk.mjs -- a customer-managed-key stack for end-to-end tests: the real
// keyvaultd and the real cofferd, wired the way a user wires them.
//
//   const s = await startCmkStack({ cofferdArgs: ['--vault-timeout', '2'] });
//   const mi = await s.createIdentity('mi1');            // cofferd mgmt API
//   await s.createVault('cmkvault');                      // purge protection on
//   await s.grant('cmkvault', mi.principalId);            // get, wrapKey, unwrapKey
//   const key = await s.createKey('cmkvault', 'k1');      // { id, kid, version, bundle }
//   const r = await s.createCmkRegistry('reg1', { keyId: key.id, identity: mi });
//   await s.restartCofferd();                              // same ports, same data
//
// The ordering problem: keyvaultd must trust cofferd's token issuer
// (issuer http(s)://127.0.0.1:<mgmt port>, JWKS at .../jwks), so it needs that
// port in its config before it starts; cofferd needs keyvaultd's TLS
// certificate (--vault-ca), which exists only once keyvaultd has started.
// So node picks free ports for cofferd's two listeners first, keyvaultd
// starts with the issuer entry naming the management port, then cofferd
// starts on exactly those ports. A restart of cofferd reuses both ports and
// its data dir, so keyvaultd's issuer entry, key identifiers and image
// references stay valid.
//
// cofferd runs with --tenant set to the tenant the keyvaultd helpers put on
// their vaults and access policies (vault.mjs TENANT), so its tokens pass
// keyvaultd's tenant check as a real tenant's would.
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import https from 'node:https';
import assert from 'node:assert/strict';
import { BUILD, startDaemon, freshDir, freePort, metaRows } from './daemons.mjs';
import { startKeyvaultd, request, TENANT, API } from './vault.mjs';
import { OciClient, sha256, tempDir } from './oci.mjs';
import { readLayout, skopeo } from './images.mjs';

// The permissions a CMK identity needs on its key (ACR: Get, Wrap Key, Unwrap Key).
export const CMK_PERMS = ['get', 'wrapKey', 'unwrapKey'];



export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn() (async) every intervalMs until it returns a truthy value, which
// it returns; fails after timeoutMs with `what` and the last value seen (or
// the last error thrown).
export async function waitFor(what, fn, { timeoutMs = 15000, intervalMs = 200 } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  let lastErr;
  for (;;) {
    try {
      last = await fn();
      lastErr = undefined;
      if (last) return last;
    } catch (e) { lastErr = e; }
    if (Date.now() >= end) {
      const seen = lastErr ? `last error: ${lastErr.message}` : `last value: ${JSON.stringify(last)}`;
      assert.fail(`timed out after ${timeoutMs} ms waiting for: ${what}; ${seen}`);
    }
    await sleep(intervalMs);
  }
}

// opts.cofferdArgs: extra cofferd arguments; opts.keyCheckInterval (default 1);
// opts.auth: authenticate the data plane (default: --insecure-no-auth, these
// tests are about keys); opts.trustedService: keyvaultd counts cofferd's
// issuer as a trusted service, which a vault's network rules let through
// with bypass AzureServices (default true, as scripts/run-demo wires it);
// opts.embedded: SQLite and files in the data directory whatever backends
// the suite runs on (the migration's source). s.restartCofferd(backend)
// restarts it, with backend (flags) instead of the embedded ones when given.
// opts.issuerTls {cert, key, ca}: cofferd's management API, the identity
// issuer, serves that certificate, so the issuer is https:// and keyvaultd
// fetches its JWKS over TLS, verifying it against opts.issuerCaFile
// (default issuerTls.ca), as docs/tls.md wires it.
export async function startCmkStack(opts = {}) {
  const mgmtPort = await freePort();
  const dataPort = await freePort();
  const itls = opts.issuerTls;
  const issuer = `${itls ? 'https' : 'http'}://127.0.0.1:${mgmtPort}`;
  const kv = await startKeyvaultd({ issuers: [{ issuer, jwks_url: `${issuer}/jwks`,
    ...(itls ? { ca_file: opts.issuerCaFile || itls.ca } : {}),
    ...(opts.trustedService === false ? {} : { trusted_service: true }) }] });
  const caPath = join(kv.dataDir, 'tls', 'cert.pem');
  const dataDir = tempDir('coffer-cmk-data-');
  const cofferArgs = ['--data', dataDir, '--listen', `127.0.0.1:${dataPort}`,
    '--mgmt-listen', `127.0.0.1:${mgmtPort}`, '--key-check-interval', String(opts.keyCheckInterval || 1),
    '--vault-ca', caPath, '--tenant', TENANT, ...(opts.auth ? [] : ['--insecure-no-auth']),
    ...(itls ? ['--mgmt-tls-cert', itls.cert, '--mgmt-tls-key', itls.key] : []),
    ...(opts.cofferdArgs || [])];
  let backend = opts.embedded ? ['--database', join(dataDir, 'cofferd.db'), '--objects', 'files'] : [];
  // One JSON request on a connection of its own (no pooled socket survives
  // a cofferd restart); never throws for a status. Over TLS it trusts the
  // issuer's CA only.
  const mgmtAgent = itls ? new https.Agent({ ca: readFileSync(itls.ca), keepAlive: false }) : false;
  const httpJson = (url, o = {}) => request(url, { ...o, agent: mgmtAgent });
  const logs = [];

  async function startCoffer() {
    const logPath = join(tempDir('coffer-cmk-log-'), 'cofferd.log');
    logs.push(logPath);
    // Two "listening" lines: the data plane and the management API.
    return startDaemon('cofferd', [...cofferArgs, ...backend], { listeners: 2, logPath, timeoutMs: 20000 });
  }

  const s = {
    kv, dataDir, mgmtPort, dataPort, issuer, caPath, logs,
    cofferd: await startCoffer(),
    mgmtUrl: issuer,
    dataUrl: `http://127.0.0.1:${dataPort}`,
  };
  s.adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();

  // Every cofferd log of this stack (all starts), for failure messages.
  s.cofferdLog = () => logs.map((p) => { try { return readFileSync(p, 'utf8'); } catch { return ''; } }).join('\n--- restart ---\n');

  s.restartCofferd = async (other = null) => {
    await s.cofferd.stop();
    if (other) backend = other;
    s.cofferd = await startCoffer();
    return s.cofferd;
  };

  // ---- management API (admin token)
  s.mgmt = (method, path, body, headers = {}) => httpJson(`${s.mgmtUrl}${path}`,
    { method, body, headers: { authorization: `Bearer ${s.adminToken}`, ...headers } });
  // Same, but fails the test unless the status is one of ok.
  s.mgmtOk = async (method, path, body, ok = [200, 201]) => {
    const r = await s.mgmt(method, path, body);
    assert.ok(ok.includes(r.status), `${method} ${path}: wanted ${ok}, got ${r.status} ${r.text}`);
    return r.json;
  };

  s.createIdentity = (name) => s.mgmtOk('PUT', `/identities/${name}`, {});
  s.getRegistry = (name) => s.mgmtOk('GET', `/registries/${name}`);
  s.encryption = async (name) => (await s.getRegistry(name)).properties.encryption;
  s.kvp = async (name) => (await s.encryption(name)).keyVaultProperties;
  s.check = (name) => s.mgmtOk('POST', `/registries/${name}/encryption/check`);

  // The body `az acr create --identity <mi> --key-encryption-key <keyId> --sku <sku>` sends.
  s.cmkBody = ({ keyId, identity, sku = 'Premium', clientId }) => ({
    sku: { name: sku },
    identity: { type: 'UserAssigned', userAssignedIdentities: { [identity.id]: {} } },
    properties: {
      encryption: {
        status: 'enabled',
        keyVaultProperties: { keyIdentifier: keyId, identity: clientId || identity.clientId },
      },
    },
  });
  // Raw answer (tests check refusals too).
  s.createCmkRegistry = (name, o) => s.mgmt('PUT', `/registries/${name}`, s.cmkBody(o));
  s.patchRegistry = (name, body) => s.mgmt('PATCH', `/registries/${name}`, body);
  // rotate-key: PATCH keyVaultProperties (keyIdentifier and/or identity).
  s.rotateKey = (name, kvp) => s.patchRegistry(name, { properties: { encryption: { keyVaultProperties: kvp } } });

  // ---- keyvaultd (admin token): vaults, policies, keys
  s.createVault = (name, { purgeProtection = true } = {}) =>
    kv.admin.createVault(name, { enablePurgeProtection: purgeProtection });
  s.grant = (vault, principalId, perms = CMK_PERMS) => kv.admin.allow(vault, principalId, perms);
  s.revokeAll = (vault, principalId) => kv.admin.disallow(vault, principalId, []);
  // Non-versioned key identifier of vault/name, at keyvaultd or at base (a proxy's URL).
  s.keyId = (vault, name, base) => `${base ? base(vault) : kv.vaultUrl(vault)}/keys/${name}`;
  const kvCall = async (vault, method, path, body, ok = [200]) => {
    const r = await kv.request(`${path}${path.includes('?') ? '&' : '?'}${API}`, { method, body, admin: true, vault });
    assert.ok(ok.includes(r.status), `keyvaultd ${method} ${vault}${path}: wanted ${ok}, got ${r.status} ${r.text}`);
    return r.json;
  };
  s.kvCall = kvCall;
  const keyInfo = (vault, name, bundle) => {
    const kid = bundle.key.kid;
    return { vault, name, kid, version: kid.split('/').pop(), id: s.keyId(vault, name), bundle };
  };
  s.createKey = async (vault, name, { kty = 'RSA', size, curve } = {}) => {
    const body = { kty };
    if (kty.startsWith('RSA')) body.key_size = size || 2048;
    else body.crv = curve || 'P-256';
    return keyInfo(vault, name, await kvCall(vault, 'POST', `/keys/${name}/create`, body));
  };
  s.rotateVaultKey = async (vault, name) => keyInfo(vault, name, await kvCall(vault, 'POST', `/keys/${name}/rotate`));
  s.getKey = async (vault, name, version) =>
    keyInfo(vault, name, await kvCall(vault, 'GET', `/keys/${name}${version ? `/${version}` : ''}`));
  s.setKeyEnabled = (vault, name, version, enabled) =>
    kvCall(vault, 'PATCH', `/keys/${name}/${version}`, { attributes: { enabled } });
  s.deleteKey = (vault, name) => kvCall(vault, 'DELETE', `/keys/${name}`);
  s.recoverKey = (vault, name) => kvCall(vault, 'POST', `/deletedkeys/${name}/recover`);
  // Admin unwrap (to find out what a wrapped value holds).
  s.adminUnwrap = async (versionedKid, wrapped) => {
    const u = new URL(versionedKid);
    const vault = u.hostname.endsWith('.vault.localhost') ? u.hostname.split('.')[0] : 'default';
    const j = await kvCall(vault, 'POST', `${u.pathname}/unwrapkey`,
      { alg: 'RSA-OAEP-256', value: Buffer.from(wrapped).toString('base64url') });
    return Buffer.from(j.value, 'base64url');
  };

  // ---- data plane
  s.ref = (registry, repo = 'app') => `127.0.0.1:${dataPort}/${registry}/${repo}`;
  s.oci = (registry, repo = 'app') => new OciClient(s.dataUrl, `${registry}/${repo}`);
  s.push = (layout, registry, tag = 'v1', repo = 'app') => skopeo(['copy', '--preserve-digests',
    '--dest-tls-verify=false', `oci:${layout}:${tag}`, `docker://${s.ref(registry, repo)}:${tag}`]);
  // Pulls registry/repo:tag with skopeo into a fresh layout and asserts that
  // every blob equals the source layout's (what = context for messages).
  s.pullSame = async (layout, registry, what, tag = 'v1', repo = 'app') => {
    const src = readLayout(layout, tag);
    const dst = join(tempDir('coffer-cmk-pull-'), 'layout');
    await skopeo(['copy', '--preserve-digests', '--src-tls-verify=false',
      `docker://${s.ref(registry, repo)}:${tag}`, `oci:${dst}:${tag}`]);
    const got = readLayout(dst, tag);
    assert.equal(got.digest, src.digest, `${what}: manifest digest`);
    assert.deepEqual(got.layers, src.layers, `${what}: layer digests`);
    for (const dg of [got.digest, got.configDigest, ...got.layers]) {
      const b = got.blob(dg);
      assert.equal(sha256(b), dg, `${what}: pulled blob ${dg} hashes to its digest`);
      assert.ok(b.equals(src.blob(dg)), `${what}: pulled blob ${dg} equals the pushed bytes`);
    }
    assert.equal(readdirSync(join(dst, 'blobs', 'sha256')).length, 2 + src.layers.length,
      `${what}: manifest, config and every layer pulled`);
    return got;
  };
  // Raw reads through the OCI API (status + body), no client retries: the
  // manifest by tag and the first layer blob.
  s.rawReads = async (layout, registry, tag = 'v1', repo = 'app') => {
    const src = readLayout(layout, tag);
    const c = s.oci(registry, repo);
    return { manifest: await c.getManifest(tag), blob: await c.get(`/blobs/${src.layers[0]}`), src };
  };

  // Waits (bounded) until the data plane serves registry's manifest: the
  // key state in the row and the KEK in memory change in one key check,
  // not atomically for an observer.
  s.waitServes = (layout, registry, what, tag = 'v1', repo = 'app') =>
    waitFor(`${what}: the data plane serves ${registry}`, async () => {
      const r = await s.oci(registry, repo).getManifest(tag);
      assert.equal(r.status, 200, `manifest: ${r.status} ${r.body}`);
      return true;
    }, { timeoutMs: 5000 });

  // ---- the metadata (read-only; SQLite or PostgreSQL, daemons.mjs metaRows):
  // rows as objects; query is text both engines accept or { sqlite, postgres }
  s.sqlRows = (query) => metaRows(dataDir, query);

  s.stop = async () => {
    try { kv.proc.kill('SIGCONT'); } catch { /* not stopped */ }
    await s.cofferd.stop();
    await kv.stop();
    if (!process.env.KEEP_E2E_DIRS) rmSync(dirname(kv.configPath), { recursive: true, force: true });
  };
  return s;
}

export { freshDir, readLayout };

// vault.mjs -- keyvaultd for end-to-end tests: the daemon, a test token
// issuer, a SoftHSM2 token, and clients that trust the daemon's own TLS
// certificate.
//
// The pieces, and why they are shaped this way:
//
//   createIssuer()    a JWT issuer in plain node:crypto. It owns one RSA key
//                     and one EC P-256 key, writes their public halves as a
//                     JWKS file (each with a kid) for keyvaultd's config, and
//                     signs RS256/ES256 tokens with whatever claims a test
//                     chooses. issuer.credential(claims) is a TokenCredential
//                     for the Azure SDK; it records the scopes it was asked
//                     for, so a test can check the challenge flow.
//   createSoftHsm()   a fresh SoftHSM2 token store in a temp dir
//                     (softhsm2.conf + softhsm2-util --init-token); keyvaultd
//                     gets SOFTHSM2_CONF in its environment and a "pkcs11"
//                     block in its config.
//   startKeyvaultd()  build/keyvaultd on 127.0.0.1:0 with a fresh data dir;
//                     the handle carries the URL, the admin token, the CA
//                     (DIR/tls/cert.pem), an https.Agent trusting only that
//                     CA, raw request helpers and management helpers.
//
// TLS trust without weakening anything: NODE_EXTRA_CA_CERTS is read only at
// process start, and disabling verification would make the tests lie. The
// Azure SDK's pipeline takes an `agent` option (core-rest-pipeline
// agentPolicy), so each client gets an https.Agent whose `ca` is exactly the
// daemon's certificate. The same agent resolves names under ".localhost" to
// 127.0.0.1 (what `curl --resolve` does), so a vault other than `default`
// can be reached by its own host name <vault>.vault.localhost:PORT, which
// the daemon's certificate covers (SAN DNS:*.vault.localhost). Raw requests
// go through node:https with the same agent.
import { generateKeyPairSync, createSign, createHmac, randomUUID, sign as cryptoSign, createPublicKey } from 'node:crypto';
import { writeFileSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import dns from 'node:dns';
import { startDaemon, freshDir } from './daemons.mjs';

export const RESOURCE = 'https://vault.azure.net';
export const AUTHORIZATION = 'https://login.coffer.test/tenant';
export const ISSUER = 'https://issuer.test/';
export const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

// ---------------------------------------------------------------- base64url

export const b64u = (buf) => Buffer.from(buf).toString('base64url');
export const unb64u = (s) => Buffer.from(s, 'base64url');
const b64uJson = (obj) => b64u(JSON.stringify(obj));

// ------------------------------------------------------------------ issuer

// opts.issuer, opts.audience: defaults for every token; opts.dir: where the
// JWKS file goes. Returns the issuer object (see the file header).
export function createIssuer(opts = {}) {
  const dir = opts.dir || freshDir('coffer-issuer-');
  const iss = opts.issuer || ISSUER;
  const aud = opts.audience || RESOURCE;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsaKid = `rsa-${randomUUID().slice(0, 8)}`;
  const ecKid = `ec-${randomUUID().slice(0, 8)}`;
  const jwks = {
    keys: [
      { ...rsa.publicKey.export({ format: 'jwk' }), kid: rsaKid, alg: 'RS256', use: 'sig' },
      { ...ec.publicKey.export({ format: 'jwk' }), kid: ecKid, alg: 'ES256', use: 'sig' },
    ],
  };
  const jwksPath = join(dir, 'jwks.json');
  writeFileSync(jwksPath, JSON.stringify(jwks, null, 2));

  // The default claims of a token for caller `oid`: valid for an hour.
  function claimsFor(extra = {}) {
    const now = Math.floor(Date.now() / 1000);
    return {
      iss, aud, tid: TENANT, iat: now, nbf: now - 5, exp: now + 3600,
      oid: extra.oid || randomUUID(), appid: randomUUID(),
      ...extra,
    };
  }

  // A signed token. claims: merged over claimsFor() (set a claim to
  // undefined to drop it). o.alg: 'RS256' (default) or 'ES256'; o.kid
  // overrides the header kid; o.header merges into the header.
  function token(claims = {}, o = {}) {
    const full = claimsFor(claims);
    for (const k of Object.keys(full)) if (full[k] === undefined) delete full[k];
    const alg = o.alg || 'RS256';
    const header = { alg, typ: 'JWT', kid: o.kid || (alg === 'ES256' ? ecKid : rsaKid), ...(o.header || {}) };
    const input = `${b64uJson(header)}.${b64uJson(full)}`;
    let sig;
    if (alg === 'RS256') sig = createSign('sha256').update(input).sign(rsa.privateKey);
    else if (alg === 'ES256') sig = cryptoSign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
    else throw new Error(`issuer: cannot sign ${alg}`);
    return `${input}.${b64u(sig)}`;
  }

  // Attacks on the verifier, each a token a correct verifier refuses.
  const forged = {
    // {"alg":"none"} and an empty signature.
    algNone(claims = {}) {
      const input = `${b64uJson({ alg: 'none', typ: 'JWT', kid: rsaKid })}.${b64uJson(claimsFor(claims))}`;
      return `${input}.`;
    },
    // HS256 with the issuer's *public* RSA key (PEM text, as published) as
    // the HMAC secret: the classic algorithm-confusion forgery.
    hs256WithPublicKey(claims = {}) {
      const input = `${b64uJson({ alg: 'HS256', typ: 'JWT', kid: rsaKid })}.${b64uJson(claimsFor(claims))}`;
      const secret = rsa.publicKey.export({ type: 'spki', format: 'pem' });
      return `${input}.${b64u(createHmac('sha256', secret).update(input).digest())}`;
    },
    // A valid token whose payload is then changed (oid swapped), keeping
    // the original signature.
    tampered(claims = {}) {
      const t = token(claims).split('.');
      const payload = JSON.parse(unb64u(t[1]).toString());
      payload.oid = randomUUID();
      return `${t[0]}.${b64uJson(payload)}.${t[2]}`;
    },
    // Signed by a key nobody published, under a kid the JWKS does not hold.
    unknownKid(claims = {}) {
      const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const input = `${b64uJson({ alg: 'RS256', typ: 'JWT', kid: 'not-in-jwks' })}.${b64uJson(claimsFor(claims))}`;
      return `${input}.${b64u(createSign('sha256').update(input).sign(other.privateKey))}`;
    },
    // Signed by an unpublished key under a kid the JWKS *does* hold.
    wrongKey(claims = {}) {
      const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const input = `${b64uJson({ alg: 'RS256', typ: 'JWT', kid: rsaKid })}.${b64uJson(claimsFor(claims))}`;
      return `${input}.${b64u(createSign('sha256').update(input).sign(other.privateKey))}`;
    },
  };

  // A TokenCredential (@azure/core-auth) for caller `claims.oid`. Every
  // getToken call mints a fresh token; scopes asked for are kept in
  // cred.scopes.
  function credential(claims = {}, o = {}) {
    const oid = claims.oid || randomUUID();
    const appid = claims.appid || randomUUID();
    const cred = {
      oid, appid, scopes: [], calls: 0,
      async getToken(scopes) {
        cred.calls++;
        cred.scopes.push(...[].concat(scopes));
        const t = token({ ...claims, oid, appid }, o);
        const exp = JSON.parse(unb64u(t.split('.')[1]).toString()).exp;
        return { token: t, expiresOnTimestamp: exp * 1000 };
      },
    };
    return cred;
  }

  return {
    issuer: iss, audience: aud, jwksPath, jwks, rsaKid, ecKid, dir,
    claimsFor, token, forged, credential,
    // The config entry keyvaultd needs for this issuer.
    config: () => ({ issuer: iss, jwks_file: jwksPath, audience: aud }),
  };
}

// ----------------------------------------------------------------- SoftHSM2

// A fresh token "coffer" (user PIN 1234, SO PIN 5678) in its own directory.
export function createSoftHsm(opts = {}) {
  const dir = opts.dir || freshDir('coffer-softhsm-');
  const label = opts.label || 'coffer';
  const pin = opts.pin || '1234';
  mkdirSync(join(dir, 'tokens'), { recursive: true });
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, [
    `directories.tokendir = ${join(dir, 'tokens')}`,
    'objectstore.backend = file',
    'log.level = ERROR',
    'slots.removable = false',
    '',
  ].join('\n'));
  const env = { SOFTHSM2_CONF: conf };
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', opts.soPin || '5678'],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return {
    dir, conf, env, label, pin,
    config: () => ({ module: SOFTHSM_MODULE, token_label: label, pin }),
  };
}

// ------------------------------------------------------------------- https

// An https.Agent that trusts exactly `ca` and resolves *.localhost to
// 127.0.0.1 (every other name through the system resolver).
// opts.localAddress: the client's own address (e.g. 127.0.0.2: any of
// 127.0.0.0/8 is this host's, so a vault's network rules can see
// another client address without another machine).
export function makeAgent(ca, opts = {}) {
  const lookup = (hostname, options, cb) => {
    if (typeof options === 'function') { cb = options; options = {}; }
    if (hostname === 'localhost' || hostname.endsWith('.localhost')) {
      if (options && options.all) return cb(null, [{ address: '127.0.0.1', family: 4 }]);
      return cb(null, '127.0.0.1', 4);
    }
    return dns.lookup(hostname, options, cb);
  };
  return new https.Agent({ ca, keepAlive: true, maxSockets: opts.maxSockets || 16, lookup,
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
}

// One request over https or http (by the URL). Returns { status, headers,
// text, json }. body: object (sent as JSON), string or Buffer. agent: false
// for a connection of its own. Never throws for an HTTP status.
export function request(url, { method = 'GET', headers = {}, body, agent, token } = {}) {
  const u = new URL(url);
  const h = { ...headers };
  let payload;
  if (body !== undefined) {
    payload = Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body);
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
    h['content-length'] = Buffer.byteLength(payload);
  }
  if (token) h.authorization = `Bearer ${token}`;
  const mod = u.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method, headers: h, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

// --------------------------------------------------------------- keyvaultd

export const API = 'api-version=7.4';
export const SDK_API = 'api-version=2025-07-01';

// Starts keyvaultd. opts: issuers (array of issuer objects from
// createIssuer, or raw config entries), hsm (from createSoftHsm), config
// (merged over the generated config), dataDir, args, env, caFile (the CA
// that signs a configured "tls" certificate; default DIR/tls/cert.pem).
// d.stop() removes the data dir it made and the SoftHSM token dir (not
// the config dir with the log); KEEP_E2E_DIRS=1 keeps everything.
export async function startKeyvaultd(opts = {}) {
  const ownData = !opts.dataDir;
  const dataDir = opts.dataDir || join(freshDir('coffer-kv-'), 'data');
  const cfgDir = freshDir('coffer-kvcfg-');
  const config = {
    vault_domain: 'vault.localhost',
    default_vault: 'default',
    resource: RESOURCE,
    authorization: AUTHORIZATION,
    issuers: (opts.issuers || []).map((i) => (typeof i.config === 'function' ? i.config() : i)),
    ...(opts.hsm ? { pkcs11: opts.hsm.config() } : {}),
    ...(opts.config || {}),
  };
  const configPath = join(cfgDir, 'keyvaultd.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const env = { ...(opts.hsm ? opts.hsm.env : {}), ...(opts.env || {}) };
  const d = await startDaemon('keyvaultd',
    ['--data', dataDir, '--listen', '127.0.0.1:0', '--config', configPath, ...(opts.args || [])],
    { env, logPath: `${cfgDir}/keyvaultd.log` });
  d.dataDir = dataDir;
  d.config = config;
  d.configPath = configPath;
  d.url = `https://127.0.0.1:${d.port}`;
  d.ca = readFileSync(opts.caFile || join(dataDir, 'tls', 'cert.pem'));
  d.adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  d.agent = makeAgent(d.ca);
  // URL of vault `name` reached by its host name ("default" = d.url).
  d.vaultUrl = (name) => (!name || name === 'default' ? d.url : `https://${name}.vault.localhost:${d.port}`);
  // Raw request against this daemon; path may carry a query. o.vault
  // picks the host, o.token the bearer (o.admin: the admin token).
  d.request = (path, o = {}) => request(`${d.vaultUrl(o.vault)}${path}`, {
    ...o, agent: d.agent, token: o.admin ? d.adminToken : o.token,
  });
  d.admin = adminApi(d);
  const stop = d.stop.bind(d);
  d.stop = async () => {
    d.agent.destroy();
    const res = await stop();
    if (!process.env.KEEP_E2E_DIRS) {
      if (ownData) rmSync(dirname(dataDir), { recursive: true, force: true });
      if (opts.hsm) rmSync(opts.hsm.dir, { recursive: true, force: true });
    }
    return res;
  };
  return d;
}

// Management API helpers (admin token). Each throws on an unexpected status
// with the response body, so a test failing here says why.
function adminApi(d) {
  const call = async (method, path, body, ok = [200, 201, 204]) => {
    const r = await d.request(path, { method, body, admin: true });
    if (!ok.includes(r.status)) throw new Error(`${method} ${path} -> ${r.status} ${r.text}`);
    return r.json;
  };
  return {
    call,
    createVault: (name, properties = {}) => call('PUT', `/vaults/${name}`,
      { properties: { tenantId: TENANT, ...properties } }),
    getVault: (name) => call('GET', `/vaults/${name}`),
    patchVault: (name, properties) => call('PATCH', `/vaults/${name}`, { properties }),
    deleteVault: (name) => call('DELETE', `/vaults/${name}`),
    // Give object id `oid` the key permissions `keys` on `vault`.
    allow: (vault, oid, keys) => call('PUT', `/vaults/${vault}/accessPolicies/add`,
      { properties: { accessPolicies: [{ tenantId: TENANT, objectId: oid, permissions: { keys } }] } }),
    disallow: (vault, oid, keys = []) => call('PUT', `/vaults/${vault}/accessPolicies/remove`,
      { properties: { accessPolicies: [{ tenantId: TENANT, objectId: oid, permissions: { keys } }] } }),
    audit: async (filters = {}) => {
      const q = new URLSearchParams(filters).toString();
      return (await call('GET', `/audit${q ? `?${q}` : ''}`)).value;
    },
  };
}

// Client options for the Azure SDK against daemon `d`.
export function sdkOptions(d, extra = {}) {
  return {
    disableChallengeResourceVerification: true,
    agent: d.agent,
    retryOptions: { maxRetries: 0 },
    ...extra,
  };
}

// Every key permission there is (the "all" grant spelled out).
export const ALL_KEY_PERMISSIONS = ['get', 'list', 'create', 'update', 'import', 'delete', 'recover', 'purge',
  'backup', 'restore', 'wrapKey', 'unwrapKey', 'encrypt', 'decrypt', 'sign', 'verify', 'rotate',
  'getrotationpolicy', 'setrotationpolicy'];

// Public key (KeyObject) of a KeyVaultKey's JWK from the SDK.
export function publicKeyOf(vaultKey) {
  const k = vaultKey.key;
  if (k.kty === 'RSA' || k.kty === 'RSA-HSM') {
    return createPublicKey({ key: { kty: 'RSA', n: b64u(k.n), e: b64u(k.e) }, format: 'jwk' });
  }
  return createPublicKey({ key: { kty: 'EC', crv: k.crv, x: b64u(k.x), y: b64u(k.y) }, format: 'jwk' });
}

// tls.mjs -- certificates and TLS probes for end-to-end tests, made the way
// docs/tls.md tells an operator to make them: the openssl command line, a
// private CA, server certificates it signs (SAN IP:127.0.0.1 and
// DNS:localhost), keys 0600.
//
//   const ca = makeCa();                          // { dir, cert, key, certDir }
//   const s = issueCert(ca, { name: 'cofferd' });  // { cert, key } (paths)
//   await handshake(port, { version: 'TLSv1.2', ca: ca.cert })  -> { ok, protocol, cipher, fingerprint }
//   sClient(port, '-tls1')                        -> { ok, out } (OpenSSL's own client)
//
// ca.certDir is a directory holding ca.crt only: what skopeo's
// --src-cert-dir/--dest-cert-dir and podman's --cert-dir read.
import { execFileSync, execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { freshDir } from './daemons.mjs';

const openssl = (args, opts = {}) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });

// A private CA (ECDSA P-256, 10 years) in a fresh directory.
export function makeCa({ name = 'coffer test CA', dir = freshDir('coffer-ca-') } = {}) {
  const cert = join(dir, 'ca.pem');
  const key = join(dir, 'ca.key');
  openssl(['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '3650', '-subj', `/O=coffer tests/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  chmodSync(key, 0o600);
  const certDir = join(dir, 'certs.d');
  mkdirSync(certDir);
  copyFileSync(cert, join(certDir, 'ca.crt'));
  return { dir, cert, key, certDir };
}

// A server certificate signed by ca: { cert, key } paths in o.dir (a fresh
// directory by default). o.sans (default IP:127.0.0.1, DNS:localhost),
// o.days (default 30), o.keyType 'ec' (default) or 'rsa'.
export function issueCert(ca, o = {}) {
  const dir = o.dir || freshDir('coffer-cert-');
  const name = o.name || 'server';
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  const keyArgs = o.keyType === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  openssl(['req', '-new', ...keyArgs, '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  chmodSync(key, 0o600);
  writeFileSync(ext, [
    `subjectAltName=${(o.sans || ['IP:127.0.0.1', 'DNS:localhost']).join(',')}`,
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    '',
  ].join('\n'));
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(16).toString('hex')}`,
    '-days', String(o.days || 30), '-extfile', ext, '-out', cert]);
  return { cert, key, dir };
}

// SHA-256 fingerprint (lowercase hex, no colons) of a PEM certificate file:
// what cofferd and keyvaultd log as "sha256".
export function fingerprintOf(certPath) {
  return new X509Certificate(readFileSync(certPath)).fingerprint256.replace(/:/g, '').toLowerCase();
}

// One TLS handshake to 127.0.0.1:port with node's TLS client. o.ca: PEM
// file to trust (none: the system bundle, i.e. an untrusted private CA);
// o.version pins min and max ('TLSv1.2', 'TLSv1.3'). Resolves { ok,
// protocol, cipher, fingerprint, error } and never rejects.
export function handshake(port, o = {}) {
  return new Promise((resolve) => {
    const opts = { host: '127.0.0.1', port, servername: undefined };
    if (o.ca) opts.ca = readFileSync(o.ca);
    if (o.version) { opts.minVersion = o.version; opts.maxVersion = o.version; }
    const s = tls.connect(opts, () => {
      const c = s.getPeerCertificate();
      resolve({ ok: true, protocol: s.getProtocol(), cipher: s.getCipher().name,
        fingerprint: c.fingerprint256.replace(/:/g, '').toLowerCase() });
      s.end();
    });
    s.setTimeout(10000, () => { s.destroy(); resolve({ ok: false, error: 'timeout' }); });
    s.on('error', (e) => resolve({ ok: false, error: `${e.code || ''} ${e.message}` }));
  });
}

// `openssl s_client -connect 127.0.0.1:port <versionFlag>` with OpenSSL's
// own policy floor removed (OPENSSL_CONF=/dev/null, @SECLEVEL=0), so the
// client really offers TLS 1.0 or 1.1 when asked and only the server can
// refuse. cipher: a TLS 1.2 cipher list to offer instead of all of them.
// Resolves { ok (a cipher was agreed), cipher, out }.
export function sClient(port, versionFlag, cipher = 'DEFAULT') {
  return new Promise((resolve) => {
    execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, versionFlag, '-cipher', `${cipher}:@SECLEVEL=0`],
      { env: { ...process.env, OPENSSL_CONF: '/dev/null' }, timeout: 15000, input: '' },
      (err, stdout, stderr) => {
        const out = `${stdout}${stderr}`;
        const m = /Cipher is (\S+)/.exec(out);
        resolve({ ok: !err && !!m && m[1] !== '(NONE)', out, cipher: m ? m[1] : null });
      }).stdin.end();
  });
}

// faultproxy.mjs -- an HTTPS reverse proxy in front of keyvaultd that can be
// switched, at runtime, to behave like a sick vault. It is the one mock the
// CMK tests allow: a vault answering 500s, or accepting a connection and
// never answering, cannot be caused in the real keyvaultd on demand.
//
//   const p = await startFaultProxy(kv);      // kv: startKeyvaultd() handle
//   p.url                                      // https://127.0.0.1:PORT
//   p.vaultUrl('cmkvault')                     // https://cmkvault.vault.localhost:PORT
//   p.set('fail500') | p.set('hang') | p.set({ delay: 3000 }) | p.set('pass')
//   p.set({ delay: 1500, only: (req) => req.method === 'GET' })
//   p.stats                                    // requests seen per mode
//   p.held                                     // delayed requests not yet forwarded
//
// It serves with keyvaultd's own certificate and key (DIR/tls/cert.pem and
// DIR/tls/key.pem, see src/vault/tls.c; SAN IP:127.0.0.1 and
// DNS:*.vault.localhost), so a client that trusts keyvaultd (cofferd
// --vault-ca) trusts the proxy, and forwards every request unchanged (Host
// header included: keyvaultd picks the vault from it and builds key ids
// from it, so the ids it answers name the proxy) to keyvaultd.
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const AZURE_500 = JSON.stringify({
  error: { code: 'InternalServerError', message: 'The fault proxy answers 500: injected vault fault.' },
});

export async function startFaultProxy(kv) {
  const cert = readFileSync(join(kv.dataDir, 'tls', 'cert.pem'));
  const key = readFileSync(join(kv.dataDir, 'tls', 'key.pem'));
  const upstream = new https.Agent({ ca: kv.ca, keepAlive: true });
  let mode = 'pass';
  const stats = { pass: 0, fail500: 0, hang: 0, delay: 0 };
  const hung = new Set();
  let held = 0; // delayed requests not yet forwarded
  const sockets = new Set();

  function forward(req, res, body) {
    const up = https.request({
      host: '127.0.0.1', port: kv.port, method: req.method, path: req.url,
      headers: req.headers, agent: upstream, servername: 'localhost',
    }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
    up.end(body);
  }

  const server = https.createServer({ cert, key }, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const m = mode;
      if (m === 'fail500') {
        stats.fail500++;
        res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        res.end(AZURE_500);
      } else if (m === 'hang') {
        stats.hang++;
        hung.add(res); // accepted, read, never answered
      } else if (typeof m === 'object' && m.delay && (!m.only || m.only(req))) {
        stats.delay++;
        held++;
        setTimeout(() => { held--; forward(req, res, body); }, m.delay);
      } else {
        stats.pass++;
        forward(req, res, body);
      }
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;

  return {
    port,
    url: `https://127.0.0.1:${port}`,
    vaultUrl: (name) => (!name || name === 'default' ? `https://127.0.0.1:${port}` : `https://${name}.vault.localhost:${port}`),
    stats,
    get held() { return held; },
    get mode() { return mode; },
    // 'pass' | 'fail500' | 'hang' | { delay: ms, only?: (req) => bool }
    // (only: delay just the requests it accepts, pass the others)
    set(m) { mode = m; },
    async close() {
      for (const res of hung) { try { res.destroy(); } catch { /* gone */ } }
      for (const s of sockets) s.destroy();
      upstream.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

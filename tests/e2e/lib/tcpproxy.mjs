// tcpproxy.mjs -- a TCP proxy between one cofferd node and PostgreSQL, for
// the network partition test (docs/scale-out.md "Faults"): the one piece
// of the cluster tests that stands in for something (a network), because a
// real partition of loopback traffic would need network namespaces and
// privileges a CI runner may not have.
//
//   const p = await startTcpProxy(5432);   // p.port: connect here instead
//   p.partition()                          // the network drops everything
//   p.heal()                               // and carries traffic again
//
// partition() models a partition as each side sees it: the node's side of
// every connection stays open and silent (no reset, no answer: packets
// vanish), new connections from the node are accepted and never answered;
// the server's side of every connection is closed, as the server's TCP
// keepalive would after a while (its sessions end, their advisory locks
// go). heal() forwards new connections again and resets the silent ones,
// as the server's host does once packets flow again (it forgot them).
import net from 'node:net';

export async function startTcpProxy(upstreamPort, upstreamHost = '127.0.0.1') {
  let partitioned = false;
  const pairs = new Set();
  const server = net.createServer((client) => {
    const pair = { client, upstream: null, silent: partitioned };
    pairs.add(pair);
    client.on('error', () => {});
    client.on('close', () => { pair.upstream?.destroy(); pairs.delete(pair); });
    if (partitioned) {
      client.pause(); // accepted, never answered
      return;
    }
    const up = net.connect(upstreamPort, upstreamHost);
    pair.upstream = up;
    up.on('error', () => client.destroy());
    up.on('close', () => { if (!pair.silent) client.destroy(); });
    client.pipe(up);
    up.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    get partitioned() { return partitioned; },
    partition() {
      partitioned = true;
      for (const p of pairs) {
        p.silent = true;
        p.client.unpipe();
        p.upstream?.unpipe();
        p.client.pause();
        p.upstream?.destroy();
        p.upstream = null;
      }
    },
    heal() {
      partitioned = false;
      for (const p of pairs) if (p.silent) p.client.resetAndDestroy();
    },
    async stop() {
      for (const p of pairs) { p.client.destroy(); p.upstream?.destroy(); }
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

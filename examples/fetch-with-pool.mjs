// fetch() whose new connections come from the half-open SYN pool.
//
//   npm run build && sudo node examples/fetch-with-pool.mjs http://10.0.0.2:8080/
//   sudo SYNPOOL_CA=ca.pem node examples/fetch-with-pool.mjs https://10.0.0.2:8443/
//   sudo node examples/fetch-with-pool.mjs http://[fd00::2]:8080/
//
// https: TLS runs over the pooled socket (its ClientHello completes the server's
// handshake), verified against Node's roots, NODE_EXTRA_CA_CERTS and SYNPOOL_CA
// (a PEM file); the URL's host is the checked name (an IP literal: the
// certificate's IP addresses), or set tls.servername.
//
// Needs CAP_NET_RAW + CAP_NET_ADMIN (root). Without them createPoolSource
// returns a plain source that says why, and fetch still works with plain connects.
// undici's own fetch is used so the dispatcher and fetch come from the same undici.
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { fetch, setGlobalDispatcher } from 'undici';
import { createAcceleratedAgent, createPoolSource } from '../dist/src/index.js';

const url = new URL(process.argv[2] ?? 'http://127.0.0.1:8080/');
// URL brackets an IPv6 host; the pool takes it bare (and makes it canonical).
const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
const address = isIP(host) !== 0 ? host : (await lookup(host, { family: 4 })).address;
const target = { address, port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) };

const source = createPoolSource([target], { sizing: 'fixed', targetSize: 4 });
if (!source.accelerated) console.error(`acceleration off: ${source.disabledReason}`);
// Give the pool one SYN-ACK round trip to fill.
await new Promise((r) => setTimeout(r, 300));

const tls = process.env.SYNPOOL_CA ? { ca: readFileSync(process.env.SYNPOOL_CA, 'utf8') } : undefined;
const agent = createAcceleratedAgent({ source, connectTimeoutMs: 3000, tls });
agent.events.on('connection', (e) => console.error(`request went out on a ${e.connection} connection`));
agent.events.on('tls-handshake', (e) => console.error(`TLS ${e.protocol} in ${e.ms.toFixed(1)} ms${e.resumed ? ' (resumed)' : ''}`));
agent.events.on('fallback', (e) => console.error(`fallback: ${e.reason}`));
setGlobalDispatcher(agent);

try {
  for (let i = 0; i < 3; i++) {
    // Connection: close makes every request need a new connection, like an upstream with a short idle timeout.
    const t0 = performance.now();
    const res = await fetch(url, { headers: { connection: 'close' } });
    await res.text();
    console.log(`${res.status} in ${(performance.now() - t0).toFixed(1)} ms`);
  }
} finally {
  await agent.close();
  source.close?.();
}

// `npm run demo` (root): builds two namespaces joined by a vde2 delay line
// (40 ms round trip by default), starts an upstream that closes every
// connection (so every request needs a new one), and sends the same requests
// through synpool accelerated and through synpool --no-accel, interleaved.
// Prints what each request cost in round trips.
import { Registry } from 'prom-client';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { createTopology, enterNamespace, type Topology } from '../topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../upstream/index.js';
import { serve, type RunningSynpool } from '../../src/cli.js';
import { validateConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { PoolConnectionSource } from '../../src/proxy/pool-source.js';
import { median } from '../../src/util/stats.js';

const { values } = parseArgs({ options: { rtt: { type: 'string', default: '40' }, requests: { type: 'string', default: '10' } } });
const rttMs = Number(values.rtt);
const count = Number(values.requests);
if (!(rttMs >= 2 && rttMs <= 1000) || !(Number.isInteger(count) && count >= 1 && count <= 200)) {
  throw new Error('--rtt must be 2..1000 ms and --requests 1..200');
}

let topo: Topology | undefined;
let upstream: UpstreamServer | undefined;
let leave: (() => void) | undefined;
const proxies: RunningSynpool[] = [];
const say = (s: string) => process.stdout.write(`${s}\n`);

async function startProxy(accel: boolean): Promise<RunningSynpool> {
  const config = validateConfig({ upstream: `http://${topo!.serverAddr}:${upstream!.port}`, listen: '127.0.0.1:0', metricsListen: null, accel, logLevel: 'silent' });
  const running = await serve(config, { logger: createLogger('silent'), registry: new Registry(), handleSignals: false });
  proxies.push(running);
  return running;
}

async function timedGet(port: number): Promise<number> {
  const t0 = performance.now();
  const res = await request(`http://127.0.0.1:${port}/`, { headersTimeout: 10_000, bodyTimeout: 10_000 });
  await res.body.text();
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
  return performance.now() - t0;
}

try {
  say(`Building two namespaces joined by a ${rttMs} ms round-trip delay line (vde2)…`);
  topo = await createTopology({ oneWayDelayMs: rttMs / 2, prefix: 'demo' });
  upstream = await startNodeUpstream(topo, { connectionClose: true });
  say(`Upstream: node:http at ${topo.serverAddr}:${upstream.port}, answering with "Connection: close" (every request needs a new connection).`);
  say(`Link: ${topo.link}, measured TCP connect ${topo.measuredRttMs.toFixed(1)} ms.`);
  leave = enterNamespace(topo.netnsPath('client'));
  const accelerated = await startProxy(true);
  const plain = await startProxy(false);
  // Let the pool fill: one SYN-ACK round trip plus pacing.
  await new Promise((r) => setTimeout(r, rttMs * 3 + 500));
  const acc: number[] = [];
  const pl: number[] = [];
  say(`\n  #   accelerated   plain (--no-accel)`);
  for (let i = 0; i < count; i++) {
    const a = await timedGet(accelerated.address.port);
    const p = await timedGet(plain.address.port);
    acc.push(a);
    pl.push(p);
    say(`${String(i + 1).padStart(3)}   ${a.toFixed(1).padStart(7)} ms    ${p.toFixed(1).padStart(7)} ms`);
  }
  const ma = median(acc);
  const mp = median(pl);
  say(`\nmedian per request: accelerated ${ma.toFixed(1)} ms (${(ma / rttMs).toFixed(2)} RTT), plain ${mp.toFixed(1)} ms (${(mp / rttMs).toFixed(2)} RTT)`);
  say(`saved: ${(mp - ma).toFixed(1)} ms per request, about ${((mp - ma) / rttMs).toFixed(2)} round trip(s).`);
  const source = accelerated.agent.source;
  if (source instanceof PoolConnectionSource) {
    const s = source.pool.snapshot()[0];
    if (s) say(`pool: ${s.hits} hits, ${s.misses} misses, ${s.synsSent} SYNs sent, SYN-ACK RTT ${s.synAckRtt.ewmaMs?.toFixed(1) ?? '?'} ms, ${s.ready} ready now.`);
  } else {
    say('note: acceleration was off (missing CAP_NET_RAW / CAP_NET_ADMIN): run as root.');
  }
} finally {
  for (const p of proxies) await p.shutdown('demo done').catch(() => {});
  leave?.();
  await upstream?.stop().catch(() => {});
  await topo?.destroy().catch(() => {});
}

// What an idle pool costs the upstream, by maxSynAckRetransmits: one
// PoolManager over the real Handshaker, two node:http upstreams across the
// delay line (one per setting, the same pool otherwise), nothing taken for
// --seconds. Counts the SYNs each pool sent (each one also costs the server a
// SYN_RECV entry, its SYN-ACK and its retransmits, and our RST) and the SYN-ACK
// retransmits the entries saw.
//
// Usage (root; vde2; after `npm run build`):
//   node dist/bench/pool/idle-syn-cost.js [--rtt 100] [--seconds 60] [--values 1,5]
import { parseArgs } from 'node:util';
import { createTopology, enterNamespace } from '../topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../upstream/index.js';
import { Handshaker } from '../../src/handshake/handshaker.js';
import { PoolManager } from '../../src/pool/pool-manager.js';

const { values } = parseArgs({
  options: { rtt: { type: 'string', default: '100' }, seconds: { type: 'string', default: '60' }, values: { type: 'string', default: '1,5' } },
});
const rttMs = Number(values.rtt);
const seconds = Number(values.seconds);
const settings = values.values.split(',').map(Number);
if (!Number.isInteger(rttMs) || rttMs < 2 || !(seconds > 0) || settings.some((n) => !Number.isInteger(n))) {
  throw new Error('usage: --rtt MS (even, ≥ 2) --seconds S --values N,N…');
}

const topo = await createTopology({ oneWayDelayMs: rttMs / 2, link: 'vde', prefix: 'spidle' });
const upstreams: UpstreamServer[] = [];
let leave: (() => void) | undefined;
let hs: Handshaker | undefined;
let pool: PoolManager | undefined;
try {
  for (const _ of settings) upstreams.push(await startNodeUpstream(topo));
  const targets = upstreams.map((u) => ({ address: topo.serverAddr, port: u.port }));
  leave = enterNamespace(topo.netnsPath('client'));
  hs = Handshaker.create({ targets });
  pool = new PoolManager({ driver: hs, upstreams: targets.map((target, i) => ({ target, maxSynAckRetransmits: settings[i]! })) });
  pool.start();
  // The first fill is not idle cost: count from when every pool is full.
  await new Promise((r) => setTimeout(r, 2_000));
  const before = pool.snapshot();
  await new Promise((r) => setTimeout(r, seconds * 1_000));
  const after = pool.snapshot();
  console.log(`idle pool, ${seconds} s, RTT ${rttMs} ms (measured ${topo.measuredRttMs.toFixed(1)} ms), default sizing (2 idle entries)`);
  console.log('| maxSynAckRetransmits | SYNs | SYNs/s | SYN-ACK retransmits seen | entries refreshed | ready at the end |');
  console.log('|---|--:|--:|--:|--:|--:|');
  settings.forEach((n, i) => {
    const a = after[i]!;
    const b = before[i]!;
    const syns = a.synsSent - b.synsSent;
    console.log(
      `| ${n} | ${syns} | ${(syns / seconds).toFixed(2)} | ${a.synAckRetransmits - b.synAckRetransmits} | ${a.evicted.refreshed - b.evicted.refreshed} | ${a.ready} |`,
    );
  });
} finally {
  pool?.close();
  hs?.close();
  leave?.();
  for (const u of upstreams) await u.stop();
  await topo.destroy();
}

// Micro-benchmark of the repair step: N handoffs of established half-open
// entries to a local listener, timed one by one. Two variants, interleaved
// batch by batch so machine noise hits both alike:
//   full  — every step after the SYN-ACK (socket, TCP_REPAIR, bind, queues,
//           MSS, connect, options, timestamp, window, repair off) + net.Socket;
//   hot   — what a request waits for when the CLOSE-state steps were done at
//           SYN-ACK time (prepareOnSynAck, the default): connect … repair off
//           + net.Socket.
// Then the keeper's IPC handoff (ipc-handoff.ts): a keeper process with a real
// pool, and this process as a worker timing acquireAsync → socket received.
// Usage: node dist/bench/handoff/run.js [--count N] [--json] [--out FILE] [--no-ipc]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { awaitEstablished } from '../../src/handshake/await-established.js';
import { Handshaker } from '../../src/handshake/handshaker.js';
import { quantile } from '../../src/util/stats.js';
import { KEEPER_CHILD_FLAG, measureIpcHandoff, runKeeperChild, summarize } from './ipc-handoff.js';

if (process.argv[2] === KEEPER_CHILD_FLAG) {
  await runKeeperChild(process.argv[3]!);
} else {
  await main();
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { count: { type: 'string', default: '2000' }, json: { type: 'boolean', default: false }, out: { type: 'string' }, 'no-ipc': { type: 'boolean', default: false } },
  });
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 10 || count > 100_000) throw new Error('--count must be an integer in 10..100000');
  const BATCH = 50;
  const WARMUP = 200;

  const server = net.createServer((s) => s.on('error', () => {}).destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', 1024, r));
  const target = { address: '127.0.0.1', port: (server.address() as net.AddressInfo).port };
  const variants = {
    full: Handshaker.create({ targets: [target], prepareOnSynAck: false }),
    hot: Handshaker.create({ targets: [target], prepareOnSynAck: true }),
  };
  const samples: Record<keyof typeof variants, number[]> = { full: [], hot: [] };

  let unanswered = 0;
  async function batch(name: keyof typeof variants, n: number, record: boolean): Promise<void> {
    const hs = variants[name];
    const entries = Array.from({ length: n }, () => hs.open(target));
    // A SYN whose 4-tuple meets a TIME_WAIT socket of an earlier round on the listener's side
    // can go unanswered (loopback: both ends are ours); such an entry is released, not timed.
    const settled = await Promise.allSettled(entries.map((e) => awaitEstablished(hs, e, 1000)));
    for (const [i, e] of entries.entries()) {
      if (settled[i]!.status === 'rejected') {
        hs.release(e);
        unanswered++;
        continue;
      }
      const t0 = performance.now();
      const socket = hs.handoff(e);
      const us = (performance.now() - t0) * 1000;
      if (record) samples[name].push(us);
      socket.destroy();
    }
  }

  const deadline = performance.now() + 120_000;
  for (let done = 0; done < WARMUP; done += BATCH) {
    await batch('full', BATCH, false);
    await batch('hot', BATCH, false);
  }
  while (samples.hot.length < count && performance.now() < deadline) {
    const n = Math.min(BATCH, count - samples.hot.length);
    await batch('full', n, true);
    await batch('hot', n, true);
  }
  for (const hs of Object.values(variants)) hs.close();
  server.close();

  const ipc = values['no-ipc'] ? undefined : await measureIpcHandoff(process.argv[1]!, count, WARMUP, 120_000);

  const summary = (xs: number[]) => ({ n: xs.length, p50Us: round(quantile(xs, 0.5)), p99Us: round(quantile(xs, 0.99)), maxUs: round(Math.max(...xs)) });
  const result = {
    bench: 'handoff',
    date: new Date().toISOString(),
    node: process.version,
    kernel: (await import('node:os')).release(),
    full: summary(samples.full),
    hot: summary(samples.hot),
    unansweredSyns: unanswered,
    ...(ipc === undefined ? {} : { ipc: { ...summarize(ipc.roundTrip), afterIdle: summarize(ipc.afterIdle), keeperSide: summarize(ipc.keeperSide), poolAcquire: summarize(ipc.poolAcquire), emptyRetries: ipc.empty } }),
  };
  function round(x: number): number {
    return Math.round(x * 10) / 10;
  }
  if (values.out) {
    mkdirSync(dirname(values.out), { recursive: true });
    writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
  }
  if (values.json) {
    console.log(JSON.stringify(result));
  } else {
    console.log(`handoff benchmark: ${result.hot.n} handoffs per variant to 127.0.0.1 (node ${result.node}, kernel ${result.kernel})`);
    console.log(`  hot  (prepared at SYN-ACK, the default): p50 ${result.hot.p50Us} µs  p99 ${result.hot.p99Us} µs  max ${result.hot.maxUs} µs`);
    console.log(`  full (every repair step + net.Socket):    p50 ${result.full.p50Us} µs  p99 ${result.full.p99Us} µs  max ${result.full.maxUs} µs`);
    if (result.ipc !== undefined) {
      const k = result.ipc.keeperSide;
      const i = result.ipc.afterIdle;
      console.log(`  ipc  (worker: acquireAsync → fd received, warm): p50 ${result.ipc.p50Us} µs  p99 ${result.ipc.p99Us} µs  max ${result.ipc.maxUs} µs  (n ${result.ipc.n})`);
      console.log(`       after 30 ms idle (first of a burst):      p50 ${i.p50Us} µs  p99 ${i.p99Us} µs  (n ${i.n})`);
      const a = result.ipc.poolAcquire;
      console.log(`       of which in the keeper (parse → sendmsg): p50 ${k.p50Us} µs  p99 ${k.p99Us} µs; the pool's acquire in it: p50 ${a.p50Us} µs  p99 ${a.p99Us} µs`);
    }
  }
}

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
// Usage: node dist/bench/handoff/run.js [--count N] [--json] [--out FILE] [--no-ipc] [--worker-batch] [--help]
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { awaitEstablished } from '../../src/handshake/await-established.js';
import { Handshaker } from '../../src/handshake/handshaker.js';
import { quantile } from '../../src/util/stats.js';
import { KEEPER_CHILD_FLAG, measureHeldHandoff, measureIpcHandoff, runKeeperChild, runUpstreamChild, summarize, UPSTREAM_CHILD_FLAG, type IpcHandoffResult, type KeeperMode } from './ipc-handoff.js';

const HELP = `Usage: node dist/bench/handoff/run.js [flags]   (root: raw sockets and TCP_REPAIR)

The repair handoff in one process (hot: prepared at SYN-ACK, full: every step), then the
keeper's IPC handoff timed from a worker process (keeper with ready entries, and with a
refilling pool), beside a Unix-socket echo between the same processes (the floor), and a
held connection taken from the worker's stock (heldPerWorker: no message to the keeper).

  --count N        handoffs per variant (default 2000)
  --no-ipc         only the in-process repair handoff
  --worker-batch   run the worker side (this process) as SCHED_BATCH: it no longer preempts the
                   keeper on wake-up, which separates the keeper's own time from the worker's
  --json           print the JSON result
  --out FILE       write the JSON result to FILE
  --help`;

if (process.argv[2] === KEEPER_CHILD_FLAG) {
  await runKeeperChild(process.argv[3]!, process.argv[4] as KeeperMode, Number(process.argv[5]));
} else if (process.argv[2] === UPSTREAM_CHILD_FLAG) {
  await runUpstreamChild();
} else {
  await main();
}


async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '2000' },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      'no-ipc': { type: 'boolean', default: false },
      'worker-batch': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  // The experiment behind docs/own-time.md "IPC handoff": the worker (this process) in SCHED_BATCH does
  // not preempt the keeper when the keeper's reply wakes it, so the keeper's own time is its own work.
  if (values['worker-batch']) execFileSync('chrt', ['--batch', '--pid', '0', String(process.pid)]);
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 10 || count > 100_000) throw new Error('--count must be an integer in 10..100000');
  const BATCH = 50;
  // Taken back to back from a full stock: a burst's start, or requests spread out in time.
  const HELD_PER_ROUND = 8;
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

  const ipcSummary = (r: IpcHandoffResult) => ({
    ...summarize(r.roundTrip),
    afterIdle: summarize(r.afterIdle),
    keeperSide: summarize(r.keeperSide),
    repairHandoff: summarize(r.acquire),
    unixEcho: summarize(r.echo),
    emptyAnswers: r.empty,
  });
  const ipc = values['no-ipc']
    ? undefined
    : {
        stock: ipcSummary(await measureIpcHandoff(process.argv[1]!, 'stock', count, WARMUP, 120_000)),
        pool: ipcSummary(await measureIpcHandoff(process.argv[1]!, 'pool', count, WARMUP, 120_000)),
        held: summarize(await measureHeldHandoff(process.argv[1]!, count, HELD_PER_ROUND, 120_000)),
      };

  const summary = (xs: number[]) => ({ n: xs.length, p50Us: round(quantile(xs, 0.5)), p99Us: round(quantile(xs, 0.99)), maxUs: round(Math.max(...xs)) });
  const result = {
    bench: 'handoff',
    date: new Date().toISOString(),
    node: process.version,
    kernel: (await import('node:os')).release(),
    full: summary(samples.full),
    hot: summary(samples.hot),
    unansweredSyns: unanswered,
    workerSchedBatch: values['worker-batch'],
    ...(ipc === undefined ? {} : { ipc }),
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
      const held = result.ipc.held;
      console.log(`  held (heldPerWorker): worker acquireAsync → socket from its stock, no message to the keeper`);
      console.log(`       p50 ${held.p50Us} µs  p99 ${held.p99Us} µs  max ${held.maxUs} µs  (n ${held.n}, rounds of ${HELD_PER_ROUND})`);
      for (const [name, r] of Object.entries({ stock: result.ipc.stock, pool: result.ipc.pool })) {
        const label = name === 'stock' ? 'ipc, entries ready (the handoff itself)' : 'ipc, keeper with a refilling PoolManager';
        console.log(`  ${label}: worker acquireAsync → fd received`);
        console.log(`       back to back:          p50 ${r.p50Us} µs  p99 ${r.p99Us} µs  max ${r.maxUs} µs  (n ${r.n})`);
        console.log(`       after 30 ms idle:      p50 ${r.afterIdle.p50Us} µs  p99 ${r.afterIdle.p99Us} µs  (n ${r.afterIdle.n})`);
        console.log(`       in the keeper (parse → sendmsg): p50 ${r.keeperSide.p50Us} µs  p99 ${r.keeperSide.p99Us} µs; its repair handoff: p50 ${r.repairHandoff.p50Us} µs  p99 ${r.repairHandoff.p99Us} µs`);
        console.log(`       floor, 64-byte echo between the same processes: p50 ${r.unixEcho.p50Us} µs  p99 ${r.unixEcho.p99Us} µs`);
      }
    }
  }
}

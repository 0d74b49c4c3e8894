// One capture, one mode, every contender: requests to /own-time/N through each
// contender while tcpdump records both sides, then the own time per request.
//   idle:  one request per contender in turn (the first rotates), then `gapMs`
//          of silence: each contender has been idle ≥ gapMs before each request;
//   tight: `batch` requests back to back per contender, contenders in turn;
//   burst: `burst` requests at once (each on its own connection) per contender after
//          `gapMs` of silence, contenders in turn (the first rotates); rounds until
//          `requests` are sent, rounded up to whole bursts.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Topology } from '../topology/index.js';
import { startCapture, type CaptureResult } from './capture.js';
import type { RunningContender } from './contenders.js';
import { CpuWindows, type CpuPerRequest } from './cpu-windows.js';
import { computeOwnTime, missingIds, type OwnTimeRecord, type Unmatched } from './own-time.js';
import type { ColdModeName as ColdMode } from './own-time-args.js';
import { summarize, type OwnTimeSummary } from './own-time-summary.js';
import { ownTimeRequest, type ClientOutcome } from './request-client.js';

export interface ColdRunOptions {
  mode: ColdMode;
  requests: number;
  gapMs: number;
  /** tight: requests per contender per turn. */
  batch: number;
  /** burst: simultaneous requests per contender per round. */
  burst: number;
  warmup: number;
  /** Keep the pcap files here (undefined: delete them). */
  keepPcapDir: string | undefined;
  signal: AbortSignal;
  /** Progress lines (stderr). */
  note(line: string): void;
}

export interface ColdContenderResult {
  contender: string;
  mode: ColdMode;
  summary: OwnTimeSummary;
  unmatched: Unmatched[];
  clientErrors: string[];
  records: OwnTimeRecord[];
  /** CPU of the contender's processes per request: while in flight, and over the whole mode (undefined: not readable). */
  cpu?: CpuPerRequest | undefined;
}

export interface ColdRunResult {
  mode: ColdMode;
  capture: Omit<CaptureResult, 'segments'> & { segments: number };
  results: ColdContenderResult[];
}

let nextId = 1;

export async function runColdMode(topo: Topology, contenders: readonly RunningContender[], o: ColdRunOptions): Promise<ColdRunResult> {
  // Unrecorded warm-up (JIT, the proxies' first connections), outside the capture.
  for (const c of contenders) for (let i = 0; i < o.warmup; i++) await ownTimeRequest(c.port, nextId++);
  // A burst runs code a sequential request never reaches (queued requests, many sockets at once): one unrecorded burst each.
  if (o.mode === 'burst') {
    for (const c of contenders) {
      await Promise.all(Array.from({ length: o.burst }, () => ownTimeRequest(c.port, nextId++)));
      await sleep(o.gapMs, undefined, { signal: o.signal }).catch(() => undefined);
    }
  }

  const ports = contenders.map((c) => `port ${c.port}`).join(' or ');
  const upstreams = [...new Map(contenders.map((c) => [`${c.upstream.addr}:${c.upstream.port}`, c.upstream])).values()];
  const upstreamFilter = upstreams.map((u) => `(host ${u.addr} and port ${u.port})`).join(' or ');
  const capture = await startCapture(topo, 'client', `tcp and (${ports}${upstreamFilter ? ` or ${upstreamFilter}` : ''})`);
  const outcomes = new Map<RunningContender, ClientOutcome[]>(contenders.map((c) => [c, []]));
  const cpu = new Map<RunningContender, CpuWindows>(contenders.map((c) => [c, new CpuWindows(c.runMsByProcess?.bind(c))]));
  let captured: CaptureResult;
  try {
    for (const w of cpu.values()) w.modeStarted();
    const send = async (c: RunningContender): Promise<void> => {
      outcomes.get(c)!.push(await ownTimeRequest(c.port, nextId++));
    };
    if (o.mode === 'idle') {
      for (let round = 0; round < o.requests && !o.signal.aborted; round++) {
        await sleep(o.gapMs, undefined, { signal: o.signal }).catch(() => undefined);
        if (o.signal.aborted) break;
        for (let k = 0; k < contenders.length; k++) {
          const c = contenders[(round + k) % contenders.length]!;
          await cpu.get(c)!.around(1, () => send(c));
        }
        if ((round + 1) % 5 === 0 || round + 1 === o.requests) o.note(`own-time idle: ${round + 1}/${o.requests} rounds`);
      }
    } else if (o.mode === 'burst') {
      const rounds = Math.ceil(o.requests / o.burst);
      for (let round = 0; round < rounds && !o.signal.aborted; round++) {
        for (let k = 0; k < contenders.length && !o.signal.aborted; k++) {
          await sleep(o.gapMs, undefined, { signal: o.signal }).catch(() => undefined);
          if (o.signal.aborted) break;
          const c = contenders[(round + k) % contenders.length]!;
          await cpu.get(c)!.around(o.burst, () => Promise.all(Array.from({ length: o.burst }, () => send(c))));
        }
        o.note(`own-time burst: ${round + 1}/${rounds} bursts of ${o.burst} per contender`);
      }
    } else {
      for (let done = 0, turn = 0; done < o.requests && !o.signal.aborted; done += o.batch, turn++) {
        const n = Math.min(o.batch, o.requests - done);
        for (let k = 0; k < contenders.length && !o.signal.aborted; k++) {
          const c = contenders[(turn + k) % contenders.length]!;
          await cpu.get(c)!.around(n, async () => {
            for (let i = 0; i < n; i++) await send(c);
          });
        }
        o.note(`own-time tight: ${Math.min(done + n, o.requests)}/${o.requests} per contender`);
      }
    }
    for (const w of cpu.values()) w.modeEnded();
    captured = await capture.stop(o.keepPcapDir);
  } catch (err) {
    await capture.abort();
    throw err;
  }

  const results = contenders.map((c): ColdContenderResult => {
    const sent = outcomes.get(c)!;
    const own = computeOwnTime(captured.segments, c.port, c.proxies ? c.upstream : undefined);
    const sentIds = new Set(sent.map((s) => s.id));
    // Warm-up ids are outside the capture; anything else not sent in this mode would be a bug.
    const records = own.records.filter((r) => sentIds.has(r.id));
    const unmatched = [...own.unmatched.filter((u) => u.id === undefined || sentIds.has(u.id)), ...missingIds([...sentIds], own, c.port)];
    const clientErrors = sent.filter((s) => s.error !== undefined || s.status !== 200).map((s) => `/own-time/${s.id}: ${s.error ?? `status ${String(s.status)}`}`);
    return {
      contender: c.name,
      mode: o.mode,
      summary: summarize(records, sent.length, sent.length - clientErrors.length, sent.filter((s) => s.error === undefined && s.status === 200).map((s) => s.ms)),
      unmatched,
      clientErrors,
      records,
      cpu: cpu.get(c)!.summary(),
    };
  });
  const { segments, ...rest } = captured;
  return { mode: o.mode, capture: { ...rest, segments: segments.length }, results };
}

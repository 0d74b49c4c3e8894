// Command line of bench/own-time/run.ts.
import { parseArgs } from 'node:util';
import { intFlag } from '../int-flag.js';

/** --contenders ids, in the order of CONTENDER_NAMES (contenders.ts). */
export const CONTENDER_IDS = ['synpool', 'no-accel', 'node-proxy', 'nginx', 'no-accel-warm', 'node-proxy-warm', 'no-accel-local', 'node-proxy-local', 'relay-warm', 'lean-warm', 'floor'] as const;
export type ContenderId = (typeof CONTENDER_IDS)[number];

const PARTS = ['cold', 'throughput', 'machine'] as const;

export const COLD_MODES = ['idle', 'tight', 'burst'] as const;
export type ColdModeName = (typeof COLD_MODES)[number];

export interface OwnTimeOptions {
  quick: boolean;
  /** Requests per contender in each cold mode (idle, tight). */
  requests: number;
  rttMs: number;
  gapMs: number;
  /** wrk: seconds per round, rounds, connections. */
  seconds: number;
  rounds: number;
  connections: number;
  /** machine: the idle-penalty probe (idle-penalty.ts), before the contenders start. */
  parts: { cold: boolean; throughput: boolean; machine: boolean };
  json: boolean;
  /** JSON file; the markdown table goes beside it (.md). */
  out: string;
  /** The cold-path modes to run, in this order. */
  modes: ColdModeName[];
  /** burst mode: simultaneous requests per contender per round. */
  burst: number;
  /** synpool's fixed pool size. */
  poolSize: number;
  /** Another build's dist/src/cli.js (or a wrapper) for the two synpool contenders; undefined: this build. */
  synpoolCli: string | undefined;
  /** `--workers` of the two synpool contenders (undefined: synpool's default, 1). */
  synpoolWorkers: number | undefined;
  /** Contender ids to run (CONTENDER_IDS), in the table's order. */
  contenders: ContenderId[];
  /** Keep the cold-path pcap files in this directory. */
  keepPcap: string | undefined;
  help: boolean;
}

export const OWN_TIME_HELP = `Usage: node dist/bench/own-time/run.js [flags]     (root; npm run build first)

The proxy's own time per request, from packet captures on both sides of it
(p50/p99, request path and response path), after idleness and in a tight
loop and in bursts, and warm-path throughput with wrk: synpool, synpool --no-accel, a
minimal node:http + undici proxy, nginx, and a bare node:http server (the floor);
in the cold modes also synpool --no-accel and the minimal proxy in front of a
keep-alive upstream with their connections already open (the warm contenders:
a pooled request's floor), and in front of an upstream on their own loopback
that closes every connection (the local contenders: a new connection per
request whose handshake costs nothing on the network; the floor of a pooled
request's new connection; idle and tight modes only); a node:net byte relay
over connections already open to the keep-alive upstream, no HTTP parsed (the
relay floor: the least any Node proxy does per request); and node:http in front
of a hand-written upstream exchange over such connections (the lean HTTP floor:
the least a Node proxy that parses HTTP does). The two floors run in the warm
path too, over the same keep-alive upstream as the others. The warm-path table
has each contender's CPU per request and the kernel's part of it (/proc).

  --quick            smoke run: 5 requests per mode (one burst of 8, pool 8), wrk 2 s × 1 round (~1 min)
  --requests N       requests per contender in each cold mode (default 50)
  --rtt-ms N         round trip of the delay line to the upstream (default 40; even)
  --gap-ms N         idleness before each request in the idle mode, and before each burst (default 1000)
  --modes LIST       cold-path modes: idle,tight,burst (default all three)
  --burst N          burst mode: simultaneous requests per contender per burst (default 32);
                     --requests is rounded up to whole bursts
  --pool-size N      synpool's fixed pool size (default 32: as large as a default burst)
  --seconds N        wrk duration per round (default 10)
  --rounds N         wrk rounds per contender (default 3)
  --connections N    wrk connections (default 64)
  --parts LIST       cold,throughput,machine (default all three; machine: the same CPU work timed
                     back to back and after 40 ms and 1 s of idleness, the host's idle penalty)
  --contenders LIST  synpool,no-accel,node-proxy,nginx,no-accel-warm,node-proxy-warm,
                     no-accel-local,node-proxy-local,relay-warm,lean-warm,floor
                     (default all; nginx only where installed; no-accel-warm and node-proxy-warm in
                     the cold modes only, the -local ones in the idle and tight modes only)
  --synpool-cli FILE run the synpool contenders from another build's dist/src/cli.js (A/B across runs)
  --synpool-workers N  the synpool contenders with --workers N (default: synpool's default, 1)
  --json             print the JSON instead of the markdown table
  --out FILE         JSON result (default bench/results/own-time.json, own-time-quick.json with --quick);
                     the table goes to the same name with .md
  --keep-pcap DIR    keep the cold-path captures (one pcap per mode) in DIR, to check by hand:
                     tcpdump -r FILE -tt -nn
  --help
`;

export class OwnTimeUsageError extends Error {
  override name = 'OwnTimeUsageError';
}

/** A comma list of `allowed` (all of them when the flag is absent); anything else is a usage error. */
function listOf<T extends string>(name: string, text: string | undefined, allowed: readonly T[]): T[] {
  const items = (text ?? allowed.join(',')).split(',').map((m) => m.trim());
  if (items.length === 0 || items.some((m) => !(allowed as readonly string[]).includes(m))) throw new OwnTimeUsageError(`--${name} takes ${allowed.join(', ')}, got ${text}`);
  return items as T[];
}

function int(name: string, v: string | undefined, dflt: number, lo: number, hi: number): number {
  return v === undefined ? dflt : intFlag(`--${name}`, v, lo, hi, (m) => new OwnTimeUsageError(m));
}

export function parseOwnTimeArgs(argv: readonly string[]): OwnTimeOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        quick: { type: 'boolean', default: false },
        requests: { type: 'string' },
        'rtt-ms': { type: 'string' },
        'gap-ms': { type: 'string' },
        seconds: { type: 'string' },
        rounds: { type: 'string' },
        connections: { type: 'string' },
        parts: { type: 'string' },
        modes: { type: 'string' },
        contenders: { type: 'string' },
        'synpool-cli': { type: 'string' },
        'synpool-workers': { type: 'string' },
        burst: { type: 'string' },
        'pool-size': { type: 'string' },
        json: { type: 'boolean', default: false },
        out: { type: 'string' },
        'keep-pcap': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new OwnTimeUsageError((err as Error).message);
  }
  const quick = values.quick;
  const rttMs = int('rtt-ms', values['rtt-ms'], 40, 2, 1_000);
  if (rttMs % 2 !== 0) throw new OwnTimeUsageError('--rtt-ms must be even (wirefilter takes whole milliseconds each way)');
  const parts = listOf('parts', values.parts, PARTS);
  const modes = listOf('modes', values.modes, COLD_MODES);
  const ids = listOf('contenders', values.contenders, CONTENDER_IDS);
  return {
    quick,
    requests: int('requests', values.requests, quick ? 5 : 50, 1, 10_000),
    rttMs,
    gapMs: int('gap-ms', values['gap-ms'], 1_000, 0, 60_000),
    seconds: int('seconds', values.seconds, quick ? 2 : 10, 1, 300),
    rounds: int('rounds', values.rounds, quick ? 1 : 3, 1, 20),
    connections: int('connections', values.connections, 64, 1, 10_000),
    parts: { cold: parts.includes('cold'), throughput: parts.includes('throughput'), machine: parts.includes('machine') },
    json: values.json,
    out: values.out ?? `bench/results/${quick ? 'own-time-quick' : 'own-time'}.json`,
    modes: [...new Set(modes)],
    contenders: CONTENDER_IDS.filter((c) => ids.includes(c)),
    synpoolCli: values['synpool-cli'],
    synpoolWorkers: values['synpool-workers'] === undefined ? undefined : int('synpool-workers', values['synpool-workers'], 1, 1, 256),
    burst: int('burst', values.burst, quick ? 8 : 32, 2, 256),
    poolSize: int('pool-size', values['pool-size'], quick ? 8 : 32, 1, 256),
    keepPcap: values['keep-pcap'],
    help: values.help,
  };
}

// Command line of bench/workers/run.ts.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { intFlag } from '../int-flag.js';

export interface WorkersOptions {
  quick: boolean;
  /** N: synpool --workers N against nginx worker_processes N (besides 1 against 1). */
  workers: number;
  /** What was asked: 'auto' (one per core) or the number. */
  workersFlag: string;
  /** nginx upstream worker_processes (default N). */
  upstreamWorkers: number;
  /** wrk: seconds per round, rounds, connections, threads; warm-up seconds per contender. */
  seconds: number;
  rounds: number;
  connections: number;
  threads: number;
  warmupSeconds: number;
  /** nginx proxy: `keepalive` idle upstream connections per worker (default: --connections, so none churn). */
  nginxKeepalive: number;
  /** synpool with its pool (default) or --no-accel. */
  accel: boolean;
  json: boolean;
  /** JSON file; the markdown table goes beside it (.md). */
  out: string;
  help: boolean;
}

export const WORKERS_HELP = `Usage: node dist/bench/workers/run.js [flags]     (root; npm run build first)

Warm-path requests/s with wrk, same run, alternating rounds: synpool --workers 1,
synpool --workers N, nginx (reverse proxy) with worker_processes 1 and with N,
all in front of one keep-alive nginx upstream over a veth pair (0 ms added).
Reports the median req/s, the ratios (target: synpool N / nginx N >= 0.4),
the scaling N/1 and each contender's CPU.

  --workers N|auto   N (default auto: one per core, here ${availableParallelism()}); must be >= 2
  --quick            smoke run: wrk 2 s x 1 round, 1 s warm-up (about 30 s)
  --seconds N        wrk duration per round (default 10)
  --rounds N         rounds per contender (default 3)
  --connections N    wrk connections (default 64)
  --threads N        wrk threads (default 1)
  --warmup N         wrk warm-up per contender, seconds (default 3; 1 with --quick)
  --upstream-workers N  the nginx upstream's worker_processes (default N)
  --nginx-keepalive N  the nginx proxy's upstream keepalive per worker (default: --connections,
                     so no worker closes an upstream connection it will need again)
  --no-accel         synpool with plain connects (default: with its pool)
  --json             print the JSON instead of the markdown
  --out FILE         JSON result (default bench/results/workers.json, workers-quick.json with --quick);
                     the markdown goes to the same name with .md
  --help
`;

export class WorkersUsageError extends Error {
  override name = 'WorkersUsageError';
}

function int(name: string, v: string | undefined, dflt: number, lo: number, hi: number): number {
  return v === undefined ? dflt : intFlag(`--${name}`, v, lo, hi, (m) => new WorkersUsageError(m));
}

/** `cores`: what 'auto' means (os.availableParallelism()); a parameter for the tests. */
export function parseWorkersArgs(argv: readonly string[], cores: number = availableParallelism()): WorkersOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        quick: { type: 'boolean', default: false },
        workers: { type: 'string' },
        seconds: { type: 'string' },
        rounds: { type: 'string' },
        connections: { type: 'string' },
        threads: { type: 'string' },
        warmup: { type: 'string' },
        'upstream-workers': { type: 'string' },
        'nginx-keepalive': { type: 'string' },
        'no-accel': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        out: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new WorkersUsageError((err as Error).message);
  }
  const quick = values.quick;
  const workersFlag = values.workers ?? 'auto';
  const workers = workersFlag === 'auto' ? cores : int('workers', workersFlag, 0, 1, 64);
  if (workers < 2) {
    throw new WorkersUsageError(
      workersFlag === 'auto' ? `--workers auto is ${cores} on this machine: the comparison needs N >= 2 (give --workers 2)` : '--workers must be at least 2 (1 worker is always measured)',
    );
  }
  const connections = int('connections', values.connections, 64, 1, 10_000);
  const threads = int('threads', values.threads, 1, 1, 64);
  if (threads > connections) throw new WorkersUsageError(`--threads (${threads}) must not exceed --connections (${connections}): wrk gives each thread its share`);
  return {
    quick,
    workers,
    workersFlag,
    upstreamWorkers: int('upstream-workers', values['upstream-workers'], workers, 1, 64),
    seconds: int('seconds', values.seconds, quick ? 2 : 10, 1, 300),
    rounds: int('rounds', values.rounds, quick ? 1 : 3, 1, 20),
    connections,
    threads,
    warmupSeconds: int('warmup', values.warmup, quick ? 1 : 3, 0, 60),
    nginxKeepalive: int('nginx-keepalive', values['nginx-keepalive'], connections, 1, 100_000),
    accel: !values['no-accel'],
    json: values.json,
    out: values.out ?? `bench/results/${quick ? 'workers-quick' : 'workers'}.json`,
    help: values.help,
  };
}

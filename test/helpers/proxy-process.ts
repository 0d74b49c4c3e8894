// synpool under test, two ways: in this process (serve(), after the caller has
// entered the client namespace), or as the built CLI in a child process inside
// a namespace (for what must differ per process: capabilities). Both log JSON
// lines the test can read and expose /metrics.
import { existsSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { stopChild, waitForExit } from '../../bench/topology/child-output.js';
import type { Side, Topology } from '../../bench/topology/index.js';
import { serve, type RunningSynpool } from '../../src/cli.js';
import { validateConfig, type ConfigInput } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/logger.js';

export type LogLine = Record<string, unknown> & { level?: number; msg?: string };

/** Collects JSON log lines (pino's output or a child's stdout). */
export class LogSink {
  #text = '';
  readonly stream = new Writable({
    write: (chunk: Buffer, _enc, cb) => {
      this.push(chunk.toString());
      cb();
    },
  });

  push(text: string): void {
    this.#text += text;
  }

  lines(): LogLine[] {
    const out: LogLine[] = [];
    for (const l of this.#text.split('\n')) {
      if (!l.startsWith('{')) continue;
      try {
        out.push(JSON.parse(l) as LogLine);
      } catch {
        // a line still being written
      }
    }
    return out;
  }

  /** The `msg: 'request'` lines. */
  requests(): LogLine[] {
    return this.lines().filter((l) => l.msg === 'request');
  }

  get text(): string {
    return this.#text;
  }
}

export interface SynpoolUnderTest {
  /** http://127.0.0.1:PORT, the client listener. */
  readonly url: string;
  readonly port: number;
  readonly metricsUrl: string;
  readonly log: LogSink;
  /** The /metrics text. */
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export interface InProcessSynpool extends SynpoolUnderTest {
  readonly running: RunningSynpool;
}

/**
 * serve() in this process, listening on 127.0.0.1 of whatever namespace the
 * calling thread is in (enter the client namespace first). `config` is a config
 * layer over the defaults; listen and metricsListen default to ephemeral ports.
 */
export async function serveInProcess(config: ConfigInput, logLevel = 'info'): Promise<InProcessSynpool> {
  const validated = validateConfig({ listen: '127.0.0.1:0', metricsListen: '127.0.0.1:0', shutdownTimeoutMs: 1_000, logLevel, ...config });
  const log = new LogSink();
  const running = await serve(validated, {
    logger: createLogger(validated.logLevel, log.stream),
    registry: new Registry(),
    handleSignals: false,
  });
  const url = `http://127.0.0.1:${running.address.port}`;
  const metricsUrl = `http://127.0.0.1:${running.metricsAddress!.port}`;
  return {
    running,
    url,
    port: running.address.port,
    metricsUrl,
    log,
    metrics: () => fetchText(`${metricsUrl}/metrics`),
    stop: () => running.shutdown('test'),
  };
}

export const CLI_PATH = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

export interface CliSynpool extends SynpoolUnderTest {
  readonly child: ChildProcess;
}

/** Bounded: a CLI that has not logged 'synpool serving' by then has failed to start. */
const CLI_READY_MS = 10_000;

/**
 * The built CLI (dist/src/cli.js; `npm run build` first) in a namespace,
 * `wrapper` in front (e.g. setpriv … to drop capabilities). Resolves once it
 * logs 'synpool serving'; its listeners must be given as 127.0.0.1:PORT in args.
 */
export async function spawnCli(topo: Topology, side: Side, args: readonly string[], wrapper: readonly string[] = []): Promise<CliSynpool> {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run npm run build before this test`);
  const [cmd, ...argv] = [...wrapper, process.execPath, CLI_PATH, ...args] as [string, ...string[]];
  const child = topo.spawn(side, cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = new LogSink();
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (t: string) => log.push(t));
  child.stderr?.setEncoding('utf8').on('data', (t: string) => (stderr = (stderr + t).slice(-4096)));
  const stop = async (): Promise<void> => {
    await stopChild(child, 3_000);
  };
  try {
    await waitUntil(
      'synpool CLI logs "synpool serving"',
      () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`synpool CLI exited (${child.exitCode ?? child.signalCode}) before serving; stderr: ${stderr}; stdout: ${log.text}`);
        }
        return log.lines().some((l) => l.msg === 'synpool serving');
      },
      CLI_READY_MS,
      20,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const serving = log.lines().find((l) => l.msg === 'synpool serving')!;
  const listen = String(serving.listen);
  const metrics = String(serving.metrics);
  const port = Number(listen.split(':')[1]);
  return {
    child,
    url: `http://${listen}`,
    port,
    metricsUrl: `http://${metrics}`,
    log,
    metrics: () => fetchText(`http://${metrics}/metrics`),
    stop,
  };
}

/** Waits for a CLI child to exit by itself; false if it is still running after timeoutMs. */
export function cliExited(cli: CliSynpool, timeoutMs: number): Promise<boolean> {
  return waitForExit(cli.child, timeoutMs);
}

async function fetchText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return res.text();
}

/** One value of a Prometheus text exposition, summed over the series whose labels include `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/** Polls `ok` every `everyMs` until it holds; rejects, naming `what`, after `deadlineMs`. */
export async function waitUntil(what: string, ok: () => boolean | Promise<boolean>, deadlineMs: number, everyMs = 10): Promise<void> {
  const t0 = performance.now();
  const maxPolls = Math.ceil(deadlineMs / Math.max(1, everyMs)) + 2;
  for (let i = 0; i < maxPolls; i++) {
    if (await ok()) return;
    if (performance.now() - t0 > deadlineMs) break;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${what}: not within ${deadlineMs} ms`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

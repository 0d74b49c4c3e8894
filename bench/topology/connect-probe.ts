// TCP connects timed from inside a namespace, by a short-lived child process,
// so the caller's own network namespace is never touched. Used to check that a
// link passes traffic, to measure its round trip, and to wait for servers.
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { captureStderr, describeExit, stopChild } from './child-output.js';
import { TopologyError } from './topology-error.js';
import type { Side } from './topology.js';

/** What the probes need from a topology. */
export interface NamespaceSpawner {
  spawn(side: Side, cmd: string, args: readonly string[], opts?: SpawnOptions): ChildProcess;
}

export interface ConnectProbeOptions {
  /** Connects to time once one succeeds; default 1. */
  samples?: number;
  /** Give up (reject) after this long, counting retries; default 5 000 ms. */
  deadlineMs?: number;
  /** Side to connect from; default 'client'. */
  from?: Side;
}

// Retries refused and timed-out connects until the deadline, then times
// `samples` consecutive connects. Prints one JSON line.
const PROBE_SCRIPT = `
const net = require('node:net');
const { performance } = require('node:perf_hooks');
const [host, portArg, samplesArg, deadlineArg] = process.argv.slice(1);
const port = Number(portArg), want = Number(samplesArg), deadline = Date.now() + Number(deadlineArg);
const samples = [];
let lastError = 'no attempt finished';
function finish(code, extra) {
  process.stdout.write(JSON.stringify({ samples, ...extra }) + '\\n', () => process.exit(code));
}
function attempt() {
  const left = deadline - Date.now();
  if (left <= 0) return finish(2, { error: lastError });
  let settled = false;
  const t0 = performance.now();
  const s = net.connect({ host, port });
  const settle = (retryMs, error) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    s.destroy();
    if (error) lastError = error;
    setTimeout(attempt, retryMs);
  };
  const timer = setTimeout(() => settle(0, 'connect timed out'), Math.min(left, 1000));
  s.once('connect', () => {
    const ms = performance.now() - t0;
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    s.destroy();
    samples.push(ms);
    if (samples.length >= want) finish(0, {});
    else setImmediate(attempt);
  });
  s.once('error', (e) => settle(50, e.code || e.message));
}
attempt();
`;

/** Connect times in ms, from a fresh process inside the `from` namespace to host:port. */
export async function probeConnect(
  topo: NamespaceSpawner,
  host: string,
  port: number,
  opts: ConnectProbeOptions = {},
): Promise<number[]> {
  const samples = opts.samples ?? 1;
  const deadlineMs = opts.deadlineMs ?? 5_000;
  const child = topo.spawn(opts.from ?? 'client', process.execPath, ['-e', PROBE_SCRIPT, host, String(port), String(samples), String(deadlineMs)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  captureStderr(child);
  let stdout = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (c: string) => {
    stdout += c;
  });
  // The script stops itself at the deadline; this is the backstop for a child that hangs before it starts.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const backstop = setTimeout(() => void stopChild(child, 500, 'SIGKILL'), deadlineMs + 5_000);
  await closed;
  clearTimeout(backstop);
  const line = stdout.trim().split('\n').pop() ?? '';
  let result: { samples?: number[]; error?: string } = {};
  try {
    result = JSON.parse(line) as typeof result;
  } catch {
    // fall through to the error below
  }
  if (child.exitCode === 0 && result.samples && result.samples.length >= samples) return result.samples;
  const why = result.error ? `last error ${result.error}` : `probe ${describeExit(child)}`;
  throw new TopologyError('TOPOLOGY_ERR_NO_TRAFFIC', `no TCP connect to ${host}:${port} succeeded within ${deadlineMs} ms (${why})`);
}

const LISTENER_SCRIPT = `
const net = require('node:net');
const server = net.createServer((s) => { s.on('error', () => {}); s.end(); });
server.listen({ port: 0, host: process.argv[1], backlog: 64 }, () => {
  process.stdout.write(JSON.stringify({ listening: server.address().port }) + '\\n');
});
process.on('SIGTERM', () => process.exit(0));
`;

/** A throwaway TCP listener on host:0 inside `side`; resolves with its port once it listens. */
export function spawnProbeListener(topo: NamespaceSpawner, side: Side, host: string): ChildProcess {
  return topo.spawn(side, process.execPath, ['-e', LISTENER_SCRIPT, host], { stdio: ['ignore', 'pipe', 'pipe'] });
}

// bench/own-time/pause-client.ts (built to dist) against the own-time floor server
// on loopback: it completes every request, with and without pauses, and reports
// the server's on-CPU time from /proc, which grows with the requests it serves.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { stopChild, waitForJsonLine } from '../../bench/topology/child-output.js';

const CLIENT = fileURLToPath(new URL('../../dist/bench/own-time/pause-client.js', import.meta.url));
const FLOOR = fileURLToPath(new URL('../../dist/bench/own-time/floor-server.js', import.meta.url));
const run = promisify(execFile);

let floor: ChildProcess;
let port: number;

beforeAll(async () => {
  floor = spawn(process.execPath, [FLOOR, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  port = (await waitForJsonLine<{ listening: number }>(floor, 10_000, 'floor server')).listening;
});

afterAll(async () => {
  if (floor) await stopChild(floor, 2_000);
});

const LINE = /^pause (\d+) ms, (\d+) requests: client p50 ([\d.]+) ms, p90 ([\d.]+) ms; server on-CPU (\d+) µs per request\n$/;

describe('pause client', () => {
  test.each([0, 5])('pause %i ms: every request answered, the server on a CPU for each', async (pause) => {
    const { stdout } = await run(process.execPath, [CLIENT, '--port', String(port), '--pid', String(floor.pid), '--requests', '10', '--pause-ms', String(pause)], { timeout: 30_000 });
    const m = LINE.exec(stdout);
    expect(m, stdout).not.toBeNull();
    expect([Number(m![1]), Number(m![2])]).toEqual([pause, 10]);
    expect(Number(m![3])).toBeGreaterThan(0);
    expect(Number(m![4])).toBeGreaterThanOrEqual(Number(m![3]));
    expect(Number(m![5])).toBeGreaterThan(0);
  });

  test('names a missing flag', async () => {
    await expect(run(process.execPath, [CLIENT, '--port', String(port)], { timeout: 10_000 })).rejects.toThrow(/--port and --pid are required/);
  });
});

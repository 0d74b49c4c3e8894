// bench/topology's exit hook at a signal (the built dist/bench/topology/exit-hooks.js,
// in a child process of its own, since the signal ends it). Without a handler of the
// program's own it tears the topology down at once and the signal ends the process;
// with one (bench/interrupt.ts) it leaves the graceful stop to the program, so its
// children get SIGTERM rather than SIGKILL, and tears down at exit as the backstop.
// The topology here is only a directory, which teardown removes last.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const HOOKS = fileURLToPath(new URL('../../dist/bench/topology/exit-hooks.js', import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Runs a child that registers a topology whose state names only `dir`, then sends it SIGTERM once it says so. */
function run(ownHandler: boolean): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'synpool-exit-hook-'));
  dirs.push(dir);
  const script = `
    const { existsSync } = await import('node:fs');
    const { registerForExitTeardown } = await import(${JSON.stringify(HOOKS)});
    registerForExitTeardown('t', () => ({ name: 't', ownerPid: process.pid, ownerStartTicks: 0, namespaces: [], processes: [], dir: ${JSON.stringify(dir)} }));
    if (${ownHandler}) {
      process.on('SIGTERM', () => {
        // The program's own graceful stop: the topology must still be there.
        process.stdout.write('in handler, dir ' + (existsSync(${JSON.stringify(dir)}) ? 'kept' : 'gone') + '\\n');
        setTimeout(() => process.exit(130), 50);
      });
    }
    process.stdout.write('ready\\n');
    setTimeout(() => process.exit(3), 10_000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (c: string) => {
    out += c;
    if (out === 'ready\n') child.kill('SIGTERM');
  });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, out, dir })));
}

describe('topology exit hook at a signal', () => {
  it('without a handler of the program: tears down at once and lets the signal end the process', async () => {
    const r = await run(false);
    expect(r.signal).toBe('SIGTERM');
    expect(existsSync(r.dir)).toBe(false);
  });

  it("with the program's own handler: leaves the stop to it, and still tears down at exit", async () => {
    const r = await run(true);
    expect(r.out).toContain('in handler, dir kept');
    expect(r.code).toBe(130);
    expect(existsSync(r.dir)).toBe(false);
  });
});

// `npm run bench`'s last part: the proxy's own time from packet captures and the
// warm-path throughput with wrk (bench/own-time/run.js), as its own process, after
// the latency comparison. In its own process group, so a Ctrl-C reaches it once, as
// the SIGTERM this process forwards: two signals would make it quit before cleaning up.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions } from './bench-args.js';

const OWN_TIME = fileURLToPath(new URL('../own-time/run.js', import.meta.url));

/** bench/own-time/run.js's arguments for these harness options. */
export function ownTimeArgs(o: Pick<BenchOptions, 'quick' | 'outDir'>): string[] {
  return [...(o.quick ? ['--quick'] : []), '--out', join(o.outDir, o.quick ? 'own-time-quick.json' : 'own-time.json')];
}

/** Runs it with stdout and stderr shared; resolves with its exit code (130 when `signal` stopped it). */
export function runOwnTimePart(o: Pick<BenchOptions, 'quick' | 'outDir'>, signal: AbortSignal): Promise<number> {
  if (signal.aborted) return Promise.resolve(130);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [OWN_TIME, ...ownTimeArgs(o)], { stdio: 'inherit', detached: true });
    const stop = (): void => {
      child.kill('SIGTERM');
    };
    signal.addEventListener('abort', stop, { once: true });
    child.once('error', (err) => {
      signal.removeEventListener('abort', stop);
      reject(err);
    });
    child.once('exit', (code, sig) => {
      signal.removeEventListener('abort', stop);
      resolve(code ?? (sig !== null ? 130 : 1));
    });
  });
}

// Ctrl-C and SIGTERM for the benchmarks: the first one leaves the client
// namespace and aborts (the run stops and cleans up its topology), the second
// exits at once. Registered before any topology exists, so it runs before
// bench/topology's own exit hook.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Interrupt {
  readonly signal: AbortSignal;
  /** Unregisters the handlers. */
  dispose(): void;
}

/** `label` prefixes the one line written at the first signal; `leave` returns the thread to its own namespace. */
export function abortOnSignals(label: string, leave: () => void): Interrupt {
  const abort = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    leave();
    signals++;
    if (signals > 1) process.exit(130);
    process.stderr.write(`\n${label}: ${signal}: stopping, cleaning up (again to quit at once)\n`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: abort.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Writes a result file, making its folder first. */
export function writeResultFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

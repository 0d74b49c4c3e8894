// Tears down every live topology of this process when it exits or is told to
// stop, synchronously, because an 'exit' listener cannot wait for promises.
import { teardownSync, type TopologyState } from './topology-state.js';

const live = new Map<string, () => TopologyState>();
let installed = false;

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function teardownAll(): void {
  for (const [name, getState] of live) {
    live.delete(name);
    try {
      teardownSync(getState());
    } catch {
      // keep going: one broken topology must not strand the others
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  // A program with its own handler for the signal (bench/interrupt.ts) stops gracefully: its
  // children get SIGTERM and time to clean up (a synpool removes its socket directory, which a
  // SIGKILL here left in /tmp), then its topologies are destroyed; 'exit' stays the backstop for
  // whatever is left, also when a second signal makes it quit at once.
  if (process.listenerCount(signal) > 1) return;
  teardownAll();
  // Restore the default action.
  process.removeListener(signal, onSignal);
  process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', teardownAll);
  for (const s of SIGNALS) process.on(s, onSignal);
}

/** Registers a topology for teardown at exit; `getState` is read at that moment. Returns the unregister function. */
export function registerForExitTeardown(name: string, getState: () => TopologyState): () => void {
  install();
  live.set(name, getState);
  return () => {
    live.delete(name);
  };
}

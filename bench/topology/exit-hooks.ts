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
  teardownAll();
  // Restore the default action unless somebody else handles the signal.
  process.removeListener(signal, onSignal);
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
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

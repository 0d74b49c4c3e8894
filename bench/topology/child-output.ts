// Bounded waits on a child process: its first JSON line, its exit, and a tail
// of its stderr to put in error messages.
import type { ChildProcess } from 'node:child_process';
import { TopologyError } from './topology-error.js';

const STDERR_TAIL_BYTES = 4096;
const stderrTails = new WeakMap<ChildProcess, { text: string }>();

/** Starts keeping the last few KB of the child's stderr (no-op without a stderr pipe). */
export function captureStderr(child: ChildProcess): void {
  if (stderrTails.has(child) || !child.stderr) return;
  const tail = { text: '' };
  stderrTails.set(child, tail);
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    tail.text = (tail.text + chunk).slice(-STDERR_TAIL_BYTES);
  });
}

export function stderrTail(child: ChildProcess): string {
  return stderrTails.get(child)?.text.trim() ?? '';
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves true once the child has exited, false if it still runs after `timeoutMs`. */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (hasExited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.removeListener('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL if the child is still there after `graceMs`; resolves when it has exited (bounded). */
export async function stopChild(child: ChildProcess, graceMs = 2_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (hasExited(child)) return;
  child.kill(signal);
  if (await waitForExit(child, graceMs)) return;
  child.kill('SIGKILL');
  await waitForExit(child, 2_000);
}

/** Describes how a child ended, with its stderr, for error messages. */
export function describeExit(child: ChildProcess): string {
  const how = child.signalCode ? `was killed by ${child.signalCode}` : `exited with status ${String(child.exitCode)}`;
  const err = stderrTail(child);
  return err ? `${how}; stderr: ${err}` : how;
}

/**
 * The first stdout line of the child that parses as a JSON object. Rejects if
 * the child exits first or nothing comes within `timeoutMs`; `what` names the
 * child in the message.
 */
export function waitForJsonLine<T extends object>(child: ChildProcess, timeoutMs: number, what: string): Promise<T> {
  captureStderr(child);
  const stdout = child.stdout;
  if (!stdout) return Promise.reject(new TopologyError('TOPOLOGY_ERR_NOT_READY', `${what}: spawned without a stdout pipe`));
  return new Promise((resolve, reject) => {
    let buffered = '';
    const cleanup = (): void => {
      clearTimeout(timer);
      stdout.removeListener('data', onData);
      child.removeListener('close', onClose);
    };
    const timer = setTimeout(() => {
      cleanup();
      const err = stderrTail(child);
      reject(new TopologyError('TOPOLOGY_ERR_NOT_READY', `${what}: no ready line within ${timeoutMs} ms${err ? `; stderr: ${err}` : ''}`));
    }, timeoutMs);
    const onData = (chunk: Buffer | string): void => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        try {
          const value = JSON.parse(line) as T;
          cleanup();
          resolve(value);
          return;
        } catch {
          // not JSON after all: keep reading
        }
      }
    };
    // 'close' rather than 'exit': by then stdout and stderr have been read to the end.
    const onClose = (): void => {
      cleanup();
      reject(new TopologyError('TOPOLOGY_ERR_NOT_READY', `${what} ${describeExit(child)} before it was ready`));
    };
    stdout.on('data', onData);
    child.once('close', onClose);
  });
}

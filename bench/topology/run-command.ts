// Runs a short-lived command with a deadline; failures name the command line,
// its exit status and its stderr.
import { execFile } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { TopologyError } from './topology-error.js';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Kill the command (SIGKILL) after this long; default 10 000 ms. */
  timeoutMs?: number;
  /** Resolve with the output instead of throwing when the command fails. */
  allowFailure?: boolean;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_BUFFER_BYTES = 16 * 1024 * 1024;

export function runCommand(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: MAX_BUFFER_BYTES, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && !opts.allowFailure) {
          const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
          const why = e.killed ? `timed out after ${timeoutMs} ms` : `failed (${String(e.code)})`;
          const tail = stderr.trim() ? `: ${stderr.trim()}` : '';
          reject(new TopologyError('TOPOLOGY_ERR_COMMAND', `${[cmd, ...args].join(' ')} ${why}${tail}`, { cause: err }));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}

/** True when `cmd` is an executable file on PATH (or a path to one): exactly what execFile/spawn will find. */
export function isOnPath(cmd: string): boolean {
  return whichSync(cmd) !== undefined;
}

export function whichSync(cmd: string): string | undefined {
  const dirs = cmd.includes('/') ? [''] : (process.env.PATH ?? '').split(':').filter(Boolean);
  for (const dir of dirs) {
    const full = dir ? `${dir}/${cmd}` : cmd;
    try {
      accessSync(full, fsConstants.X_OK);
      return full;
    } catch {
      // not here
    }
  }
  return undefined;
}

// Python's http.server inside the server namespace: a small-backlog upstream
// (listen backlog 5, left at its default on purpose: it is what SYN-queue
// pressure looks like in the wild).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopChild, waitForJsonLine } from '../topology/child-output.js';
import { runCommand } from '../topology/run-command.js';
import type { Topology } from '../topology/topology.js';
import { READY_DEADLINE_MS, waitUntilAccepting, type UpstreamServer } from './upstream-server.js';

export interface PythonUpstreamOptions {
  /** 0 picks a free port (read back from the server's banner). */
  port: number;
}

/** Files served: `/` (index.html) and `/bytes-1m` (1 MiB). */
export const PYTHON_BYTES_FILE = 'bytes-1m';
const BYTES_FILE_SIZE = 1024 * 1024;

let pythonPath: Promise<string> | undefined;

/** The real interpreter behind `python3` (pyenv shims are shell scripts that cost ~100 ms per start). */
function resolvePython(): Promise<string> {
  pythonPath ??= runCommand('python3', ['-c', 'import sys; print(sys.executable)']).then(
    (r) => r.stdout.trim() || 'python3',
    () => 'python3',
  );
  return pythonPath;
}

let counter = 0;

export async function startPythonUpstream(topo: Topology, opts: PythonUpstreamOptions): Promise<UpstreamServer> {
  const dir = join(topo.dir, `python-${counter++}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>synpool</title><p>ok</p>\n');
  writeFileSync(join(dir, PYTHON_BYTES_FILE), Buffer.alloc(BYTES_FILE_SIZE, 0x61));

  // A tiny wrapper instead of `-m http.server`, only to learn the port when
  // asked for port 0; otherwise identical (same handler, same backlog).
  const script = [
    'import sys, json, functools, http.server',
    'h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[3])',
    's = http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), h)',
    'print(json.dumps({"listening": s.server_address[1]}), flush=True)',
    's.serve_forever()',
  ].join('\n');
  const args =
    opts.port === 0
      ? ['-u', '-c', script, topo.serverAddr, '0', dir]
      : ['-u', '-m', 'http.server', String(opts.port), '--bind', topo.serverAddr, '--directory', dir];
  const child = topo.spawn('server', await resolvePython(), args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  const stop = async (): Promise<void> => {
    await stopChild(child, 2_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    let port = opts.port;
    if (port === 0) port = (await waitForJsonLine<{ listening: number }>(child, READY_DEADLINE_MS, 'python http.server')).listening;
    child.stdout?.resume();
    await waitUntilAccepting(topo, child, 'python http.server', port);
    return { port, pid: child.pid!, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

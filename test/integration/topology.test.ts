// The test topology itself: namespaces, the vde delay line, the upstream
// servers, and that nothing is left behind. Runs as root; a missing
// prerequisite fails the file (naming it), never skips it.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTopology, enterNamespace, probeConnect, sweepStaleTopologies, type Topology } from '../../bench/topology/index.js';
import { isProcessAlive, processStartTicks } from '../../bench/topology/process-table.js';
import { STATE_ROOT, writeState } from '../../bench/topology/topology-state.js';
import {
  NGINX_BYTES_SIZE,
  PYTHON_BYTES_FILE,
  startNginxUpstream,
  startNodeUpstream,
  startPythonUpstream,
} from '../../bench/upstream/index.js';
import { assertIntegrationPrerequisites, missingPrerequisites } from '../helpers/prerequisites.js';

const EXTRA_TOOLS = ['nginx', 'python3', 'curl'];
const missing = missingPrerequisites(['ip', 'vde_switch', 'wirefilter', ...EXTRA_TOOLS]);

const live: Topology[] = [];
async function build(...args: Parameters<typeof createTopology>): Promise<Topology> {
  const topo = await createTopology(...args);
  live.push(topo);
  return topo;
}
afterAll(async () => {
  await Promise.allSettled(live.map((t) => t.destroy()));
});

/** Times one net.connect from inside the client namespace of `topo`. */
async function connectFromClient(topo: Topology, port: number): Promise<number> {
  const leave = enterNamespace(topo.netnsPath('client'));
  try {
    // Stay inside until 'connect': Node creates the socket's fd on a later tick.
    return await new Promise<number>((resolve, reject) => {
      const t0 = performance.now();
      const s = net.connect({ host: topo.serverAddr, port });
      s.setTimeout(5_000, () => s.destroy(new Error('connect timed out after 5 s')));
      s.once('connect', () => {
        const ms = performance.now() - t0;
        s.destroy();
        resolve(ms);
      });
      s.once('error', reject);
    });
  } finally {
    leave();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function curl(topo: Topology, url: string, extra: string[] = []): Promise<string> {
  const { stdout } = await topo.exec('client', 'curl', ['-sS', '--max-time', '5', ...extra, url]);
  return stdout;
}

function hostLinks(): string {
  return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
}

function netnsList(): string {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
}

test('prerequisites: root, iproute2, vde2, nginx, python3, curl', () => {
  expect(missing, 'missing prerequisites (scripts/ensure-system-packages.sh installs them)').toEqual([]);
});

describe('topology', () => {
  beforeAll(() => assertIntegrationPrerequisites(EXTRA_TOOLS));

  test('vde with 20 ms one-way delay: a TCP connect takes one 40 ms round trip', async () => {
    const topo = await build({ oneWayDelayMs: 20, link: 'vde' });
    expect(topo.link).toBe('vde');
    expect(topo.clientAddr).toMatch(/^10\.\d+\.\d+\.1$/);
    expect(topo.measuredRttMs).toBeGreaterThanOrEqual(38);
    expect(topo.measuredRttMs).toBeLessThanOrEqual(80);
    const upstream = await startNodeUpstream(topo);
    try {
      const samples: number[] = [];
      for (let i = 0; i < 3; i++) samples.push(await connectFromClient(topo, upstream.port));
      expect(Math.min(...samples), `connect times ${samples.map((s) => s.toFixed(1)).join(', ')} ms`).toBeGreaterThanOrEqual(38);
      expect(median(samples), `connect times ${samples.map((s) => s.toFixed(1)).join(', ')} ms`).toBeLessThanOrEqual(80);
      expect(await curl(topo, `http://${topo.serverAddr}:${upstream.port}/`)).toBe('ok\n');
    } finally {
      await upstream.stop();
    }
  });

  test("link 'auto' resolves to netem where the kernel has it, else vde; bad options fail loudly", async () => {
    const topo = await build({ oneWayDelayMs: 1, link: 'auto' });
    expect(['netem', 'vde']).toContain(topo.link);
    if (topo.link === 'vde') {
      await expect(createTopology({ oneWayDelayMs: 1, link: 'netem' })).rejects.toMatchObject({ code: 'TOPOLOGY_ERR_PREREQUISITE' });
    }
    await expect(createTopology({ oneWayDelayMs: -1 })).rejects.toThrow(/oneWayDelayMs/);
    await expect(createTopology({ oneWayDelayMs: 5, link: 'veth' })).rejects.toThrow(/adds no delay/);
    await expect(createTopology({ oneWayDelayMs: 0, prefix: 'Bad/Prefix' })).rejects.toThrow(/prefix/);
  });

  test('veth without delay: a TCP connect takes under 10 ms', async () => {
    const topo = await build({ oneWayDelayMs: 0, link: 'veth' });
    expect(topo.link).toBe('veth');
    const upstream = await startNodeUpstream(topo, { connectionClose: true });
    try {
      // The fastest of five: one connect on a CI machine busy with parallel test files took 10.9 ms
      // (the event loop's turn, not the link). A delay on the link would slow every one of them.
      const samples: number[] = [];
      for (let i = 0; i < 5; i++) samples.push(await connectFromClient(topo, upstream.port));
      expect(Math.min(...samples), `connect times ${samples.map((s) => s.toFixed(1)).join(', ')} ms`).toBeLessThan(10);
    } finally {
      await upstream.stop();
    }
  });

  test('node upstream routes', async () => {
    const topo = await build({ oneWayDelayMs: 0, link: 'veth' });
    const up = await startNodeUpstream(topo, { connectionClose: true, keepAliveTimeoutMs: 1_000, backlog: 64 });
    try {
      const base = `http://${topo.serverAddr}:${up.port}`;
      expect(await curl(topo, `${base}/bytes/3000000`, ['-o', '/dev/null', '-w', '%{size_download}'])).toBe('3000000');
      const upload = await curl(topo, `${base}/upload`, ['-X', 'PUT', '--data-binary', 'x'.repeat(1000)]);
      expect(JSON.parse(upload)).toEqual({ received: 1000 });
      const echo = JSON.parse(await curl(topo, `${base}/echo`, ['-H', 'x-probe: 1'])) as { method: string; headers: Record<string, string> };
      expect(echo.method).toBe('GET');
      expect(echo.headers['x-probe']).toBe('1');
      expect(await curl(topo, `${base}/x`, ['-X', 'DELETE', '-o', '/dev/null', '-w', '%{http_code}'])).toBe('204');
      expect(await curl(topo, `${base}/`, ['-D', '-'])).toMatch(/^connection: close\r$/im);
    } finally {
      await up.stop();
    }
  });

  test('python http.server and nginx answer a GET', async () => {
    const topo = await build({ oneWayDelayMs: 0, link: 'veth' });
    const py = await startPythonUpstream(topo, { port: 8080 });
    const pyAny = await startPythonUpstream(topo, { port: 0 });
    const ngx = await startNginxUpstream(topo, { port: 8081, keepaliveTimeoutS: 5 });
    try {
      expect(await curl(topo, `http://${topo.serverAddr}:${py.port}/`)).toContain('<p>ok</p>');
      expect(await curl(topo, `http://${topo.serverAddr}:${pyAny.port}/${PYTHON_BYTES_FILE}`, ['-o', '/dev/null', '-w', '%{size_download}'])).toBe(String(1024 * 1024));
      expect(await curl(topo, `http://${topo.serverAddr}:${ngx.port}/`)).toBe('ok\n');
      expect(await curl(topo, `http://${topo.serverAddr}:${ngx.port}/bytes`, ['-o', '/dev/null', '-w', '%{size_download}'])).toBe(String(NGINX_BYTES_SIZE));
    } finally {
      await Promise.all([py.stop(), pyAny.stop(), ngx.stop()]);
    }
    expect(isProcessAlive(ngx.pid)).toBe(false);
    expect(isProcessAlive(py.pid)).toBe(false);
  });

  test('an nginx upstream in the client namespace answers on its loopback, not in the server namespace', async () => {
    const topo = await build({ oneWayDelayMs: 0, link: 'veth' });
    const ngx = await startNginxUpstream(topo, { port: 8082, keepaliveTimeoutS: 0, ns: 'client', host: '127.0.0.1' });
    try {
      expect(await curl(topo, `http://127.0.0.1:${ngx.port}/`)).toBe('ok\n');
      const listening = async (side: 'client' | 'server'): Promise<string> => (await topo.exec(side, 'ss', ['-Hltn', `sport = :${ngx.port}`], { allowFailure: true })).stdout.trim();
      expect(await listening('client')).toContain(`127.0.0.1:${ngx.port}`);
      expect(await listening('server')).toBe('');
    } finally {
      await ngx.stop();
    }
    expect(isProcessAlive(ngx.pid)).toBe(false);
  });

  test('a server that never comes up fails with its name and stderr', async () => {
    const topo = await build({ oneWayDelayMs: 0, link: 'veth' });
    const a = await startPythonUpstream(topo, { port: 8090 });
    try {
      // The port is taken: python exits with EADDRINUSE while the port does
      // accept connections (the first server's), which must not count as ready.
      await expect(startPythonUpstream(topo, { port: 8090 })).rejects.toThrow(/python http\.server .*Address already in use/s);
      // An out-of-range port: node's listen() throws, and the message carries its stderr.
      await expect(startNodeUpstream(topo, { port: 70_000 })).rejects.toThrow(/node upstream .*exited with status 1.*RangeError/s);
    } finally {
      await a.stop();
    }
  });

  test('enterNamespace: a listener made inside the server namespace lives there', async () => {
    const topo = await build({ oneWayDelayMs: 0, link: 'veth' });
    const leave = enterNamespace(topo.netnsPath('server'));
    let server: net.Server;
    const peers: string[] = [];
    try {
      server = net.createServer((s) => {
        peers.push(s.remoteAddress ?? '');
        s.end();
      });
      // Stay inside until 'listening': listen() with a host resolves it first.
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, topo.serverAddr, () => resolve());
      });
    } finally {
      leave();
    }
    try {
      const port = (server.address() as net.AddressInfo).port;
      // From a process in the client namespace.
      await probeConnect(topo, topo.serverAddr, port, { deadlineMs: 3_000 });
      await expect.poll(() => peers).toEqual([topo.clientAddr]);
      // Back home, the 10.x address does not exist.
      const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
        const other = net.createServer();
        other.once('error', (e) => resolve(e));
        other.listen(0, topo.serverAddr, () => other.close(() => resolve(undefined)));
      });
      expect(err?.code).toBe('EADDRNOTAVAIL');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('destroy() leaves no namespace, process or tap behind, and is idempotent', async () => {
    const topo = await build({ oneWayDelayMs: 5, link: 'vde' });
    const up = await startNodeUpstream(topo);
    const helpers = topo.helperPids();
    // 2 vde_switch, 1 wirefilter
    expect(helpers.length).toBe(3);
    const names = JSON.parse(execFileSync('ip', ['-n', topo.clientNs, '-j', 'link', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string }>;
    const tap = names.map((l) => l.ifname).find((n) => n !== 'lo')!;
    expect(tap.length).toBeLessThanOrEqual(15);
    expect(netnsList()).toContain(topo.clientNs);
    // The taps are created inside the namespaces, never in the host's.
    expect(hostLinks()).not.toContain(tap);

    await topo.destroy();
    await topo.destroy();

    const list = netnsList();
    expect(list).not.toContain(topo.clientNs);
    expect(list).not.toContain(topo.serverNs);
    expect(helpers.filter((p) => isProcessAlive(p))).toEqual([]);
    expect(isProcessAlive(up.pid)).toBe(false);
    expect(hostLinks()).not.toContain(tap);
    expect(hostLinks()).not.toContain(tap.slice(0, -1));
    expect(() => topo.spawn('client', 'true', [])).toThrow(/destroyed/);
    await up.stop();
  });

  test('sweepStaleTopologies() removes what a dead process left', async () => {
    // A pid that is certainly dead: a child that has exited.
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    const name = `sweeptest-${dead.pid}-0`;
    const dir = join(STATE_ROOT, name);
    const ns = `${name}-client`;
    execFileSync('ip', ['netns', 'add', ns]);
    // A process inside it, as a leftover server would be.
    const orphan = spawn('ip', ['netns', 'exec', ns, 'sleep', '60'], { stdio: 'ignore' });
    const orphanPid = orphan.pid!;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'leftover'), 'x');
    writeState({
      name,
      dir,
      ownerPid: dead.pid!,
      ownerStartTicks: 1,
      namespaces: [ns],
      processes: [{ pid: orphanPid, startTicks: processStartTicks(orphanPid) ?? 0, group: false, label: 'sleep' }],
    });
    try {
      const report = sweepStaleTopologies();
      expect(report.removed).toContain(name);
      await new Promise((r) => orphan.once('exit', r));
      expect(isProcessAlive(orphanPid)).toBe(false);
      expect(netnsList()).not.toContain(ns);
    } finally {
      try {
        execFileSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
      } catch {
        // already gone: the expected case
      }
      orphan.kill('SIGKILL');
    }
  });
});

// An upstream that answers an upload before reading it (413 by the headers alone) and
// closes: the client must get that answer, not a 502, over plain and pooled, http and
// https connections. Loopback in this namespace, where the race is at its tightest: the
// upstream's close and its answer reach the proxy while it is still sending the body,
// and the proxy's next write fails before it has read the answer (before the fix: 502
// on every http request, and on ~40 % of pooled https ones). The upstream is
// bench/upstream/http-server.mjs in its own process (`POST /refuse`).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrivateCa, issueCert, type PrivateCa, type IssuedCert } from '../../bench/upstream/private-ca.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';
import { metricValue, serveInProcess, waitUntil, type InProcessSynpool } from '../helpers/proxy-process.js';

const execFileP = promisify(execFile);
const UPSTREAM = fileURLToPath(new URL('../../bench/upstream/http-server.mjs', import.meta.url));
const UPLOADS = 6;

let dir: string;
let body: string;
let ca: PrivateCa;
let cert: IssuedCert;
const children: ChildProcess[] = [];
const proxies: InProcessSynpool[] = [];

beforeAll(() => {
  assertIntegrationPrerequisites(['openssl', 'curl']);
  dir = mkdtempSync(join(tmpdir(), 'synpool-early-'));
  // More than the sockets on the way buffer: the proxy is still sending when the upstream closes.
  body = join(dir, 'body');
  writeFileSync(body, Buffer.alloc(16 * 1024 * 1024, 1));
  ca = createPrivateCa(join(dir, 'ca'));
  cert = issueCert(ca, { name: 'loopback', ips: ['127.0.0.1'] });
});

afterAll(async () => {
  await Promise.allSettled(proxies.map((p) => p.stop()));
  for (const c of children) c.kill('SIGKILL');
  await Promise.allSettled(children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : undefined)));
  rmSync(dir, { recursive: true, force: true });
});

async function upstream(tls: boolean): Promise<number> {
  const args = [UPSTREAM, '--host', '127.0.0.1', '--port', '0', '--exit-on-stdin-eof', ...(tls ? ['--tls-cert', cert.certFile, '--tls-key', cert.keyFile] : [])];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return (JSON.parse(line.toString()) as { listening: number }).listening;
}

/** curl, not a Node client: a Node client loses an early answer to its own EPIPE, as the proxy did. */
async function upload(p: InProcessSynpool): Promise<string> {
  const { stdout } = await execFileP('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', '--data-binary', `@${body}`, `${p.url}/refuse`]);
  return stdout;
}

describe('an early answer to an upload is relayed, not turned into a 502', () => {
  it.each([
    ['http, plain connections', false, false],
    ['http, pooled connections', false, true],
    ['https, plain connections', true, false],
    ['https, pooled connections', true, true],
  ])('%s', async (_name, tls, pooled) => {
    const port = await upstream(tls);
    const p = await serveInProcess({
      upstream: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
      accel: pooled,
      ...(tls ? { tls: { ca: ca.certFile } } : {}),
      ...(pooled ? { pool: { sizing: 'fixed', targetSize: 2 } } : {}),
    });
    proxies.push(p);
    if (pooled) await waitUntil('2 pooled entries', async () => metricValue(await p.metrics(), 'synpool_pool_ready') >= 2, 5_000, 20);
    const statuses: string[] = [];
    for (let i = 0; i < UPLOADS; i++) statuses.push(await upload(p));
    expect(statuses).toEqual(Array(UPLOADS).fill('413'));
    const lines = p.log.requests();
    expect(lines.map((l) => l.status)).toEqual(Array(UPLOADS).fill(413));
    if (pooled) expect(lines.some((l) => l.connection === 'pool')).toBe(true);
    else expect(lines.every((l) => l.connection !== 'pool')).toBe(true);
  });
});

// The minimal node:http + undici proxy (bench/proxy/plain-proxy.ts, built to
// dist), the harness's node-proxy contender: it forwards to a plain http
// upstream, and to an https one verified against the private CA it is given
// (--ca, --servername), refusing one it cannot verify. On loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { stopChild, waitForJsonLine } from '../../bench/topology/child-output.js';
import { createPrivateCa, issueCert, type PrivateCa } from '../../bench/upstream/private-ca.js';

const PLAIN_PROXY = fileURLToPath(new URL('../../dist/bench/proxy/plain-proxy.js', import.meta.url));
const NAME = 'origin.synpool.test';

const children: ChildProcess[] = [];
const servers: http.Server[] = [];
let dir: string;
let ca: PrivateCa;
let httpPort: number;
let httpsPort: number;
const seen: Array<{ url: string | undefined; host: string | undefined }> = [];

const answer = (req: http.IncomingMessage, res: http.ServerResponse): void => {
  seen.push({ url: req.url, host: req.headers.host });
  res.end(`hello from ${req.url}`);
};

async function listen(s: http.Server): Promise<number> {
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return (s.address() as AddressInfo).port;
}

async function proxy(args: string[]): Promise<number> {
  const child = spawn(process.execPath, [PLAIN_PROXY, ...args, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return (await waitForJsonLine<{ listening: number }>(child, 10_000, 'node proxy')).listening;
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'synpool-node-proxy-'));
  ca = createPrivateCa(join(dir, 'ca'));
  const cert = issueCert(ca, { name: 'origin', dns: [NAME] });
  httpPort = await listen(http.createServer(answer));
  httpsPort = await listen(https.createServer({ cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) }, answer));
});

afterAll(async () => {
  await Promise.all(children.map((c) => stopChild(c, 2_000)));
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('node-proxy (the minimal Node proxy the harness runs)', () => {
  test('forwards to a plain http upstream', async () => {
    const port = await proxy(['--upstream', `http://127.0.0.1:${httpPort}`]);
    expect(await get(port, '/a?b=1')).toEqual({ status: 200, body: 'hello from /a?b=1' });
  });

  test('forwards to an https upstream verified against the CA it is given', async () => {
    const port = await proxy(['--upstream', `https://127.0.0.1:${httpsPort}`, '--ca', ca.certFile, '--servername', NAME]);
    const before = seen.length;
    expect(await get(port, '/tls')).toEqual({ status: 200, body: 'hello from /tls' });
    expect(seen.slice(before).map((s) => s.url)).toEqual(['/tls']);
  });

  test('refuses an https upstream it cannot verify: 502, and the origin sees no request', async () => {
    const port = await proxy(['--upstream', `https://127.0.0.1:${httpsPort}`]);
    const before = seen.length;
    expect((await get(port, '/unverified')).status).toBe(502);
    expect(seen.length).toBe(before);
  });
});

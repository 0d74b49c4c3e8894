// HTTPS upstreams across a delay line, synpool accelerated in this process (in the
// client namespace): TLS runs over the pooled, repaired socket. Certificates come
// from a private CA made here with openssl; origins are node:https and nginx.
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopChild } from '../../bench/topology/child-output.js';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { startNginxUpstream, startNodeUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import { createAcceleratedAgent } from '../../src/proxy/accelerated-agent.js';
import { createPoolSource, type PoolConnectionSource } from '../../src/proxy/pool-source.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';
import { metricValue, serveInProcess, sleep, waitUntil, type InProcessSynpool } from '../helpers/proxy-process.js';
import { createPrivateCa, issueCert, type IssuedCert, type PrivateCa } from '../../bench/upstream/private-ca.js';

const ONE_WAY_MS = 10;
const RTT_MS = 2 * ONE_WAY_MS;
const NAME = 'upstream.test';

let topo: Topology;
let leave: (() => void) | undefined;
let ca: PrivateCa;
let good: IssuedCert;
const upstreams: UpstreamServer[] = [];
const proxies: InProcessSynpool[] = [];
const clients: Pool[] = [];

beforeAll(async () => {
  assertIntegrationPrerequisites(['openssl', 'nginx']);
  topo = await createTopology({ oneWayDelayMs: ONE_WAY_MS, link: 'vde', prefix: 'spht' });
  ca = createPrivateCa(join(topo.dir, 'ca'));
  // The name and the server's address: the library test below checks the address.
  good = issueCert(ca, { name: 'good', dns: [NAME], ips: [topo.serverAddr] });
  leave = enterNamespace(topo.netnsPath('client'));
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.destroy()));
  await Promise.allSettled(proxies.map((p) => p.stop()));
  leave?.();
  await Promise.allSettled(upstreams.map((u) => u.stop()));
  await topo?.destroy();
});

async function nodeHttps(cert: IssuedCert, opts: { port?: number } = {}): Promise<UpstreamServer> {
  const u = await startNodeUpstream(topo, { ...opts, connectionClose: true, tls: cert });
  upstreams.push(u);
  return u;
}

async function proxy(port: number, tls: Record<string, unknown>, pool: Record<string, unknown> = { sizing: 'fixed', targetSize: 2 }): Promise<InProcessSynpool> {
  const p = await serveInProcess({ upstream: `https://${topo.serverAddr}:${port}`, tls, pool, connectTimeoutMs: 3_000 });
  proxies.push(p);
  return p;
}

async function poolReady(p: InProcessSynpool, n: number): Promise<void> {
  await waitUntil(`${n} pooled entries`, async () => metricValue(await p.metrics(), 'synpool_pool_ready') >= n, 5_000, 20);
}

async function get(p: InProcessSynpool, init: { method?: string; body?: string } = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(`${p.url}/echo`, { ...init, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

describe('HTTPS over pooled connections', () => {
  it('node:https origin: verified with tls.ca and tls.servername, TLS on the pooled socket, session resumed, tls in logs and metrics', async () => {
    const u = await nodeHttps(good);
    const p = await proxy(u.port, { ca: ca.certFile, servername: NAME });
    await poolReady(p, 2);
    for (let i = 0; i < 3; i++) {
      const r = await get(p);
      expect(r.status, r.body).toBe(200);
      // The upstream saw the configured name in Host (the URL's host is the address here) — and HTTP inside TLS.
      expect(JSON.parse(r.body).headers.host).toBe(`${topo.serverAddr}:${u.port}`);
      await poolReady(p, 2);
    }
    const lines = p.log.requests();
    expect(lines.map((l) => l.connection)).toEqual(['pool', 'pool', 'pool']);
    for (const l of lines) expect(l).toMatchObject({ status: 200, tls: true, retried: false });
    const m = await p.metrics();
    expect(metricValue(m, 'synpool_request_duration_seconds_count', { connection: 'pool', status_class: '2xx', tls: 'true' })).toBe(3);
    // Every new connection did one TLS handshake, timed apart from the handoff; the first is full, the later ones resume.
    expect(metricValue(m, 'synpool_tls_handshake_duration_seconds_count', { connection: 'pool', resumed: 'false' })).toBe(1);
    expect(metricValue(m, 'synpool_tls_handshake_duration_seconds_count', { connection: 'pool', resumed: 'true' })).toBe(2);
    expect(metricValue(m, 'synpool_handoff_duration_seconds_count')).toBe(3);
  });

  it('nginx origin (TLS 1.3, a connection per request): served over pooled connections', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    upstreams.push(await startNginxUpstream(topo, { port, keepaliveTimeoutS: 0, tls: good }));
    const p = await proxy(port, { ca: ca.certFile, servername: NAME });
    await poolReady(p, 2);
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${p.url}/`, { signal: AbortSignal.timeout(10_000) });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('ok\n');
      await poolReady(p, 2);
    }
    expect(p.log.requests().map((l) => l.connection)).toEqual(['pool', 'pool', 'pool']);
    expect(metricValue(await p.metrics(), 'synpool_tls_handshake_duration_seconds_count', { connection: 'pool', resumed: 'true' })).toBe(2);
  });
});

describe('certificate failures: 502, the reason in the log line, never retried', () => {
  const cases: [string, () => IssuedCert, string][] = [
    ['a certificate for another name', () => issueCert(ca, { name: 'wrong-name', dns: ['other.test'] }), 'ERR_TLS_CERT_ALTNAME_INVALID'],
    ['an expired certificate', () => issueCert(ca, { name: 'expired', dns: [NAME], days: -1 }), 'CERT_HAS_EXPIRED'],
    ['a certificate from a CA not trusted (no tls.ca)', () => good, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
  ];
  it.each(cases)('%s is refused', async (what, cert, code) => {
    const u = await nodeHttps(cert());
    const trusted = what.includes('no tls.ca') ? {} : { ca: ca.certFile };
    const p = await proxy(u.port, { ...trusted, servername: NAME });
    await poolReady(p, 2);
    for (const method of ['GET', 'POST']) {
      const r = await get(p, method === 'POST' ? { method, body: 'x' } : {});
      expect(r.status).toBe(502);
      expect(r.body).toBe('upstream certificate rejected\n');
    }
    const lines = p.log.requests();
    expect(lines.length).toBe(2);
    for (const l of lines) expect(l).toMatchObject({ status: 502, error: code, retried: false, connection: 'none', tls: true });
    const m = await p.metrics();
    expect(metricValue(m, 'synpool_upstream_retries_total')).toBe(0);
    expect(metricValue(m, 'synpool_tls_handshake_duration_seconds_count')).toBe(0);
  });
});

describe('tls.verify: false', () => {
  it('connects to an untrusted, wrong-name certificate and warns once at start', async () => {
    const u = await nodeHttps(issueCert(ca, { name: 'unverified', dns: ['other.test'] }));
    const p = await proxy(u.port, { verify: false });
    const warnings = p.log.lines().filter((l) => l.level === 40 && String(l.msg).includes('tls.verify is false'));
    expect(warnings.length).toBe(1);
    await poolReady(p, 2);
    const r = await get(p);
    expect(r.status).toBe(200);
    expect(p.log.requests()[0]).toMatchObject({ connection: 'pool', tls: true });
  });

  it('with verification on (the default), no warning is logged', async () => {
    const u = await nodeHttps(good);
    const p = await proxy(u.port, { ca: ca.certFile, servername: NAME });
    expect(p.log.lines().filter((l) => String(l.msg).includes('tls.verify'))).toEqual([]);
  });
});

describe('pooled reset over TLS', () => {
  it('an upstream restarted with a full pool resets the ClientHello: SYNPOOL_ERR_POOLED_RESET, replayed on a plain connection for any method', async () => {
    const SIZE = 4;
    let server = await nodeHttps(good);
    const port = server.port;
    const p = await proxy(port, { ca: ca.certFile, servername: NAME }, { sizing: 'fixed', targetSize: SIZE, synRatePerSec: 50, synBurst: SIZE });
    await poolReady(p, SIZE);
    // The new process holds none of the old one's SYN_RECV entries: each pooled ClientHello meets a RST.
    upstreams.splice(upstreams.indexOf(server), 1);
    await server.stop();
    server = await nodeHttps(good, { port });
    const client = new Pool(p.url, { connections: SIZE });
    clients.push(client);
    const post = async (): Promise<number> => {
      const res = await client.request({ method: 'POST', path: '/upload', body: 'payload', headersTimeout: 10_000, bodyTimeout: 10_000 });
      const text = await res.body.text();
      expect(JSON.parse(text)).toEqual({ received: 7 });
      return res.statusCode;
    };
    const statuses = await Promise.all(Array.from({ length: SIZE }, () => post()));
    const report = JSON.stringify(p.log.requests().map((l) => `${l.status}:${l.connection}${l.retried ? '↻' : ''}:${String(l.error ?? '')}`));
    expect(statuses, report).toEqual(Array(SIZE).fill(200));
    const m = await p.metrics();
    const retried = metricValue(m, 'synpool_upstream_retries_total', { reason: 'pooled-reset' });
    expect(retried, report).toBeGreaterThanOrEqual(1);
    expect(metricValue(m, 'synpool_fallbacks_total', { reason: 'pooled-reset' }), report).toBe(retried);
    const replayed = p.log.requests().filter((l) => l.retried === true);
    expect(replayed.length, report).toBe(retried);
    for (const l of replayed) expect(l).toMatchObject({ status: 200, connection: 'plain', method: 'POST', tls: true });
    // The pool learned from the reset (its own socket was told), as with plain HTTP.
    const pool = (p.running.agent.source as PoolConnectionSource).pool.snapshot()[0]!;
    expect(pool.deadOnUse, report).toBe(retried);
    // After the refill, requests go out on pooled connections again.
    await sleep(4 * RTT_MS);
    await poolReady(p, 1);
    expect(await post()).toBe(200);
    expect(p.log.requests().at(-1)).toMatchObject({ connection: 'pool', retried: false });
  }, 30_000);
});

describe('the library agent with fetch', () => {
  it('fetch to an https:// origin (an IPv4 literal, checked against the certificate) goes out on a pooled connection', async () => {
    const u = await nodeHttps(good);
    const source = createPoolSource([{ address: topo.serverAddr, port: u.port }], { sizing: 'fixed', targetSize: 2 });
    expect(source.accelerated).toBe(true);
    const agent = createAcceleratedAgent({ source, tls: { ca: readFileSync(ca.certFile, 'utf8') } });
    const seen: string[] = [];
    agent.events.on('connection', (e) => seen.push(e.connection));
    try {
      await waitUntil('pool ready', () => (source as PoolConnectionSource).pool.snapshot()[0]!.ready >= 2, 5_000, 20);
      const res = await fetch(`https://${topo.serverAddr}:${u.port}/echo`, { dispatcher: agent, signal: AbortSignal.timeout(10_000) });
      expect(res.status).toBe(200);
      expect(JSON.parse(await res.text()).method).toBe('GET');
      expect(seen).toEqual(['pool']);
    } finally {
      await agent.close();
      (source as PoolConnectionSource).close();
    }
  });

  it('examples/fetch-with-pool.mjs fetches an https:// origin over pooled connections (SYNPOOL_CA)', async () => {
    const u = await nodeHttps(good);
    const example = fileURLToPath(new URL('../../examples/fetch-with-pool.mjs', import.meta.url));
    const child = topo.spawn('client', process.execPath, [example, `https://${topo.serverAddr}:${u.port}/echo`], {
      env: { ...process.env, SYNPOOL_CA: ca.certFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => void stopChild(child, 500), 15_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);
    expect(code, `${out}\n${err}`).toBe(0);
    expect(out.match(/^200 in [\d.]+ ms$/gm)?.length, out).toBe(3);
    // The pool holds 4 entries: every one of the 3 requests (Connection: close) took one, with its own TLS handshake.
    expect(err.match(/request went out on a pool connection/g)?.length, err).toBe(3);
    expect(err.match(/TLS TLSv1\.3 in [\d.]+ ms/g)?.length, err).toBe(3);
  });
});

// Forwarding headers through the real proxy (serve() from a validated config, a
// node:http upstream, all on loopback): a client's forged X-Forwarded-For is replaced
// unless its address is in trustedProxies, and then it is extended.
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config/schema.js';
import { serveInProcess, type InProcessSynpool } from '../helpers/proxy-process.js';
import { echoHandler, rawExchange, request, startUpstream, type Upstream } from './proxy-harness.js';

let upstream: Upstream | undefined;
let synpool: InProcessSynpool | undefined;

afterEach(async () => {
  await synpool?.stop();
  await upstream?.close();
  synpool = undefined;
  upstream = undefined;
});

const FORGED = {
  host: 'public.example',
  'x-forwarded-for': '203.0.113.9',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'forged.example',
  forwarded: 'for=203.0.113.9;proto=https',
};

/** The headers the upstream received for one request carrying FORGED, from 127.0.0.1. */
async function seenUpstream(config: ConfigInput): Promise<Record<string, string | undefined>> {
  upstream = await startUpstream(echoHandler);
  // accel: false: this is about the proxy's headers, not the pool (no raw sockets needed).
  synpool = await serveInProcess({ upstream: upstream.url, accel: false, ...config });
  const res = await request(synpool.port, { path: '/who', headers: FORGED });
  expect(res.status).toBe(200);
  return (JSON.parse(res.body.toString()) as { headers: Record<string, string | undefined> }).headers;
}

describe('proxy: forwarding headers and trustedProxies', () => {
  it('replaces a forged X-Forwarded-For (and -Proto, -Host, Forwarded) from an untrusted client', async () => {
    const seen = await seenUpstream({});
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe('public.example');
    expect(seen.forwarded).toBeUndefined();
  });

  it('extends the chain when the client address is in trustedProxies', async () => {
    const seen = await seenUpstream({ trustedProxies: ['::1/128', '127.0.0.0/8'] });
    expect(seen['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('https');
    expect(seen['x-forwarded-host']).toBe('forged.example');
  });

  it('a trustedProxies list that does not hold the client still replaces', async () => {
    const seen = await seenUpstream({ trustedProxies: ['10.0.0.0/8'] });
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
  });

  it("forwardedHeader: both writes RFC 7239 Forwarded next to X-Forwarded-*, extended from a trusted client", async () => {
    const seen = await seenUpstream({ trustedProxies: ['127.0.0.1'], forwardedHeader: 'both' });
    expect(seen.forwarded).toBe('for=203.0.113.9;proto=https, for=127.0.0.1;host=public.example;proto=http');
    expect(seen['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
  });

  it.each([
    [[], '127.0.0.1'],
    [['127.0.0.0/8'], '203.0.113.9, 127.0.0.1'],
  ])('an upgrade request (relayed refusal) follows the same rule: trustedProxies %j → %s', async (trustedProxies, xff) => {
    upstream = await startUpstream(echoHandler);
    synpool = await serveInProcess({ upstream: upstream.url, accel: false, trustedProxies });
    const reply = await rawExchange(
      synpool.port,
      'GET /ws HTTP/1.1\r\nHost: public.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n',
    );
    expect(reply).toMatch(/^HTTP\/1\.1 200/);
    expect(reply).toContain(`"x-forwarded-for":"${xff}"`);
  });

  it('a reload (ProxyServer.reconfigure) that trusts the client applies to the next request on an open keep-alive connection', async () => {
    upstream = await startUpstream(echoHandler);
    synpool = await serveInProcess({ upstream: upstream.url, accel: false });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const xff = async (): Promise<{ xff: string | undefined; port: number }> => {
      const res = await request(synpool!.port, { path: '/', headers: FORGED, agent });
      return { xff: (JSON.parse(res.body.toString()) as { headers: Record<string, string> }).headers['x-forwarded-for'], port: res.socketPort };
    };
    const before = await xff();
    synpool.running.proxy.reconfigure({ trustedProxies: ['127.0.0.1/32'] });
    const after = await xff();
    agent.destroy();
    expect(after.port).toBe(before.port);
    expect([before.xff, after.xff]).toEqual(['127.0.0.1', '203.0.113.9, 127.0.0.1']);
  });
});

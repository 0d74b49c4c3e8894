import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { OriginPools } from '../../src/proxy/origin-pools.js';

const servers: http.Server[] = [];

afterAll(async () => {
  for (const s of servers) s.close();
  await Promise.all(servers.map((s) => once(s, 'close').catch(() => undefined)));
});

async function closingServer(): Promise<string> {
  const server = http.createServer((_req, res) => {
    res.shouldKeepAlive = false;
    res.end('ok');
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('OriginPools', () => {
  it('keeps one Pool per origin across closed connections, and does not grow past its bound with many origins', async () => {
    const origins: string[] = [];
    for (let i = 0; i < 80; i++) origins.push(await closingServer());
    const pools = new OriginPools({ factory: (origin, opts) => new Client(origin, opts) });
    try {
      // The same origin twice with the connection closed in between: still one Pool.
      for (const origin of [origins[0]!, origins[0]!]) {
        const res = await pools.request({ origin, path: '/', method: 'GET' });
        expect(await res.body.text()).toBe('ok');
      }
      expect(pools.size).toBe(1);
      for (const origin of origins) {
        const res = await pools.request({ origin, path: '/', method: 'GET' });
        expect(await res.body.text()).toBe('ok');
        // Let the upstream's close reach the Pool, so it counts as unused.
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(pools.size).toBeLessThanOrEqual(64);
      expect(pools.size).toBeGreaterThan(0);
    } finally {
      await pools.close();
    }
  });
});

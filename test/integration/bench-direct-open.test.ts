// The harness's direct-open floor on loopback: its requests must really go over
// connections opened beforehand, or the floor would hide handshakes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { directOpenContender } from '../../bench/harness/direct-open.js';
import { timedGet } from '../../bench/harness/timed-request.js';

const servers: http.Server[] = [];

async function server(keepAliveTimeoutMs: number): Promise<{ port: number; accepted: () => number }> {
  let accepted = 0;
  const s = http.createServer((_req, res) => res.end('ok'));
  s.keepAliveTimeout = keepAliveTimeoutMs;
  s.on('connection', () => accepted++);
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return { port: (s.address() as AddressInfo).port, accepted: () => accepted };
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

describe('direct-open (bench harness floor)', () => {
  it('a burst after prepare() goes over the connections prepared: no handshake while measured', async () => {
    const up = await server(5_000);
    const c = directOpenContender('direct-open', { variant: 'warm', host: '127.0.0.1', port: up.port, url: '', pid: 0, tls: undefined }, '/');
    try {
      await c.prepare!(8);
      expect(up.accepted()).toBe(8);
      const outcomes = await Promise.all(Array.from({ length: 8 }, () => timedGet(c.target)));
      expect(outcomes.every((o) => o.ok)).toBe(true);
      expect(c.connectionsOpened!()).toBe(0);
      expect(up.accepted()).toBe(8);
      // Already open: a second prepare opens nothing.
      await c.prepare!(8);
      expect(up.accepted()).toBe(8);
      // More at once than prepared: the extra ones are counted as handshakes paid.
      await Promise.all(Array.from({ length: 10 }, () => timedGet(c.target)));
      expect(c.connectionsOpened!()).toBe(2);
    } finally {
      await c.close!();
    }
  });

  it('a server announcing Keep-Alive: timeout=1 is not kept by node\'s Agent (why direct-open talks to the warm server)', async () => {
    const up = await server(1_000);
    const c = directOpenContender('direct-open', { variant: 'idle', host: '127.0.0.1', port: up.port, url: '', pid: 0, tls: undefined }, '/');
    try {
      await c.prepare!(4);
      await Promise.all(Array.from({ length: 4 }, () => timedGet(c.target)));
      expect(c.connectionsOpened!()).toBe(4);
    } finally {
      await c.close!();
    }
  });
});

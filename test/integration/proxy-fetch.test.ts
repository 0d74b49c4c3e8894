import net, { type Socket } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { fetch, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { createAcceleratedAgent, PooledConnectionResetError, type ConnectionEvent, type ConnectionSource } from '../../src/index.js';
import { echoHandler, startUpstream, type Upstream } from './proxy-harness.js';

let upstream: Upstream | undefined;
let previous: Dispatcher | undefined;

afterEach(async () => {
  if (previous !== undefined) setGlobalDispatcher(previous);
  await upstream?.close();
  upstream = undefined;
});

async function connected(port: number): Promise<Socket> {
  const s = net.connect(port, '127.0.0.1');
  await once(s, 'connect');
  return s;
}

describe('library: createAcceleratedAgent as the global dispatcher', () => {
  it('fetch uses the pooled socket first, then keep-alive reuse', async () => {
    upstream = await startUpstream(echoHandler);
    const ready = [await connected(upstream.port)];
    const source: ConnectionSource = { accelerated: true, acquire: () => ready.shift() };
    const agent = createAcceleratedAgent({ source });
    const seen: ConnectionEvent[] = [];
    agent.events.on('connection', (e) => seen.push(e));
    previous = getGlobalDispatcher();
    setGlobalDispatcher(agent);
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${upstream.url}/f${i}`);
      expect(res.status).toBe(200);
      await res.text();
      // Let the client return to idle before the next dispatch, or the pool opens a second one.
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(seen.map((e) => e.connection)).toEqual(['pool', 'reused']);
    await agent.close();
  });

  it('fetch without a body survives a pooled reset (replayed on a plain connection)', async () => {
    upstream = await startUpstream(echoHandler);
    const dead = await connected(upstream.port);
    dead.write = (() => {
      dead.destroy(new PooledConnectionResetError('127.0.0.1'));
      return false;
    }) as Socket['write'];
    const ready = [dead];
    const source: ConnectionSource = { accelerated: true, acquire: () => ready.shift() };
    const agent = createAcceleratedAgent({ source });
    const retries: string[] = [];
    agent.events.on('retry', (e) => retries.push(e.reason));
    // fetch hands undici every body as a one-shot stream, so only bodiless requests can be replayed.
    const res = await fetch(`${upstream.url}/get`, { method: 'DELETE', dispatcher: agent });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ method: 'DELETE', bytes: 0 });
    expect(retries).toEqual(['pooled-reset']);
    await agent.close();
  });
});

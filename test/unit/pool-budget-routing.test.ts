// The proxy's side of the pool budget split and of pausing an ejected server's pools:
// buildRouting / wantedPools / the address follower give each address its share, and
// pauseEjectedPools follows passive health through the ConnectionSource seam.
import { describe, expect, it } from 'vitest';
import { resolveUpstream, type UpstreamTarget } from '../../src/config/load-config.js';
import { validateConfig } from '../../src/config/schema.js';
import { endpointKey, type Endpoint } from '../../src/handshake/endpoint.js';
import { FakeClock } from '../../src/pool/clock.js';
import type { PoolSettings } from '../../src/pool/pool-config.js';
import { PoolManager } from '../../src/pool/pool-manager.js';
import type { ConnectionSource } from '../../src/proxy/connection-source.js';
import { pauseEjectedPools } from '../../src/proxy/ejection-pause.js';
import { buildRouting, resolveServers, wantedPools, type RuntimeDeps } from '../../src/proxy/routing-builder.js';
import type { AddressLookup } from '../../src/resolve/address-lookup.js';
import { PassiveHealth } from '../../src/routing/passive-health.js';
import { FakeHandshakeDriver } from '../helpers/fake-handshake-driver.js';

const S1 = 'http://10.0.0.2:8080';
const S2 = 'http://10.0.0.3:8080';
const NAME = 'http://app.internal:8080';

/** A ConnectionSource that records the pools it is asked for (the PoolConnectionSource contract, without a kernel). */
class RecordingSource implements ConnectionSource {
  readonly accelerated = true;
  readonly pools = new Map<string, { target: Endpoint; settings: PoolSettings }>();
  readonly paused = new Map<string, boolean>();
  acquire(): undefined {
    return undefined;
  }
  addTarget(target: Endpoint, settings: PoolSettings = {}): void {
    this.pools.set(endpointKey(target), { target, settings });
  }
  removeTarget(target: Endpoint): void {
    this.pools.delete(endpointKey(target));
  }
  syncTargets(wanted: ReadonlyMap<string, { readonly target: Endpoint; readonly settings: PoolSettings }>, release: boolean): void {
    for (const [key, w] of wanted) this.pools.set(key, { target: w.target, settings: w.settings });
    if (release) for (const key of [...this.pools.keys()]) if (!wanted.has(key)) this.pools.delete(key);
  }
  pauseTarget(target: Endpoint, paused: boolean): void {
    this.paused.set(endpointKey(target), paused);
  }
  sizes(): Record<string, number | undefined> {
    return Object.fromEntries([...this.pools].map(([k, p]) => [k, p.settings.targetSize]));
  }
}

async function setup(servers: string[], health?: Record<string, unknown>) {
  const answers = new Map<string, string[]>([['app.internal', ['10.0.1.1', '10.0.1.2']]]);
  const lookup: AddressLookup = async (h) => answers.get(h) ?? [];
  const config = validateConfig({
    upstreams: { app: { servers, pool: { sizing: 'fixed', targetSize: 30, maxSize: 60 }, ...(health === undefined ? {} : { health }) } },
  });
  const source = new RecordingSource();
  const deps: RuntimeDeps = { lookup, source, idle: () => 0, retireOrigin: async () => undefined };
  const clock = new FakeClock(1_000);
  const passive = new PassiveHealth({}, { clock, random: () => 0 });
  const resolved: Map<string, UpstreamTarget> = await resolveServers(config, (url) => resolveUpstream(url, lookup));
  const routing = buildRouting(config, resolved, deps, passive);
  source.syncTargets(wantedPools(config, routing), true);
  return { answers, lookup, config, source, deps, clock, passive, resolved, routing };
}

describe('the pool budget of an upstream, split over its server addresses', () => {
  it('by share of demand: 1 / (servers × the server addresses), about the configured total in all', async () => {
    const { source, routing, config } = await setup([S1, S2, NAME]);
    expect(source.sizes()).toEqual({ '10.0.0.2:8080': 10, '10.0.0.3:8080': 10, '10.0.1.1:8080': 5, '10.0.1.2:8080': 5 });
    expect([...source.pools.values()].map((p) => p.settings.maxSize)).toEqual([20, 20, 10, 10]);
    // upstreamBacklog is per server: never split.
    for (const p of source.pools.values()) expect(p.settings.upstreamBacklog).toBe(config.upstreams.app!.pool.upstreamBacklog);
    for (const r of routing.runtimes.values()) r.close();
  });

  it('a re-resolution re-splits the server own addresses (the new one pooled, the others resized)', async () => {
    const { source, routing, answers } = await setup([S1, S2, NAME]);
    const named = [...routing.runtimes.values()].find((r) => r.upstream.url === NAME)!;
    answers.set('app.internal', ['10.0.1.1', '10.0.1.2', '10.0.1.3']);
    await named.addresses!.refresh();
    expect(source.sizes()).toEqual({ '10.0.0.2:8080': 10, '10.0.0.3:8080': 10, '10.0.1.1:8080': 4, '10.0.1.2:8080': 4, '10.0.1.3:8080': 4 });
    for (const r of routing.runtimes.values()) r.close();
  });

  it('a reload removing a server keeps the other runtimes and gives their addresses a larger share', async () => {
    const { source, routing, deps, passive, resolved, lookup } = await setup([S1, S2, NAME]);
    const next = validateConfig({ upstreams: { app: { servers: [S1, NAME], pool: { sizing: 'fixed', targetSize: 30, maxSize: 60 } } } });
    const nextResolved = await resolveServers(next, (url) => resolveUpstream(url, lookup), resolved);
    const after = buildRouting(next, nextResolved, deps, passive, routing.runtimes);
    expect([...after.runtimes.values()].every((r) => [...routing.runtimes.values()].includes(r))).toBe(true);
    source.syncTargets(wantedPools(next, after), true);
    expect(source.sizes()).toEqual({ '10.0.0.2:8080': 15, '10.0.1.1:8080': 8, '10.0.1.2:8080': 8 });
    for (const r of routing.runtimes.values()) r.close();
  });
});

describe('an ejected server has its pools paused', () => {
  it('through ConnectionSource.pauseTarget: paused on ejection, still on probing, resumed on restore', async () => {
    const { source, routing, passive, clock } = await setup([S1, NAME], { maxFails: 2, ejectMs: 1_000 });
    const serverOf = (url: string) => [...routing.runtimes.values()].find((r) => r.upstream.url === url);
    const detach = pauseEjectedPools(passive, source, serverOf);
    // The upstream's health section reached passive health through buildRouting.
    expect(passive.settingsFor(NAME)).toMatchObject({ failureThreshold: 2, baseEjectionMs: 1_000 });
    const fail = () => passive.failed(NAME, passive.dispatched(NAME));
    fail();
    expect(source.paused.size).toBe(0);
    fail();
    expect(Object.fromEntries(source.paused)).toEqual({ '10.0.1.1:8080': true, '10.0.1.2:8080': true });
    clock.advance(1_000);
    expect(passive.state(NAME)).toBe('probing');
    expect(source.paused.get('10.0.1.1:8080')).toBe(true);
    fail(); // the probe failed: ejected again, still paused
    clock.advance(2_000);
    passive.succeeded(NAME, passive.dispatched(NAME));
    expect(Object.fromEntries(source.paused)).toEqual({ '10.0.1.1:8080': false, '10.0.1.2:8080': false });
    detach();
    for (const r of routing.runtimes.values()) r.close();
  });

  it('an address the server name gains while it is ejected is paused too, and resumed with the others', async () => {
    const { source, routing, passive, answers } = await setup([S1, NAME], { maxFails: 1 });
    const named = [...routing.runtimes.values()].find((r) => r.upstream.url === NAME)!;
    pauseEjectedPools(passive, source, (url) => [...routing.runtimes.values()].find((r) => r.upstream.url === url));
    passive.failed(NAME, passive.dispatched(NAME));
    answers.set('app.internal', ['10.0.1.1', '10.0.1.2', '10.0.1.3']);
    await named.addresses!.refresh();
    expect(source.pools.has('10.0.1.3:8080')).toBe(true);
    expect(source.paused.get('10.0.1.3:8080')).toBe(true);
    passive.forget(NAME);
    expect(Object.fromEntries(source.paused)).toEqual({ '10.0.1.1:8080': false, '10.0.1.2:8080': false, '10.0.1.3:8080': false });
    for (const r of routing.runtimes.values()) r.close();
  });

  it('a server forgotten while ejected (a reload removed it) has its pools resumed', async () => {
    const { source, routing, passive } = await setup([S1, S2], { maxFails: 1 });
    pauseEjectedPools(passive, source, (url) => [...routing.runtimes.values()].find((r) => r.upstream.url === url));
    passive.failed(S2, passive.dispatched(S2));
    expect(source.paused.get('10.0.0.3:8080')).toBe(true);
    passive.forget(S2);
    expect(source.paused.get('10.0.0.3:8080')).toBe(false);
    for (const r of routing.runtimes.values()) r.close();
  });

  it('end to end on the fake driver: no SYN to the ejected server, its pool refills once it is back', () => {
    const clock = new FakeClock(1_000);
    const driver = new FakeHandshakeDriver(clock);
    driver.behaviour = { mode: 'answer', rttMs: 5, retransmits: 5 };
    const target = { address: '10.0.0.3', port: 8080 };
    const mgr = new PoolManager({ driver, clock, random: () => 0.5, upstreams: [{ target, sizing: 'fixed', targetSize: 3, maxSynAckRetransmits: 5, ttlMs: 10_000, refreshLeadMs: 1_000, ttlFloorMs: 1_000 }] });
    const source: ConnectionSource = { accelerated: true, acquire: () => undefined, pauseTarget: (t, p) => void mgr.pause(t, p) };
    const passive = new PassiveHealth({ failureThreshold: 1, baseEjectionMs: 60_000, maxEjectionMs: 60_000, jitterRatio: 0 }, { clock });
    pauseEjectedPools(passive, source, () => ({ endpoints: [target] }));
    mgr.start();
    clock.advance(500);
    passive.failed(S2, passive.dispatched(S2));
    const sent = driver.openCalls.length;
    clock.advance(59_000); // entries expire at their TTL and are not replaced
    expect(driver.openCalls).toHaveLength(sent);
    expect(mgr.snapshot()[0]).toMatchObject({ paused: true, ready: 0 });
    clock.advance(1_000);
    passive.succeeded(S2, passive.dispatched(S2)); // the probe request
    clock.advance(500);
    expect(mgr.snapshot()[0]).toMatchObject({ paused: false, ready: 3 });
    mgr.close();
  });
});

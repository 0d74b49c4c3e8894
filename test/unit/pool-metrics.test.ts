import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { attachPoolMetrics } from '../../src/observability/pool-metrics.js';
import { FakeClock } from '../../src/pool/clock.js';
import { FakeHandshakeDriver } from '../helpers/fake-handshake-driver.js';
import { PoolManager } from '../../src/pool/pool-manager.js';

describe('attachPoolMetrics', () => {
  it('exports gauges from the snapshot and counters/histograms from pool events', async () => {
    const clock = new FakeClock();
    const driver = new FakeHandshakeDriver(clock);
    driver.behaviour = { mode: 'answer', rttMs: 40, retransmits: 5 };
    const target = { address: '10.0.0.2', port: 80 };
    const pool = new PoolManager({ driver, clock, upstreams: [{ target, sizing: 'fixed', targetSize: 3 }] });
    const registry = new Registry();
    const detach = attachPoolMetrics(registry, pool);
    pool.start();
    clock.advance(2_000);
    expect(pool.take(target)).toBeDefined();
    pool.take({ address: '10.0.0.9', port: 80 });
    const text = await registry.metrics();
    const snap = pool.snapshot()[0]!;
    expect(text).toContain(`synpool_pool_ready{upstream="10.0.0.2:80"} ${snap.ready}`);
    expect(text).toContain('synpool_pool_hits_total{upstream="10.0.0.2:80"} 1');
    expect(text).toMatch(/synpool_pool_syns_sent_total\{upstream="10.0.0.2:80",purpose="fill"\} [1-9]/);
    expect(text).toMatch(/synpool_synack_rtt_seconds_count\{upstream="10.0.0.2:80"\} [1-9]/);
    expect(text).toContain('synpool_synack_rtt_seconds_bucket{le="0.05",upstream="10.0.0.2:80"}');
    expect(text).toContain('synpool_pool_upstream_reachable{upstream="10.0.0.2:80"} 1');
    expect(text).toContain('synpool_pool_paused{upstream="10.0.0.2:80"} 0');
    pool.pause(target, true);
    expect(await registry.metrics()).toContain('synpool_pool_paused{upstream="10.0.0.2:80"} 1');
    pool.pause(target, false);
    expect(text).toContain('synpool_pool_retransmits_trusted{upstream="10.0.0.2:80"} 1'); // the 1 s retransmits arrived
    expect(text).toContain('synpool_syn_channel_drops_total 0');
    driver.drops = 12;
    expect(await registry.metrics()).toContain('synpool_syn_channel_drops_total 12');
    detach();
    pool.close();
  });

  it('counts hits past maxSynAckRetransmits in synpool_pool_hits_aged_total (and in hits_total)', async () => {
    const clock = new FakeClock();
    const driver = new FakeHandshakeDriver(clock);
    driver.behaviour = { mode: 'answer', rttMs: 40, retransmits: 5 };
    const target = { address: '10.0.0.2', port: 80 };
    const pool = new PoolManager({ driver, clock, upstreams: [{ target, sizing: 'fixed', targetSize: 2 }] });
    const registry = new Registry();
    attachPoolMetrics(registry, pool);
    pool.start();
    clock.advance(1_500);
    expect(pool.take(target)).toBeDefined(); // 1.5 s old, one retransmit: full window
    driver.behaviour = { mode: 'silent', rttMs: 40, retransmits: 0 }; // no replacement ever comes
    clock.advance(4_000);
    expect(pool.take(target)).toBeDefined(); // 5.5 s old: three SYN-ACKs, the only one left
    const text = await registry.metrics();
    expect(text).toContain('synpool_pool_hits_total{upstream="10.0.0.2:80"} 2');
    expect(text).toContain('synpool_pool_hits_aged_total{upstream="10.0.0.2:80"} 1');
    pool.close();
  });
});

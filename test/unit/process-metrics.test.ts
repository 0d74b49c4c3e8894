// Node's process metrics: the event-loop lag histogram samples every
// EVENT_LOOP_SAMPLE_MS, not prom-client's 10 ms, so an idle process is not woken
// 100 times a second (src/observability/process-metrics.ts).
import { createRequire } from 'node:module';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { collectProcessMetrics, EVENT_LOOP_SAMPLE_MS } from '../../src/observability/process-metrics.js';

// prom-client reads monitorEventLoopDelay off the CommonJS perf_hooks module at call time.
const perfHooks = createRequire(import.meta.url)('perf_hooks') as typeof import('node:perf_hooks');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('collectProcessMetrics', () => {
  it('samples the event-loop lag every EVENT_LOOP_SAMPLE_MS (100 ms), not every 10 ms', () => {
    const monitor = vi.spyOn(perfHooks, 'monitorEventLoopDelay');
    const registry = new Registry();
    collectProcessMetrics(registry);
    expect(EVENT_LOOP_SAMPLE_MS).toBe(100);
    expect(monitor).toHaveBeenCalledTimes(1);
    expect(monitor.mock.calls[0]![0]).toEqual({ resolution: EVENT_LOOP_SAMPLE_MS });
    monitor.mock.results[0]?.value?.disable();
  });

  it('still registers the process metrics, lag included, under their usual names', async () => {
    const registry = new Registry();
    collectProcessMetrics(registry);
    const text = await registry.metrics();
    for (const name of ['process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });
});

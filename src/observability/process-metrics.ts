import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * How often the event-loop lag histogram (`nodejs_eventloop_lag_*`) samples, ms.
 * prom-client's default, 10 ms, is a timer that wakes every synpool process 100
 * times a second while it has nothing to do: ~0.5 % of a core each, idle, on the
 * 2-core VM where it was measured, and wake-ups the host charges as cold ones (its
 * idle penalty, docs/own-time.md). A block longer than the interval still shows
 * in full (the sample waits for it to end); shorter ones are caught less often.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** Node's process metrics (CPU, memory, GC, handles, event-loop lag) on `registry`. */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
}

import type { Endpoint } from '../handshake/endpoint.js';
import type { PassiveHealth } from '../routing/passive-health.js';
import type { ConnectionSource } from './connection-source.js';

/**
 * Pauses the pools of a server passive health ejected, and resumes them when it is
 * readmitted (issue 9: "its pool stops opening entries"). A pool would otherwise keep
 * sending SYNs, up to its target and every refresh, toward a server the proxy sends no
 * request to: its own unreachable backoff only slows SYNs that go unanswered, and a
 * server ejected for resets answers them. Resumed on 'restored' (the probe request,
 * sent with a plain connect or an entry still ready, succeeded), not on 'probing': a
 * server that fails its probe is ejected again without a SYN burst in between. A
 * server forgotten (a reload removed it, shutdown) is resumed too, so an address that
 * stays in use elsewhere is not left paused.
 *
 * The addresses paused are those the server used at the ejection and are resumed as
 * such; an address its name gains during the ejection is not paused (it gets a pool
 * as usual). `endpointsOf` maps a server key (its URL) to its current addresses.
 * Returns what unsubscribes.
 */
export function pauseEjectedPools(
  health: PassiveHealth,
  source: ConnectionSource,
  endpointsOf: (serverKey: string) => readonly Endpoint[] | undefined,
): () => void {
  const pause = source.pauseTarget?.bind(source);
  if (pause === undefined) return () => undefined;
  const paused = new Map<string, readonly Endpoint[]>();
  const onEjected = ({ key }: { key: string }): void => {
    // A failed probe ejects again: the pools are paused already.
    if (paused.has(key)) return;
    const endpoints = [...(endpointsOf(key) ?? [])];
    paused.set(key, endpoints);
    for (const e of endpoints) pause(e, true);
  };
  const onBack = ({ key }: { key: string }): void => {
    const endpoints = paused.get(key);
    if (endpoints === undefined) return;
    paused.delete(key);
    for (const e of endpoints) pause(e, false);
  };
  health.on('ejected', onEjected);
  health.on('restored', onBack);
  health.on('forgotten', onBack);
  return () => {
    health.off('ejected', onEjected);
    health.off('restored', onBack);
    health.off('forgotten', onBack);
  };
}

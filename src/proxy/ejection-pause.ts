import type { Endpoint } from '../handshake/endpoint.js';
import type { AddressChange } from '../resolve/upstream-addresses.js';
import type { PassiveHealth } from '../routing/passive-health.js';
import type { ConnectionSource } from './connection-source.js';

/** What pauseEjectedPools needs of a server: a ServerRuntime fits. */
export interface PausableServer {
  /** The addresses the server uses now. */
  readonly endpoints: readonly Endpoint[];
  /** A name's address set (undefined for an IP literal): addresses it gains while ejected are paused too. */
  readonly addresses?: { on(event: 'change', fn: (c: AddressChange) => void): unknown; off(event: 'change', fn: (c: AddressChange) => void): unknown } | undefined;
}

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
 * The addresses paused are those the server uses at the ejection, and any its name
 * gains while it is out (the address follower pools a new address first, then this
 * listener, registered later, pauses it before its first tick). `serverOf` maps a
 * server key (its URL) to the server. Returns what unsubscribes.
 */
export function pauseEjectedPools(health: PassiveHealth, source: ConnectionSource, serverOf: (serverKey: string) => PausableServer | undefined): () => void {
  const pause = source.pauseTarget?.bind(source);
  if (pause === undefined) return () => undefined;
  const paused = new Map<string, { endpoints: Endpoint[]; stop: () => void }>();
  const onEjected = ({ key }: { key: string }): void => {
    // A failed probe ejects again: the pools are paused already.
    if (paused.has(key)) return;
    const server = serverOf(key);
    const endpoints = [...(server?.endpoints ?? [])];
    const onChange = (change: AddressChange): void => {
      for (const e of change.added) {
        endpoints.push(e);
        pause(e, true);
      }
    };
    server?.addresses?.on('change', onChange);
    paused.set(key, { endpoints, stop: () => server?.addresses?.off('change', onChange) });
    for (const e of endpoints) pause(e, true);
  };
  const onBack = ({ key }: { key: string }): void => {
    const entry = paused.get(key);
    if (entry === undefined) return;
    paused.delete(key);
    entry.stop();
    // An address that left meanwhile has no pool any more: resuming it changes nothing.
    for (const e of entry.endpoints) pause(e, false);
  };
  health.on('ejected', onEjected);
  health.on('restored', onBack);
  health.on('forgotten', onBack);
  return () => {
    health.off('ejected', onEjected);
    health.off('restored', onBack);
    health.off('forgotten', onBack);
    for (const entry of paused.values()) entry.stop();
  };
}

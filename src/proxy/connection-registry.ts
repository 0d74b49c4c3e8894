import type { Socket } from 'node:net';
import type { Endpoint } from '../handshake/endpoint.js';

/** What we know about an upstream socket we handed to undici. */
export interface ConnectionInfo {
  readonly origin: 'pool' | 'plain';
  /** Set when the target is an IPv4 endpoint (the only kind a pool can serve). */
  readonly target: Endpoint | undefined;
  /** How many requests were written on it so far. */
  served: number;
}

const registry = new WeakMap<Socket, ConnectionInfo>();

export function registerConnection(socket: Socket, origin: 'pool' | 'plain', target: Endpoint | undefined): void {
  registry.set(socket, { origin, target, served: 0 });
}

export function connectionInfo(socket: Socket): ConnectionInfo | undefined {
  return registry.get(socket);
}

import net, { type Socket } from 'node:net';
import { buildConnector, errors } from 'undici';
import type { Endpoint } from '../handshake/endpoint.js';
import { registerConnection } from './connection-registry.js';
import type { ConnectionSource } from './connection-source.js';

/** Why a new connection that could have come from the pool did not. */
export type FallbackReason =
  /** acquire() had nothing (pool empty or not warmed yet). */
  | 'pool-empty'
  /** acquire() returned a socket that was already destroyed. */
  | 'pooled-destroyed'
  /** A pooled socket was reset on first use (SYNPOOL_ERR_POOLED_RESET); the request was replayed on a plain connection. */
  | 'pooled-reset'
  /** A pooled socket failed otherwise before any response byte; an idempotent request was replayed. */
  | 'pooled-error';

export interface ConnectorOptions {
  source: ConnectionSource;
  /** Plain TCP connect timeout (ms). */
  connectTimeoutMs: number;
  /** Never ask the source (the replay path after a pooled failure). */
  plainOnly?: boolean;
  /** A new connection is about to be handed to undici. */
  onConnected?(socket: Socket): void;
  onFallback?(reason: FallbackReason, target: Endpoint): void;
}

export type Connector = buildConnector.connector;

/** Parses undici's connect options into an IPv4 endpoint, or undefined when the host is a name or IPv6. */
export function endpointOf(hostname: string, port: string, protocol: string): Endpoint | undefined {
  if (!net.isIPv4(hostname)) return undefined;
  const n = port === '' ? (protocol === 'https:' ? 443 : 80) : Number(port);
  return { address: hostname, port: n };
}

/**
 * undici's `connect(opts, cb)` seam: a pooled socket when the source has one,
 * else a plain net.connect. The callback is always called asynchronously: undici 7
 * guards against nested resumes, and a synchronous callback leaves the request queued.
 */
export function createConnector(options: ConnectorOptions): Connector {
  const { source, connectTimeoutMs } = options;
  const tlsConnector = buildConnector({ timeout: connectTimeoutMs });

  return (opts, callback) => {
    if (opts.protocol !== 'http:') {
      // Only plain-HTTP upstreams are accelerated; TLS goes through undici's own connector.
      tlsConnector(opts, (err, socket) => {
        if (err !== null) return callback(err, null);
        registerConnection(socket, 'plain', undefined);
        options.onConnected?.(socket);
        callback(null, socket);
      });
      return;
    }
    const target = endpointOf(opts.hostname, opts.port, opts.protocol);

    if (target !== undefined && !options.plainOnly && source.accelerated) {
      const pooled = source.acquire(target);
      if (pooled !== undefined && !pooled.destroyed) {
        registerConnection(pooled, 'pool', target);
        options.onConnected?.(pooled);
        process.nextTick(callback, null, pooled);
        return;
      }
      // A socket destroyed before first use says nothing about the server's entry: not reported.
      options.onFallback?.(pooled === undefined ? 'pool-empty' : 'pooled-destroyed', target);
    }

    const host = opts.hostname;
    const port = target?.port ?? (opts.port === '' ? 80 : Number(opts.port));
    const socket = net.connect({ host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 });
    let settled = false;
    const finish = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeListener('error', finish);
      socket.removeListener('connect', onConnect);
      if (err !== null) {
        socket.destroy();
        callback(err, null);
        return;
      }
      registerConnection(socket, 'plain', target);
      options.onConnected?.(socket);
      callback(null, socket);
    };
    const onConnect = (): void => finish(null);
    const timer = setTimeout(() => {
      finish(new errors.ConnectTimeoutError(`connect to ${host}:${port} timed out after ${connectTimeoutMs} ms`));
    }, connectTimeoutMs);
    socket.once('connect', onConnect);
    socket.once('error', finish);
  };
}

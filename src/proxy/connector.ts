import net, { type Socket } from 'node:net';
import { buildConnector, errors } from 'undici';
import { canonicalAddress, type Endpoint } from '../handshake/endpoint.js';
import { UpstreamSocket } from '../util/upstream-socket.js';
import { registerConnection } from './connection-registry.js';
import type { ConnectionSource } from './connection-source.js';
import { isPooledReset } from './retry-policy.js';
import { startTls, type TlsHandshakeEvent } from './tls-handshake.js';
import { resolveUpstreamTls, type UpstreamTls } from './upstream-tls.js';

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
  /** Plain TCP connect timeout (ms); for https it covers the TLS handshake too. */
  connectTimeoutMs: number;
  /** Never ask the source (the replay path after a pooled failure). */
  plainOnly?: boolean;
  /** https:// origins: trust, name, sessions. Default: resolveUpstreamTls() (verification on). */
  tls?: UpstreamTls;
  /** A new connection is about to be handed to undici. */
  onConnected?(socket: Socket): void;
  onFallback?(reason: FallbackReason, target: Endpoint): void;
  /** A TLS handshake on a new connection finished (its time is not part of the handoff's). */
  onTlsHandshake?(event: TlsHandshakeEvent): void;
}

export type Connector = buildConnector.connector;

/**
 * Parses undici's connect options into an endpoint, or undefined when the host is a
 * name. undici hands IPv6 hosts without brackets; the address is made canonical, as
 * the pool's keys are (an address the pool cannot serve, e.g. link-local, is a name here: plain connects).
 */
export function endpointOf(hostname: string, port: string, protocol: string): Endpoint | undefined {
  const family = net.isIP(hostname);
  if (family === 0) return undefined;
  const n = port === '' ? (protocol === 'https:' ? 443 : 80) : Number(port);
  if (family === 4) return { address: hostname, port: n };
  try {
    return { address: canonicalAddress(hostname), port: n };
  } catch {
    return undefined;
  }
}

type TcpOrigin = 'pool' | 'plain';

/**
 * undici's `connect(opts, cb)` seam: a pooled socket when the source has one,
 * else a plain net.connect; for https, TLS over that socket (the ClientHello is the
 * pooled socket's first segment). The callback is always called asynchronously: undici 7
 * guards against nested resumes, and a synchronous callback leaves the request queued.
 */
export function createConnector(options: ConnectorOptions): Connector {
  const { source, connectTimeoutMs } = options;
  let upstreamTls = options.tls;
  // Names over https keep undici's own connector (not pooled: the pool is keyed by address).
  const nameConnector = buildConnector({ timeout: connectTimeoutMs, ...(upstreamTls?.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}) });

  return (opts, callback) => {
    const secure = opts.protocol === 'https:';
    const target = endpointOf(opts.hostname, opts.port, opts.protocol);
    if (opts.protocol !== 'http:' && (!secure || target === undefined)) {
      nameConnector(opts, (err, socket) => {
        if (err !== null) return callback(err, null);
        registerConnection(socket, 'plain', undefined);
        options.onConnected?.(socket);
        callback(null, socket);
      });
      return;
    }
    const started = performance.now();
    const hand = (socket: Socket, origin: TcpOrigin): void => {
      registerConnection(socket, origin, target);
      options.onConnected?.(socket);
      callback(null, socket);
    };
    const connected = (socket: Socket, origin: TcpOrigin): void => {
      if (!secure) return hand(socket, origin);
      upstreamTls ??= resolveUpstreamTls();
      startTls(
        {
          socket,
          connection: origin,
          host: opts.hostname,
          port: target!.port,
          requestServername: opts.servername,
          target,
          tls: upstreamTls,
          timeoutMs: connectTimeoutMs - (performance.now() - started),
        },
        (err, tlsSocket, event) => {
          if (err) {
            // The request is replayed on a plain connection (retry-policy.ts); count it like a reset on first use.
            if (isPooledReset(err) && target !== undefined) options.onFallback?.('pooled-reset', target);
            return callback(err, null);
          }
          options.onTlsHandshake?.(event!);
          hand(tlsSocket!, origin);
        },
      );
    };

    const plain = (): void => {
      const host = opts.hostname;
      const port = target?.port ?? (opts.port === '' ? 80 : Number(opts.port));
      connectPlain(host, port, connectTimeoutMs, (err, socket) => (err !== null ? callback(err, null) : connected(socket!, 'plain')));
    };

    if (target !== undefined && !options.plainOnly && source.accelerated) {
      // A socket destroyed before first use says nothing about the server's entry: not reported.
      const fallback = (pooled: Socket | undefined): void => {
        options.onFallback?.(pooled === undefined ? 'pool-empty' : 'pooled-destroyed', target);
        plain();
      };
      if (source.acquireAsync !== undefined) {
        // The source calls back asynchronously (its contract), so undici's callback is async too.
        source.acquireAsync(target, (pooled) => {
          if (pooled !== undefined && !pooled.destroyed) connected(pooled, 'pool');
          else fallback(pooled);
        });
        return;
      }
      const pooled = source.acquire(target);
      if (pooled !== undefined && !pooled.destroyed) {
        if (secure) connected(pooled, 'pool');
        else process.nextTick(connected, pooled, 'pool');
        return;
      }
      return fallback(pooled);
    }
    plain();
  };
}

/** What a ready take reads of undici's connect options (the lean pool passes the same object every time). */
export interface ReadyTakeOpts {
  readonly hostname: string;
  readonly port: string;
  readonly protocol: string;
}

/**
 * For a caller that can take a new connection within its own turn (the lean pool; undici's
 * clients need the connector's asynchronous callback): a pooled socket the source has ready
 * now (the worker's held stock), handed as the connector hands one (registered,
 * `onConnected`), or undefined: then the caller uses the connector. Plain http only: https
 * needs its handshake before the socket is usable. Only for a source with acquireAsync, whose
 * acquire() is a look at what is ready (connection-source.ts): an in-process pool's acquire()
 * counts a take, and on an empty pool the connector would count a second one.
 */
export function createReadyTake(options: Pick<ConnectorOptions, 'source' | 'plainOnly' | 'onConnected' | 'onFallback'>): (opts: ReadyTakeOpts) => Socket | undefined {
  const { source } = options;
  // The lean pool asks with one options object per origin: its endpoint is parsed once.
  let lastOpts: ReadyTakeOpts | undefined;
  let lastTarget: Endpoint | undefined;
  return (opts) => {
    if (options.plainOnly || !source.accelerated || source.acquireAsync === undefined || opts.protocol !== 'http:') return undefined;
    if (opts !== lastOpts) {
      lastTarget = endpointOf(opts.hostname, opts.port, opts.protocol);
      lastOpts = opts;
    }
    const target = lastTarget;
    if (target === undefined) return undefined;
    const socket = source.acquire(target);
    if (socket === undefined) return undefined;
    if (socket.destroyed) {
      // As in the connector; the caller then connects through it (the pool may have another).
      options.onFallback?.('pooled-destroyed', target);
      return undefined;
    }
    registerConnection(socket, 'pool', target);
    options.onConnected?.(socket);
    return socket;
  };
}

/** net.connect with a timeout; `done` gets the connected socket or the error (the socket destroyed). */
function connectPlain(host: string, port: number, connectTimeoutMs: number, done: (err: Error | null, socket: Socket | null) => void): void {
  // As net.connect(opts) does: the constructor takes noDelay and keep-alive (Node's types list them only for connect()).
  const socket = new UpstreamSocket({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 } as net.SocketConstructorOpts).connect({ host, port });
  let settled = false;
  const finish = (err: Error | null): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.removeListener('error', finish);
    socket.removeListener('connect', onConnect);
    if (err !== null) {
      socket.destroy();
      done(err, null);
      return;
    }
    done(null, socket);
  };
  const onConnect = (): void => finish(null);
  const timer = setTimeout(() => {
    finish(new errors.ConnectTimeoutError(`connect to ${host}:${port} timed out after ${connectTimeoutMs} ms`));
  }, connectTimeoutMs);
  socket.once('connect', onConnect);
  socket.once('error', finish);
}

import { isIP, type Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { errors } from 'undici';
import { tcpInfo } from '../../native/socket-ops.js';
import { PooledConnectionResetError } from '../errors.js';
import { formatEndpoint, type Endpoint } from '../handshake/endpoint.js';
import { ALPN_PROTOCOLS, type UpstreamTls } from './upstream-tls.js';
import { holdRefusedWrites } from '../util/upstream-socket.js';

/** One finished TLS handshake on a new upstream connection (kept apart from the TCP handoff time). */
export interface TlsHandshakeEvent {
  /** The checked name (SNI when it is a DNS name) and port. */
  origin: string;
  /** Where the TCP connection under it came from. */
  connection: 'pool' | 'plain';
  /** ClientHello written → handshake verified (ms). */
  ms: number;
  /** The server accepted the cached session. */
  resumed: boolean;
  /** TLSv1.3, TLSv1.2. */
  protocol: string | null;
}

export interface StartTlsOptions {
  /** The TCP connection, connected (a pooled, repaired socket or a plain one). */
  socket: Socket;
  connection: 'pool' | 'plain';
  /** undici's host (the resolved address) and port. */
  host: string;
  port: number;
  /** undici's servername for the request, if any. */
  requestServername: string | null | undefined;
  /** The pooled entry's endpoint, for the reset error. */
  target: Endpoint | undefined;
  tls: UpstreamTls;
  /** What is left of the connect timeout (ms). */
  timeoutMs: number;
}

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE']);

/** The TCP fd under a net.Socket (libuv's handle exposes it on Linux); -1 when there is none. */
function fdOf(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

function nothingAcked(fd: number): boolean {
  try {
    return tcpInfo(fd).bytesAcked === 0n;
  } catch {
    return false;
  }
}

/**
 * TLS client over an already connected socket; `done` gets the verified TLSSocket, or the
 * error. On a pooled socket the ClientHello is the first segment, and the one that completes
 * the server's TCP handshake: a server that forgot the half-open entry resets it before
 * acknowledging it, which is a PooledConnectionResetError (nothing reached the upstream;
 * retriable for any method). Certificate failures come out as Node's errors
 * (ERR_TLS_CERT_ALTNAME_INVALID, CERT_HAS_EXPIRED, …) and are never retried.
 */
export function startTls(o: StartTlsOptions, done: (err: Error | null, socket?: TLSSocket, event?: TlsHandshakeEvent) => void): void {
  const name = o.tls.servername ?? (o.requestServername || o.host);
  const origin = `${name}:${o.port}`;
  // SNI carries DNS names only (RFC 6066 §3); an IP literal is still what the certificate is checked against.
  const servername = isIP(name) === 0 ? name : undefined;
  const fd = o.connection === 'pool' ? fdOf(o.socket) : -1;
  const t0 = performance.now();
  const socket = tls.connect({
    socket: o.socket,
    host: name,
    servername,
    ALPNProtocols: ALPN_PROTOCOLS,
    secureContext: o.tls.secureContext,
    rejectUnauthorized: o.tls.rejectUnauthorized,
    session: o.tls.sessions.get(origin),
  });
  let secured = false;
  if (fd >= 0) {
    // The TLS layer now reads the TCP handle itself, so the pooled socket never sees the reset;
    // classify it here, in _destroy, while the fd is still open and TCP_INFO can say whether
    // the server acknowledged anything.
    const destroy = socket._destroy.bind(socket);
    socket._destroy = (err: Error | null, cb: (err?: Error | null) => void): void => {
      if (!secured && err !== null && RESET_CODES.has((err as NodeJS.ErrnoException).code ?? '') && nothingAcked(fd)) {
        err = new PooledConnectionResetError(o.target === undefined ? origin : formatEndpoint(o.target), err);
        // The pool learns from its own socket (PoolManager.watchFirstUse): give it the verdict
        // now; once this TLS socket is gone, Node closes the pooled one without an error.
        o.socket.destroy(err);
      }
      destroy(err, cb);
    };
  }
  // An https upstream's early answer to an upload: its body's writes fail in this TLS socket, not in the TCP one under it.
  const destroyTls = socket.destroy.bind(socket);
  const destroyHeld = holdRefusedWrites(socket, destroyTls);
  socket.destroy = (error?: Error): TLSSocket => {
    destroyHeld(error);
    return socket;
  };
  socket.on('session', (session: Buffer) => o.tls.sessions.set(origin, session));

  let settled = false;
  const finish = (err: Error | null): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.off('secureConnect', onSecure);
    socket.off('error', finish);
    if (err !== null) {
      // Discarded: a later error on it (Node forwards the pooled socket's error here, then
      // reports its own destroy) has nothing left to tell.
      socket.on('error', () => undefined);
      socket.destroy();
      o.socket.destroy();
      done(err);
      return;
    }
    done(null, socket, {
      origin,
      connection: o.connection,
      ms: performance.now() - t0,
      resumed: socket.isSessionReused(),
      protocol: socket.getProtocol(),
    });
  };
  const onSecure = (): void => {
    secured = true;
    finish(null);
  };
  const timer = setTimeout(() => {
    finish(new errors.ConnectTimeoutError(`TLS handshake with ${origin} not done within the connect timeout`));
  }, Math.max(0, o.timeoutMs));
  socket.once('secureConnect', onSecure);
  socket.once('error', finish);
}

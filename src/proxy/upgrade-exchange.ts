import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import type { UpstreamTarget } from '../config/load-config.js';
import type { ConnectionAwareHandler } from './accelerated-agent.js';
import type { ConnectionOrigin } from './connection-source.js';
import { disarm } from './continue-filter.js';
import type { ForwardedHeaderMode } from './forwarded-element.js';
import {
  clientResponseHeaders,
  pairsFromRaw,
  serializeResponseHead,
  upgradeResponseHeaders,
  upstreamRequestHeaders,
  type HeaderPair,
} from './headers.js';
import { endWithText } from './raw-response.js';
import { Tunnel, type TunnelEnd } from './tunnel.js';
import { upstreamErrorResponse } from './upstream-error.js';

export interface UpgradeExchangeOptions {
  upstream: UpstreamTarget;
  /** The upstream origin (address) chosen for this request. */
  origin: string;
  dispatcher: Dispatcher;
  preserveHost: boolean;
  /** The client is a trusted proxy: its forwarding headers are extended, not replaced. */
  trustedPeer: boolean;
  forwardedHeader: ForwardedHeaderMode;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  upgradeIdleTimeoutMs: number;
}

/** What became of a client's `Connection: Upgrade` request. */
export type UpgradeOutcome =
  /** The upstream switched protocols (101): bytes were tunnelled until `closedBy`. */
  | 'tunneled'
  /** The upstream answered without switching: its response was relayed, then the connection closed. */
  | 'refused'
  /** No upstream answer (refused connection, timeout…): a 502/504 was sent. */
  | 'failed';

/** One record per upgrade request, emitted when it is over (for a tunnel: when both sides closed). */
export interface UpgradeRecord {
  method: string;
  path: string;
  upstream: string;
  /** The client's Upgrade header, e.g. "websocket". */
  protocol: string;
  outcome: UpgradeOutcome;
  /** Status sent to the client (101 for a tunnel). */
  status: number;
  connection: ConnectionOrigin | 'none';
  /** From the request to the end of the tunnel (or of the relayed response). */
  durationMs: number;
  bytesFromClient: number;
  bytesToClient: number;
  closedBy?: TunnelEnd;
  error?: string;
}

/** What the exchange tells the server: the HTTP part is done, the tunnel (if any) is over. */
export interface UpgradeExchangeHooks {
  tunnelOpened(tunnel: Tunnel): void;
  done(record: UpgradeRecord): void;
}

/**
 * A client request with `Connection: Upgrade` (node:http's 'upgrade' event: the raw
 * socket, no response object). The request goes out through the same dispatcher as
 * any other (so on a pooled or reused connection when one is ready) with undici's
 * `upgrade` option. A 101 is written to the client with the upstream's headers and the
 * two sockets are joined by a Tunnel; any other answer is relayed as is, then the
 * client connection is closed (node:http has stopped parsing it).
 */
export class UpgradeExchange implements ConnectionAwareHandler {
  readonly #started = performance.now();
  readonly #protocol: string;
  #controller: Dispatcher.DispatchController | undefined;
  #connection: ConnectionOrigin | 'none' = 'none';
  #status = 0;
  #headSent = false;
  #tunneled = false;
  #bytesToClient = 0;
  #finished = false;

  constructor(
    private readonly options: UpgradeExchangeOptions,
    private readonly req: IncomingMessage,
    private readonly socket: Socket,
    private readonly head: Buffer,
    private readonly path: string,
    private readonly hooks: UpgradeExchangeHooks,
  ) {
    this.#protocol = String(req.headers.upgrade ?? '');
  }

  start(): void {
    const { req, socket, options } = this;
    socket.on('error', () => undefined); // reported through 'close' below
    // Before a tunnel exists the client going away ends the upstream request; a tunnel watches its own sockets.
    socket.once('close', () => {
      if (this.#tunneled || this.#finished) return;
      this.#controller?.abort(new Error('client closed the connection'));
      if (this.#headSent) this.#finish('refused', this.#status, { error: 'CLIENT_CLOSED' });
      else this.#finish('failed', 499, { error: 'CLIENT_CLOSED' });
    });
    const headers = upstreamRequestHeaders(req.rawHeaders, {
      clientAddress: socket.remoteAddress,
      httpVersion: req.httpVersion,
      upstreamHost: options.upstream.hostHeader,
      preserveHost: options.preserveHost,
      trustedPeer: options.trustedPeer,
      forwardedHeader: options.forwardedHeader,
    });
    const opts: Dispatcher.DispatchOptions = {
      origin: options.origin,
      path: this.path,
      method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
      headers,
      body: null,
      upgrade: this.#protocol,
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
    };
    if (options.upstream.protocol === 'https:') (opts as { servername?: string }).servername = options.upstream.servername;
    options.dispatcher.dispatch(opts, this);
  }

  onConnection(connection: ConnectionOrigin): void {
    this.#connection = connection;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.socket.destroyed) controller.abort(new Error('client closed the connection'));
  }

  onResponseStarted(): void {}

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, _headers: unknown, upstream: Socket): void {
    const { socket } = this;
    disarm(upstream);
    if (socket.destroyed) {
      upstream.destroy();
      this.#finish('failed', 499, { error: 'CLIENT_CLOSED' });
      return;
    }
    const raw = (controller as { rawHeaders?: (Buffer | string)[] }).rawHeaders ?? [];
    const pairs = upgradeResponseHeaders(pairsFromRaw(raw.map(String)));
    socket.write(serializeResponseHead(statusCode, STATUS_CODES[statusCode] ?? 'Switching Protocols', pairs));
    this.#headSent = true;
    this.#tunneled = true;
    this.#status = statusCode;
    const tunnel = new Tunnel(socket, upstream, this.options.upgradeIdleTimeoutMs);
    tunnel.once('close', (result) => {
      const extra: { closedBy: TunnelEnd; error?: string } = { closedBy: result.closedBy };
      if (result.error !== undefined) extra.error = result.error;
      this.#bytesToClient = result.bytesToClient;
      this.#finish('tunneled', statusCode, extra, result.bytesFromClient);
    });
    this.hooks.tunnelOpened(tunnel);
    tunnel.start(this.head);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    if (statusCode < 200 || this.socket.destroyed) return; // interim answers: the final one follows
    // Not switched: relay the answer, delimited by the close (node:http no longer parses this connection).
    const pairs: HeaderPair[] = [...pairsFromRaw(clientResponseHeaders(headers)), ['connection', 'close']];
    this.#status = statusCode;
    this.#headSent = true;
    this.socket.write(serializeResponseHead(statusCode, statusMessage || (STATUS_CODES[statusCode] ?? ''), pairs));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#bytesToClient += chunk.length;
    if (!this.socket.write(chunk)) {
      controller.pause();
      this.socket.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.socket.end();
    this.#finish('refused', this.#status, {});
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    const { socket } = this;
    if (this.#finished) return;
    const mapped = upstreamErrorResponse(err);
    if (!this.#headSent && !socket.destroyed) {
      endWithText(socket, mapped.status, mapped.message);
      this.#headSent = true;
      this.#finish('failed', mapped.status, { error: mapped.code });
      return;
    }
    socket.destroy();
    this.#finish(this.#status >= 200 ? 'refused' : 'failed', this.#status, { error: mapped.code });
  }

  /** Proxy shutdown before any answer: give up on the upstream, close the client. */
  shutdown(): void {
    this.#controller?.abort(new Error('proxy shutting down'));
    this.socket.destroy();
  }

  #finish(outcome: UpgradeOutcome, status: number, extra: { closedBy?: TunnelEnd; error?: string }, bytesFromClient = this.head.length): void {
    if (this.#finished) return;
    this.#finished = true;
    const record: UpgradeRecord = {
      method: this.req.method ?? '?',
      path: this.path,
      upstream: this.options.upstream.url,
      protocol: this.#protocol,
      outcome,
      status,
      connection: this.#connection,
      durationMs: performance.now() - this.#started,
      bytesFromClient,
      bytesToClient: this.#bytesToClient,
      ...extra,
    };
    this.hooks.done(record);
  }
}

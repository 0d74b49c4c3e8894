import { EventEmitter, once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import type { UpstreamTarget } from '../config/load-config.js';
import { AcceleratedAgent, type AcceleratedDispatchOptions, type ConnectionAwareHandler } from './accelerated-agent.js';
import type { ConnectionOrigin } from './connection-source.js';
import type { ForwardedHeaderMode } from './forwarded-element.js';
import { clientResponseHeaders, upstreamPath, upstreamRequestHeaders } from './headers.js';
import { forwardInterim } from './interim-response.js';
import { ReplayableBody } from './replayable-body.js';
import { RequestLineGuard } from './request-line-guard.js';
import { upstreamErrorResponse } from './upstream-error.js';
import { clientErrorAnswer, type ClientErrorAnswer } from './client-error.js';
import { endWithText } from './raw-response.js';
import { TrustedProxies } from './trusted-proxies.js';
import type { Tunnel } from './tunnel.js';
import { UpgradeExchange, type UpgradeRecord } from './upgrade-exchange.js';
import { fixedOrigin, type OriginChooser } from './origin-balancer.js';
import { isRefusal, type RequestRouter } from './request-router.js';
import type { ServerDispatch, UpstreamGroup } from './upstream-group.js';
import { connectFailed } from './connect-failure.js';

export interface ProxyServerOptions {
  upstream: UpstreamTarget;
  /** Which of the upstream's origins (addresses) each request goes to. Default: always upstream.origin. */
  origins?: OriginChooser;
  /**
   * Several upstreams: per request, the route (Host, path), the upstream's server and its
   * origin; `upstream` and `origins` are then unused. Without it every request goes to `upstream`.
   */
  router?: RequestRouter;
  /** Usually an AcceleratedAgent; any undici dispatcher works (no connection tracking then). */
  dispatcher: Dispatcher;
  preserveHost?: boolean;
  /** CIDRs of peers whose forwarding headers are extended; any other client's are replaced. Default none. */
  trustedProxies?: readonly string[];
  /** Forwarding headers written upstream. Default 'x-forwarded'. */
  forwardedHeader?: ForwardedHeaderMode;
  /** First response byte (ms). Default 30000. */
  headersTimeoutMs?: number;
  /** Idle time between body chunks (ms). Default 30000. */
  bodyTimeoutMs?: number;
  /** Request body bytes kept for a replay. Default 1 MiB. */
  retryBufferBytes?: number;
  /** Idle client keep-alive (ms). Default 5000. */
  clientKeepAliveTimeoutMs?: number;
  /** Request line + headers from a client (ms); exceeded → 408 and close. Default 60000. */
  clientHeadersTimeoutMs?: number;
  /** An upgraded tunnel with no byte either way for this long is closed (ms). Default 60000. */
  upgradeIdleTimeoutMs?: number;
}

const SERVER_DEFAULTS = {
  preserveHost: false,
  trustedProxies: [] as readonly string[],
  forwardedHeader: 'x-forwarded' as ForwardedHeaderMode,
  headersTimeoutMs: 30_000,
  bodyTimeoutMs: 30_000,
  retryBufferBytes: 1_048_576,
  clientKeepAliveTimeoutMs: 5_000,
  clientHeadersTimeoutMs: 60_000,
  upgradeIdleTimeoutMs: 60_000,
};

/** The settings reconfigure() can change on a running server. */
export type ProxyReconfiguration = Partial<
  Pick<
    ProxyServerOptions,
    | 'upstream' | 'origins' | 'router' | 'dispatcher' | 'preserveHost' | 'trustedProxies' | 'forwardedHeader' | 'headersTimeoutMs'
    | 'bodyTimeoutMs' | 'retryBufferBytes' | 'clientKeepAliveTimeoutMs' | 'upgradeIdleTimeoutMs'
  >
>;

type ServerOptions = typeof SERVER_DEFAULTS & ProxyServerOptions & { origins: OriginChooser };

/** node:http's own requestTimeout (whole request, body included); kept unless the header timeout is longer. */
const NODE_REQUEST_TIMEOUT_MS = 300_000;

/** One line per request, emitted when the exchange is over. */
export interface RequestRecord {
  method: string;
  path: string;
  /** The upstream's name with a router ("default" for --upstream URL); without one, its URL. */
  upstream: string;
  /** The server (URL) the request went to; absent when none was chosen (no route, none available). */
  server?: string;
  /** Index of the route that matched (with a router). */
  route?: number;
  /** Status sent to the client; 499 when the client went away first. */
  status: number;
  durationMs: number;
  /** Connection that carried the (last) attempt; 'none' if no connection was obtained. */
  connection: ConnectionOrigin | 'none';
  retried: boolean;
  /** Request body bytes read from the client. */
  bytesIn: number;
  /** Response body bytes written to the client. */
  bytesOut: number;
  aborted: boolean;
  /** Error code when the upstream exchange failed. */
  error?: string;
  /** Interim (1xx) responses relayed to the client before the final one, when any. */
  interim?: number[];
  /** The Upgrade asked for (e.g. "websocket"); for a tunnel the record comes when it closes. */
  upgrade?: string;
}

export interface ClientErrorRecord {
  code: string;
  status: number | undefined;
}

export interface ProxyServerEvents {
  request: [RequestRecord];
  'client-error': [ClientErrorRecord];
  upgrade: [UpgradeRecord];
}

/**
 * The HTTP front: a reverse proxy to one configured upstream. Emits a `request`
 * record per exchange and `client-error` per malformed request; it never logs.
 */
export class ProxyServer extends EventEmitter<ProxyServerEvents> {
  readonly server: http.Server;
  #options: ServerOptions;
  #inFlight = 0;
  #draining = false;
  #idle: (() => void) | undefined;
  /** Every response's 'close' listener: one function per server, not a closure per request. */
  readonly #onResponseClose: (this: ServerResponse) => void;
  /** Upgrade requests not yet answered, and open tunnels: node:http no longer tracks their sockets. */
  readonly #upgrades = new Set<{ shutdown(): void }>();
  /** Compiled once (and again on reconfigure): the per-request check is integer compares, remembered per client socket. */
  #trustedProxies: TrustedProxies;

  constructor(options: ProxyServerOptions) {
    super();
    this.#options = { ...SERVER_DEFAULTS, ...options, origins: options.origins ?? fixedOrigin(options.upstream.origin) };
    this.#trustedProxies = new TrustedProxies(this.#options.trustedProxies);
    const proxy = this;
    this.#onResponseClose = function (this: ServerResponse): void {
      proxy.#responseClosed(this);
    };
    const headersTimeout = this.#options.clientHeadersTimeoutMs;
    this.server = http.createServer(
      {
        requireHostHeader: true,
        headersTimeout,
        // node:http refuses a requestTimeout shorter than headersTimeout.
        requestTimeout: Math.max(NODE_REQUEST_TIMEOUT_MS, headersTimeout),
        // Both timeouts are enforced by a sweep every connectionsCheckingInterval (30 s by
        // default, which turned a 60 s timeout into up to 90 s): sweep at a quarter of it.
        connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(headersTimeout / 4))),
      },
      (req, res) => this.#onRequest(req, res),
    );
    this.server.keepAliveTimeout = this.#options.clientKeepAliveTimeoutMs;
    // An HTTP/0.9 line would otherwise wait out the headers timeout (request-line-guard.ts).
    new RequestLineGuard(this.server, {
      onRejected: () => this.emit('client-error', { code: 'HTTP_0_9', status: 400 }),
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.#onClientError(err, socket));
    // node:http hands CONNECT (authority-form target) to 'connect' listeners only, and
    // without one destroys the socket unanswered; it gets the 400 of any other bad target.
    this.server.on('connect', (req: IncomingMessage, socket: Socket) => this.#onConnect(req, socket));
    // With an 'upgrade' listener node:http hands every `Connection: Upgrade` request here
    // (raw socket, no response object) instead of to the request handler.
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.#onUpgrade(req, socket, head));
  }

  /**
   * What a reload may change while serving: where requests go (upstream, origins,
   * dispatcher), how they are relayed, and the client keep-alive. Requests already
   * running keep the settings they started with; the next request gets these.
   * Listener-level settings (clientHeadersTimeoutMs) need a new server.
   */
  reconfigure(patch: ProxyReconfiguration): void {
    const next: ServerOptions = { ...this.#options, ...patch };
    if (patch.upstream !== undefined && patch.origins === undefined) next.origins = fixedOrigin(patch.upstream.origin);
    // A new list starts with an empty per-socket cache: open connections are judged again.
    if (patch.trustedProxies !== undefined) this.#trustedProxies = new TrustedProxies(patch.trustedProxies);
    this.#options = next;
    if (patch.clientKeepAliveTimeoutMs !== undefined) this.server.keepAliveTimeout = patch.clientKeepAliveTimeoutMs;
  }

  get trustedProxies(): TrustedProxies {
    return this.#trustedProxies;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get draining(): boolean {
    return this.#draining;
  }

  get listening(): boolean {
    return this.server.listening;
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    this.server.listen(port, host);
    await once(this.server, 'listening');
    return this.server.address() as AddressInfo;
  }

  /** Accepts on an inherited listening socket (a worker's share of the front port). */
  async listenOnHandle(handle: { fd: number }): Promise<AddressInfo> {
    this.server.listen(handle);
    await once(this.server, 'listening');
    return this.server.address() as AddressInfo;
  }

  /**
   * Stops accepting, lets in-flight requests finish for up to `timeoutMs`, then cuts
   * every remaining connection. Resolves with whether everything drained in time.
   */
  async close(timeoutMs: number): Promise<boolean> {
    this.#draining = true;
    const closed = this.server.listening ? once(this.server, 'close') : Promise.resolve();
    this.server.close();
    // Connections that have not sent a request line yet are idle too.
    this.server.closeIdleConnections();
    let drained = this.#inFlight === 0;
    if (!drained) {
      let timer: NodeJS.Timeout | undefined;
      drained = await Promise.race([
        new Promise<boolean>((resolve) => {
          this.#idle = () => resolve(true);
        }),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.server.closeAllConnections();
    for (const u of this.#upgrades) u.shutdown();
    await closed;
    return drained;
  }

  #onClientError(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket): void {
    const code = err.code ?? 'UNKNOWN';
    const answer = clientErrorAnswer(err);
    // The parser may fail after the head was parsed (a bad chunk size, an unusable
    // Transfer-Encoding): a response object then exists, and its exchange answers.
    const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;
    const exchange = res === undefined ? undefined : (res as ExchangeResponse)[kExchange];
    let answered = false;
    if (socket.writable && code !== 'ECONNRESET') {
      if (res === undefined) {
        endWithText(socket, answer.status, answer.text);
        answered = true;
      } else if (exchange !== undefined) {
        answered = exchange.rejectClient(answer, code);
      }
    }
    this.emit('client-error', { code, status: answered ? answer.status : undefined });
    socket.destroySoon();
  }

  #onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const path = upstreamPath(req.url);
    // An upgrade request's body would sit in `head`, unframed: not supported.
    const refusal: [number, string, string] | undefined =
      path === undefined ? [400, 'bad request target', 'BAD_REQUEST_TARGET']
      : hasBody(req) ? [400, 'upgrade request with a body', 'UPGRADE_WITH_BODY']
      : this.#draining ? [503, 'shutting down', 'DRAINING']
      : undefined;
    if (refusal !== undefined || path === undefined) {
      const [status, message, error] = refusal ?? [400, 'bad request target', 'BAD_REQUEST_TARGET'];
      endWithText(socket, status, message);
      this.emit('request', {
        method: req.method ?? '?', path: String(req.url), upstream: this.#options.upstream.url, status,
        durationMs: 0, connection: 'none', retried: false, bytesIn: 0, bytesOut: 0, aborted: false, error, upgrade: String(req.headers.upgrade),
      });
      return;
    }
    const o = this.#options;
    let upstream = o.upstream;
    let origin: string;
    let server: ServerDispatch | undefined;
    let upstreamName: string | undefined;
    if (o.router === undefined) {
      origin = o.origins.next();
    } else {
      const routed = o.router.route(req.headers.host, path);
      if (isRefusal(routed)) {
        endWithText(socket, routed.status, routed.message);
        this.emit('request', {
          method: req.method ?? '?', path: String(req.url), upstream: routed.upstream ?? '-', status: routed.status,
          durationMs: 0, connection: 'none', retried: false, bytesIn: 0, bytesOut: 0, aborted: false, error: routed.code, upgrade: String(req.headers.upgrade),
        });
        return;
      }
      server = routed.server;
      upstreamName = routed.upstream.name;
      upstream = routed.server.upstream;
      origin = routed.server.origin;
    }
    let open: { shutdown(): void };
    const exchange = new UpgradeExchange(
      {
        upstream, origin, dispatcher: o.dispatcher, preserveHost: o.preserveHost,
        headersTimeoutMs: o.headersTimeoutMs, bodyTimeoutMs: o.bodyTimeoutMs, upgradeIdleTimeoutMs: o.upgradeIdleTimeoutMs,
        trustedPeer: this.#trustedProxies.trustsPeer(socket), forwardedHeader: o.forwardedHeader,
      },
      req, socket, head, path,
      {
        tunnelOpened: (tunnel: Tunnel) => {
          this.#upgrades.delete(open);
          open = tunnel;
          this.#upgrades.add(open);
        },
        done: (r: UpgradeRecord) => {
          this.#upgrades.delete(open);
          // A tunnel's end says nothing reliable about the server's health: in flight only.
          server?.finished(undefined, true);
          const record: RequestRecord = {
            method: r.method, path: r.path, upstream: upstreamName ?? r.upstream, status: r.status, durationMs: r.durationMs,
            connection: r.connection, retried: false, bytesIn: r.bytesFromClient, bytesOut: r.bytesToClient,
            aborted: r.status === 499, upgrade: r.protocol,
          };
          if (upstreamName !== undefined) record.server = upstream.url;
          if (r.error !== undefined) record.error = r.error;
          this.emit('request', record);
          this.emit('upgrade', r);
        },
      },
    );
    open = exchange;
    this.#upgrades.add(open);
    exchange.start();
  }

  #onConnect(req: IncomingMessage, socket: Socket): void {
    const started = performance.now();
    endWithText(socket, 400, 'bad request target');
    this.emit('request', {
      method: req.method ?? 'CONNECT', path: String(req.url), upstream: this.#options.upstream.url, status: 400,
      durationMs: performance.now() - started, connection: 'none', retried: false, bytesIn: 0, bytesOut: 0, aborted: false,
      error: 'BAD_REQUEST_TARGET',
    });
  }

  /** 400 and close, without asking the upstream. */
  #reject(req: IncomingMessage, res: ServerResponse, error: string, message: string): void {
    const started = performance.now();
    res.shouldKeepAlive = false;
    sendText(res, 400, message);
    this.emit('request', {
      method: req.method ?? '?', path: String(req.url), upstream: this.#options.upstream.url, status: 400,
      durationMs: performance.now() - started, connection: 'none', retried: false, bytesIn: 0, bytesOut: 0, aborted: false,
      error,
    });
  }

  /** A response closed (sent, or its client went away): 'close' comes once per response. */
  #responseClosed(res: ServerResponse): void {
    this.#inFlight -= 1;
    if (this.#draining) this.server.closeIdleConnections();
    if (this.#inFlight === 0) this.#idle?.();
    (res as ExchangeResponse)[kExchange]?.clientClosed();
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.#inFlight += 1;
    res.on('close', this.#onResponseClose);
    if (this.#draining) res.shouldKeepAlive = false;

    if (req.httpVersionMajor < 1) {
      // HTTP/0.9 ("GET /" without a version, here followed by an empty line): no headers, no Host, no
      // framing to relay. A client error, as when the guard answers the bare line (request-line-guard.ts).
      res.shouldKeepAlive = false;
      sendText(res, 400, 'HTTP/0.9 is not supported');
      this.emit('client-error', { code: 'HTTP_0_9', status: 400 });
      return;
    }
    const path = upstreamPath(req.url);
    if (path === undefined) {
      this.#reject(req, res, 'BAD_REQUEST_TARGET', 'bad request target');
      return;
    }
    const exchange = new ProxyExchange(this, this.#options, req, res, path);
    // The exchange behind the response, for its 'close' and for a parser error that comes after the head.
    (res as ExchangeResponse)[kExchange] = exchange;
    exchange.start();
  }
}

const kExchange = Symbol('synpool.exchange');
type ExchangeResponse = ServerResponse & { [kExchange]?: ProxyExchange };

function sendText(res: ServerResponse, status: number, message: string): void {
  const body = `${message}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), via: '1.1 synpool' });
  res.end(body);
}

function hasBody(req: IncomingMessage): boolean {
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) return true;
  const cl = req.headers['content-length'];
  return cl !== undefined && cl !== '0';
}

/** One client request relayed upstream: a new-style undici handler streaming both ways. */
class ProxyExchange implements ConnectionAwareHandler {
  readonly #started = performance.now();
  /** Set once the upstream request is to be given up (client gone, malformed request); no AbortController needed. */
  #abortReason: Error | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #connection: ConnectionOrigin | 'none' = 'none';
  #retried = false;
  #body: ReplayableBody | undefined;
  #status = 0;
  #interim: number[] | undefined;
  #bytesOut = 0;
  #finished = false;
  /** With a router: the server chosen, told how the exchange ended (in flight, passive health). */
  #server: ServerDispatch | undefined;
  #upstreamName: string | undefined;
  #route: number | undefined;
  #upstream: UpstreamTarget | undefined;
  #upstreamError: Error | undefined;
  #group: UpstreamGroup | undefined;
  #reroutes = 0;

  constructor(
    private readonly proxy: ProxyServer,
    private readonly options: ServerOptions,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly path: string,
  ) {}

  start(): void {
    const { req, options } = this;

    let upstream = options.upstream;
    let origin: string;
    if (options.router === undefined) {
      origin = options.origins.next();
    } else {
      const routed = options.router.route(req.headers.host, this.path);
      if (isRefusal(routed)) {
        this.#status = routed.status;
        this.#upstreamName = routed.upstream ?? '-';
        sendText(this.res, routed.status, routed.message);
        this.#finish({ error: routed.code });
        return;
      }
      this.#server = routed.server;
      this.#group = routed.upstream;
      this.#upstreamName = routed.upstream.name;
      this.#route = routed.route;
      upstream = routed.server.upstream;
      origin = routed.server.origin;
    }
    this.#body = hasBody(req) ? new ReplayableBody(req, options.retryBufferBytes) : undefined;
    this.#send(upstream, origin);
  }

  /** One dispatch to one server (the first, or another after a failed connect). */
  #send(upstream: UpstreamTarget, origin: string): void {
    const { req, options } = this;
    this.#upstream = upstream;
    const headers = upstreamRequestHeaders(req.rawHeaders, {
      clientAddress: req.socket.remoteAddress,
      httpVersion: req.httpVersion,
      upstreamHost: upstream.hostHeader,
      preserveHost: options.preserveHost,
      trustedPeer: this.proxy.trustedProxies.trustsPeer(req.socket),
      forwardedHeader: options.forwardedHeader,
    });
    const opts: AcceleratedDispatchOptions = {
      origin,
      path: this.path,
      method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
      headers,
      body: this.#body ?? null,
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
    };
    // https: the name to present and check is the server's (undici takes it from the Host header otherwise).
    if (upstream.protocol === 'https:') (opts as { servername?: string }).servername = upstream.servername;
    // AcceleratedAgent understands a ReplayableBody; hand any other dispatcher a plain stream.
    if (this.#body !== undefined && !(options.dispatcher instanceof AcceleratedAgent)) opts.body = this.#body.openAttempt();
    options.dispatcher.dispatch(opts as Dispatcher.DispatchOptions, this);
  }

  /** The client response closed; before it was finished, the client went away: abort the upstream request. */
  clientClosed(): void {
    if (this.res.writableFinished) return;
    this.#abortUpstream(new Error('client closed the connection'));
    this.#finish({ aborted: true });
  }

  #abortUpstream(reason: Error): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  onConnection(connection: ConnectionOrigin, attempt: number): void {
    this.#connection = connection;
    if (attempt > 1) this.#retried = true;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#abortReason !== undefined) controller.abort(this.#abortReason);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    const { res } = this;
    if (this.#abortReason !== undefined) return;
    if (statusCode < 200) {
      // Interim (undici reports 1xx like a response, then the final one): never the head.
      if (forwardInterim(this.req, res, statusCode, headers) === 'forwarded') (this.#interim ??= []).push(statusCode);
      return;
    }
    this.#status = statusCode;
    if (this.proxy.draining) res.shouldKeepAlive = false;
    try {
      res.writeHead(statusCode, statusMessage || undefined, clientResponseHeaders(headers));
    } catch (err) {
      // Headers node:http refuses to write (invalid characters): treat as a bad upstream.
      controller.abort(err as Error);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#bytesOut += chunk.length;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.#body?.detach();
    this.res.end();
    this.#finish({});
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    this.#body?.detach();
    if (this.#abortReason !== undefined) {
      this.#finish({ aborted: true });
      return;
    }
    this.#upstreamError = err;
    if (this.#rerouted(err)) return;
    const mapped = upstreamErrorResponse(err);
    if (!this.res.headersSent) {
      this.#status = mapped.status;
      sendText(this.res, mapped.status, mapped.message);
    } else {
      // Mid-response: the only honest signal left is cutting the client connection.
      this.res.destroy();
    }
    this.#finish({ error: mapped.code });
  }

  /**
   * A connect to the chosen server failed, so nothing of the request reached it: any
   * method goes once to another available server of the same upstream (the failure
   * counts against the first server's health). Not after a response byte, nor when the
   * body could not be sent again, nor twice.
   */
  #rerouted(err: Error): boolean {
    const server = this.#server;
    const group = this.#group;
    if (server === undefined || group === undefined || this.#reroutes > 0) return false;
    if (this.res.headersSent || this.#status !== 0 || this.#interim !== undefined) return false;
    if (!connectFailed(err) || (this.#body !== undefined && !this.#body.replayable)) return false;
    const next = group.pickOther(server.slot);
    if (next === undefined) return false;
    server.finished(err);
    this.#upstreamError = undefined;
    this.#reroutes += 1;
    this.#retried = true;
    this.#server = next;
    this.#send(next.upstream, next.origin);
    return true;
  }

  /**
   * The client's request turned out malformed after its head: stop the upstream
   * exchange and answer `answer` (connection closed) unless a response head is already
   * out. Returns whether the answer was written.
   */
  rejectClient(answer: ClientErrorAnswer, code: string): boolean {
    if (this.#finished || this.res.headersSent) return false;
    this.#status = answer.status;
    this.#finish({ error: code });
    this.#abortUpstream(new Error(`malformed request: ${code}`));
    this.res.shouldKeepAlive = false;
    sendText(this.res, answer.status, answer.text);
    return true;
  }

  #finish(extra: { aborted?: boolean; error?: string }): void {
    if (this.#finished) return;
    this.#finished = true;
    const aborted = extra.aborted ?? false;
    this.#server?.finished(this.#upstreamError, aborted);
    const record: RequestRecord = {
      method: this.req.method ?? '?',
      path: this.path,
      upstream: this.#upstreamName ?? this.options.upstream.url,
      status: aborted ? 499 : this.#status,
      durationMs: performance.now() - this.#started,
      connection: this.#connection,
      retried: this.#retried,
      bytesIn: this.#body?.bytesRead ?? 0,
      bytesOut: this.#bytesOut,
      aborted,
    };
    if (extra.error !== undefined) record.error = extra.error;
    if (this.#interim !== undefined) record.interim = this.#interim;
    if (this.#upstream !== undefined && this.#upstreamName !== undefined) record.server = this.#upstream.url;
    if (this.#route !== undefined) record.route = this.#route;
    this.proxy.emit('request', record);
  }
}

export function createProxyServer(options: ProxyServerOptions): ProxyServer {
  return new ProxyServer(options);
}

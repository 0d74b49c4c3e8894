import { EventEmitter, once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import type { UpstreamTarget } from '../config/load-config.js';
import { AcceleratedAgent, type AcceleratedDispatchOptions, type ConnectionAwareHandler } from './accelerated-agent.js';
import type { ConnectionOrigin } from './connection-source.js';
import { clientResponseHeaders, upstreamPath, upstreamRequestHeaders } from './headers.js';
import { ReplayableBody } from './replayable-body.js';
import { upstreamErrorResponse } from './upstream-error.js';

export interface ProxyServerOptions {
  upstream: UpstreamTarget;
  /** Usually an AcceleratedAgent; any undici dispatcher works (no connection tracking then). */
  dispatcher: Dispatcher;
  preserveHost?: boolean;
  /** First response byte (ms). Default 30000. */
  headersTimeoutMs?: number;
  /** Idle time between body chunks (ms). Default 30000. */
  bodyTimeoutMs?: number;
  /** Request body bytes kept for a replay. Default 1 MiB. */
  retryBufferBytes?: number;
  /** Idle client keep-alive (ms). Default 5000. */
  clientKeepAliveTimeoutMs?: number;
}

const SERVER_DEFAULTS = {
  preserveHost: false,
  headersTimeoutMs: 30_000,
  bodyTimeoutMs: 30_000,
  retryBufferBytes: 1_048_576,
  clientKeepAliveTimeoutMs: 5_000,
};

/** One line per request, emitted when the exchange is over. */
export interface RequestRecord {
  method: string;
  path: string;
  upstream: string;
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
}

export interface ClientErrorRecord {
  code: string;
  status: number | undefined;
}

export interface ProxyServerEvents {
  request: [RequestRecord];
  'client-error': [ClientErrorRecord];
}

const CLIENT_ERROR_STATUS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
};

/**
 * The HTTP front: a reverse proxy to one configured upstream. Emits a `request`
 * record per exchange and `client-error` per malformed request; it never logs.
 */
export class ProxyServer extends EventEmitter<ProxyServerEvents> {
  readonly server: http.Server;
  readonly #options: typeof SERVER_DEFAULTS & ProxyServerOptions;
  #inFlight = 0;
  #draining = false;
  #idle: (() => void) | undefined;

  constructor(options: ProxyServerOptions) {
    super();
    this.#options = { ...SERVER_DEFAULTS, ...options };
    this.server = http.createServer({ requireHostHeader: true }, (req, res) => this.#onRequest(req, res));
    this.server.keepAliveTimeout = this.#options.clientKeepAliveTimeoutMs;
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.#onClientError(err, socket));
    // node:http hands CONNECT (authority-form target) to 'connect' listeners only, and
    // without one destroys the socket unanswered; it gets the 400 of any other bad target.
    this.server.on('connect', (req: IncomingMessage, socket: Socket) => this.#onConnect(req, socket));
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

  /**
   * Stops accepting, lets in-flight requests finish for up to `timeoutMs`, then cuts
   * every remaining connection. Resolves with whether everything drained in time.
   */
  async close(timeoutMs: number): Promise<boolean> {
    this.#draining = true;
    const closed = this.server.listening ? once(this.server, 'close') : Promise.resolve();
    this.server.close();
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
    await closed;
    return drained;
  }

  #onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    const code = err.code ?? 'UNKNOWN';
    const known = CLIENT_ERROR_STATUS[code];
    const [status, text] = known ?? [400, 'Bad Request'];
    const canAnswer = socket.writable && code !== 'ECONNRESET' && !(socket as Socket & { _httpMessage?: unknown })._httpMessage;
    this.emit('client-error', { code, status: canAnswer ? status : undefined });
    if (canAnswer) {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length + 1}\r\n\r\n${text}\n`);
    }
    socket.destroySoon();
  }

  #onConnect(req: IncomingMessage, socket: Socket): void {
    const started = performance.now();
    const text = 'bad request target\n';
    socket.on('error', () => undefined);
    socket.end(`HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${text.length}\r\nVia: 1.1 synpool\r\n\r\n${text}`);
    socket.destroySoon();
    this.emit('request', {
      method: req.method ?? 'CONNECT', path: String(req.url), upstream: this.#options.upstream.url, status: 400,
      durationMs: performance.now() - started, connection: 'none', retried: false, bytesIn: 0, bytesOut: 0, aborted: false,
      error: 'BAD_REQUEST_TARGET',
    });
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.#inFlight += 1;
    let done = false;
    res.once('close', () => {
      if (done) return;
      done = true;
      this.#inFlight -= 1;
      if (this.#draining) this.server.closeIdleConnections();
      if (this.#inFlight === 0) this.#idle?.();
    });
    if (this.#draining) res.shouldKeepAlive = false;

    const path = upstreamPath(req.url);
    if (path === undefined) {
      const started = performance.now();
      res.shouldKeepAlive = false;
      sendText(res, 400, 'bad request target');
      this.emit('request', {
        method: req.method ?? '?', path: String(req.url), upstream: this.#options.upstream.url, status: 400,
        durationMs: performance.now() - started, connection: 'none', retried: false, bytesIn: 0, bytesOut: 0, aborted: false,
        error: 'BAD_REQUEST_TARGET',
      });
      return;
    }
    new ProxyExchange(this, this.#options, req, res, path).start();
  }
}

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
  readonly #abort = new AbortController();
  #controller: Dispatcher.DispatchController | undefined;
  #connection: ConnectionOrigin | 'none' = 'none';
  #retried = false;
  #body: ReplayableBody | undefined;
  #status = 0;
  #bytesOut = 0;
  #finished = false;

  constructor(
    private readonly proxy: ProxyServer,
    private readonly options: typeof SERVER_DEFAULTS & ProxyServerOptions,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly path: string,
  ) {}

  start(): void {
    const { req, res, options } = this;
    // A client that goes away aborts the upstream request.
    this.#abort.signal.addEventListener('abort', () => this.#controller?.abort(this.#abort.signal.reason as Error), { once: true });
    res.once('close', () => {
      if (!res.writableFinished) {
        this.#abort.abort(new Error('client closed the connection'));
        this.#finish({ aborted: true });
      }
    });

    this.#body = hasBody(req) ? new ReplayableBody(req, options.retryBufferBytes) : undefined;
    const headers = upstreamRequestHeaders(req.rawHeaders, {
      clientAddress: req.socket.remoteAddress,
      httpVersion: req.httpVersion,
      upstreamHost: options.upstream.hostHeader,
      preserveHost: options.preserveHost,
    });
    const opts: AcceleratedDispatchOptions = {
      origin: options.upstream.origin,
      path: this.path,
      method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
      headers,
      body: this.#body ?? null,
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
    };
    // AcceleratedAgent understands a ReplayableBody; hand any other dispatcher a plain stream.
    if (this.#body !== undefined && !(options.dispatcher instanceof AcceleratedAgent)) opts.body = this.#body.openAttempt();
    options.dispatcher.dispatch(opts as Dispatcher.DispatchOptions, this);
  }

  onConnection(connection: ConnectionOrigin, attempt: number): void {
    this.#connection = connection;
    if (attempt > 1) this.#retried = true;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#abort.signal.aborted) controller.abort(this.#abort.signal.reason as Error);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    const { res } = this;
    if (this.#abort.signal.aborted) return;
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
    if (this.#abort.signal.aborted) {
      this.#finish({ aborted: true });
      return;
    }
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

  #finish(extra: { aborted?: boolean; error?: string }): void {
    if (this.#finished) return;
    this.#finished = true;
    const aborted = extra.aborted ?? false;
    const record: RequestRecord = {
      method: this.req.method ?? '?',
      path: this.path,
      upstream: this.options.upstream.url,
      status: aborted ? 499 : this.#status,
      durationMs: performance.now() - this.#started,
      connection: this.#connection,
      retried: this.#retried,
      bytesIn: this.#body?.bytesRead ?? 0,
      bytesOut: this.#bytesOut,
      aborted,
    };
    if (extra.error !== undefined) record.error = extra.error;
    this.proxy.emit('request', record);
  }
}

export function createProxyServer(options: ProxyServerOptions): ProxyServer {
  return new ProxyServer(options);
}

import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { Dispatcher, util } from 'undici';
import type { Endpoint } from '../handshake/endpoint.js';
import { plainConnectionSource, type ConnectionOrigin, type ConnectionSource } from './connection-source.js';
import { splitConnectionBudget, splitFirstAttempts } from './connection-budget.js';
import { createConnector, createReadyTake, type FallbackReason } from './connector.js';
import { LeanPool, kLeanHead } from './lean-pool.js';
import { leanParserAvailable } from './lean-parser.js';
import { leanHead, originHost } from './lean-request.js';
import type { TlsHandshakeEvent } from './tls-handshake.js';
import { resolveUpstreamTls, type UpstreamTls, type UpstreamTlsOptions } from './upstream-tls.js';
import { ReplayableBody } from './replayable-body.js';
import { errorCode, retryReason, type RetryReason } from './retry-policy.js';
import { connectionInfo } from './connection-registry.js';
import { expectResponse, type ResponseStartListener } from './continue-filter.js';
import { LegacyHandler, type LegacyDispatchHandler } from './legacy-handler.js';
import { OriginPools } from './origin-pools.js';
import { destroyArgs, settleAll } from './dispatcher-fanout.js';
import { TrackingClient, kTrackedRequest, type ClientSocketState, type TrackedRequest } from './tracking-client.js';

export interface AcceleratedAgentOptions {
  /** Where new connections come from first; defaults to plain connects only. */
  source?: ConnectionSource;
  /** Plain TCP connect timeout (ms). Default 5000. */
  connectTimeoutMs?: number;
  /** Idle upstream keep-alive connections are closed after this (ms), unless the upstream says less. Default 4000. */
  keepAliveTimeoutMs?: number;
  /** Default first-byte timeout per request (ms); a request may override it with headersTimeout. Default 30000. */
  headersTimeoutMs?: number;
  /** Default idle-body timeout per request (ms); a request may override it with bodyTimeout. Default 30000. */
  bodyTimeoutMs?: number;
  /**
   * Upper bound on connections per origin, first attempts and replays together
   * (split by splitConnectionBudget: ≥ 2); null = unbounded. Default null.
   */
  connections?: number | null;
  /** https:// origins: extra CAs, the checked name, verification (default on); sessions are cached per origin. */
  tls?: UpstreamTlsOptions;
  /**
   * Bodiless GET, DELETE and OPTIONS requests to http:// origins go through synpool's own
   * HTTP/1 exchange over Node's native parser (lean-pool.ts) instead of undici: the same
   * connections (pool first), keep-alive, timeouts and retries, at a fraction of the
   * per-request work. Default true; false sends everything through undici.
   */
  lean?: boolean;
  /**
   * Where the agent emits its events; default a new emitter. A reload that replaces the
   * agent passes the old one's, so the log and metrics stay subscribed.
   */
  events?: EventEmitter<AcceleratedAgentEvents>;
}

const AGENT_DEFAULTS = {
  connectTimeoutMs: 5_000,
  keepAliveTimeoutMs: 4_000,
  headersTimeoutMs: 30_000,
  bodyTimeoutMs: 30_000,
  connections: null as number | null,
  lean: true,
};

/** Host headers of the origins seen, parsed once each; cleared past this many. */
const KEPT_HOSTS = 64;

export interface ConnectionEvent {
  /** undici origin of the request, e.g. "http://10.0.0.2:8080". */
  origin: string;
  connection: ConnectionOrigin;
  target: Endpoint | undefined;
  attempt: number;
}
export interface FallbackEvent {
  reason: FallbackReason;
  target: Endpoint;
}
export interface RetryEvent {
  reason: RetryReason;
  method: string;
  origin: string;
  /** Code of the error that caused the retry. */
  error: string | undefined;
}

export interface AcceleratedAgentEvents {
  connection: [ConnectionEvent];
  fallback: [FallbackEvent];
  retry: [RetryEvent];
  'tls-handshake': [TlsHandshakeEvent];
}

/** Dispatch options: `body` may also be a ReplayableBody, which lets a streamed body be retried. */
export type AcceleratedDispatchOptions = Omit<Dispatcher.DispatchOptions, 'body'> & {
  body?: Dispatcher.DispatchOptions['body'] | ReplayableBody;
};

/** A dispatch handler may add this to learn, per attempt, where its connection came from. */
export interface ConnectionAwareHandler extends Dispatcher.DispatchHandler {
  onConnection?(connection: ConnectionOrigin, attempt: number): void;
}

function isReplayable(body: AcceleratedDispatchOptions['body']): boolean {
  if (body === undefined || body === null) return true;
  if (typeof body === 'string' || body instanceof Uint8Array) return true;
  return body instanceof ReplayableBody && body.replayable;
}

/**
 * An undici dispatcher whose new connections come from a ConnectionSource (the
 * half-open pool) before a plain connect; keep-alive reuse comes first. A request
 * whose pooled connection was reset on first use is replayed once on a plain
 * connection; see retry-policy.ts for the rules.
 */
export class AcceleratedAgent extends Dispatcher {
  readonly events: EventEmitter<AcceleratedAgentEvents>;
  readonly source: ConnectionSource;
  readonly #accelerated: OriginPools;
  readonly #plain: OriginPools;
  /** The lean exchange's pools; undefined when it is off. */
  readonly #lean: OriginPools | undefined;
  readonly #hosts = new Map<string, string>();
  readonly #onFallback = (reason: FallbackReason, target: Endpoint): void => {
    this.events.emit('fallback', { reason, target });
  };

  constructor(options: AcceleratedAgentOptions = {}) {
    super();
    const o = { ...AGENT_DEFAULTS, ...options };
    this.source = options.source ?? plainConnectionSource;
    this.events = options.events ?? new EventEmitter<AcceleratedAgentEvents>();
    // One cap for both agents together, not one each (see connection-budget.ts).
    const budget = splitConnectionBudget(o.connections);
    // One secure context and one session cache for both agents: a replay resumes the first attempt's session.
    const tls = resolveUpstreamTls(options.tls);
    const first = o.lean && leanParserAvailable() ? splitFirstAttempts(budget.accelerated) : { lean: 0, streamed: budget.accelerated };
    this.#accelerated = this.#makeAgent(o, false, first.streamed, tls);
    this.#plain = this.#makeAgent(o, true, budget.replay, tls);
    this.#lean = first.lean === 0 ? undefined : this.#makeLean(o, first.lean, tls);
  }

  #makeLean(o: typeof AGENT_DEFAULTS, connections: number | null, tls: UpstreamTls): OriginPools {
    return new OriginPools({
      create: (origin) =>
        new LeanPool(origin, {
          connect: createConnector({
            source: this.source,
            connectTimeoutMs: o.connectTimeoutMs,
            tls,
            onFallback: this.#onFallback,
          }),
          takeReady: createReadyTake({ source: this.source, onFallback: this.#onFallback }),
          keepAliveTimeoutMs: o.keepAliveTimeoutMs,
          headersTimeoutMs: o.headersTimeoutMs,
          bodyTimeoutMs: o.bodyTimeoutMs,
          connections,
        }),
    });
  }

  /**
   * The lean exchange's pools and the request head for `opts`, when it takes the request
   * (lean-request.ts); undefined sends it through undici.
   */
  leanRoute(opts: AcceleratedDispatchOptions): { pools: OriginPools; head: string } | undefined {
    const pools = this.#lean;
    if (pools === undefined) return undefined;
    const origin = opts.origin;
    const key = typeof origin === 'string' ? origin : origin === undefined ? '' : String(origin);
    if (!key.startsWith('http://')) return undefined;
    let host = this.#hosts.get(key);
    if (host === undefined) {
      host = originHost(key);
      if (this.#hosts.size >= KEPT_HOSTS) this.#hosts.clear();
      this.#hosts.set(key, host);
    }
    const head = leanHead(opts as Dispatcher.DispatchOptions, host);
    return head === undefined ? undefined : { pools, head };
  }

  #makeAgent(o: typeof AGENT_DEFAULTS, plainOnly: boolean, connections: number | null, tls: UpstreamTls): OriginPools {
    const clientFactory = (origin: string | URL, clientOptions: object): Dispatcher => {
      const state: ClientSocketState = { socket: undefined };
      const connect = createConnector({
        source: this.source,
        connectTimeoutMs: o.connectTimeoutMs,
        plainOnly,
        tls,
        onTlsHandshake: (e) => this.events.emit('tls-handshake', e),
        onConnected: (socket) => {
          state.socket = socket;
        },
        onFallback: this.#onFallback,
      });
      return new TrackingClient(origin, { ...clientOptions, connect }, state);
    };
    // Not undici's Agent: it drops an origin's Pool with its last connection (see origin-pools.ts).
    return new OriginPools({
      keepAliveTimeout: o.keepAliveTimeoutMs,
      headersTimeout: o.headersTimeoutMs,
      bodyTimeout: o.bodyTimeoutMs,
      connectTimeout: o.connectTimeoutMs,
      connections,
      factory: clientFactory,
    });
  }

  /** Idle keep-alive connections to `origin` (first attempts' connections; replays are rare). */
  idleConnections(origin: string): number {
    return this.#accelerated.idle(origin) + (this.#lean?.idle(origin) ?? 0);
  }

  /** Closes an origin's connections once their requests finish; see OriginPools.retire. */
  retireOrigin(origin: string): Promise<void> {
    return Promise.all([this.#accelerated.retire(origin), this.#plain.retire(origin), this.#lean?.retire(origin)]).then(() => undefined);
  }

  override dispatch(opts: AcceleratedDispatchOptions, handler: ConnectionAwareHandler | LegacyDispatchHandler): boolean {
    return new Exchange(this, this.#accelerated, this.#plain, opts, handler).start();
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    return settleAll([this.#accelerated.close(), this.#plain.close(), ...(this.#lean === undefined ? [] : [this.#lean.close()])], callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const { err, callback } = destroyArgs(a, b);
    return settleAll([this.#accelerated.destroy(err), this.#plain.destroy(err), ...(this.#lean === undefined ? [] : [this.#lean.destroy(err)])], callback);
  }
}

/**
 * One request across its attempts (at most two), and the handler undici calls for it:
 * a decorator in the style of undici's DecoratorHandler, one method per callback, each
 * forwarded to the caller's handler. It learns where each attempt's connection came
 * from when the request is written (onRequestStart), notes the first response byte
 * (no replay after it), and holds back an error that it retries.
 */
class Exchange implements Dispatcher.DispatchHandler, ResponseStartListener, TrackedRequest {
  #attempt = 0;
  #responded = false;
  #connection: ConnectionOrigin | undefined;
  #target: Endpoint | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  /** The current attempt runs on the lean exchange (its parser takes a 100 itself: no filter). */
  #lean = false;
  readonly #handler: ConnectionAwareHandler;
  /** The socket state of the client the current attempt was queued on (set by TrackingClient.dispatch). */
  clientState: ClientSocketState | undefined;

  constructor(
    private readonly agent: AcceleratedAgent,
    private readonly accelerated: OriginPools,
    private readonly plain: OriginPools,
    private readonly opts: AcceleratedDispatchOptions,
    handler: ConnectionAwareHandler | LegacyDispatchHandler,
  ) {
    this.#handler = LegacyHandler.wrap(handler);
  }

  start(): boolean {
    const lean = this.agent.leanRoute(this.opts);
    if (lean !== undefined) return this.#dispatchOn(lean.pools, lean.head);
    return this.#dispatchOn(this.accelerated);
  }

  /** `leanHead`: the request goes through the lean exchange, with this head. */
  #dispatchOn(dispatcher: OriginPools, leanHead?: string): boolean {
    this.#attempt += 1;
    this.#responded = false;
    this.#connection = undefined;
    this.#target = undefined;
    this.#controller = undefined;
    this.clientState = undefined;
    const { opts } = this;
    const body = opts.body instanceof ReplayableBody ? opts.body.openAttempt() : opts.body;
    this.#lean = leanHead !== undefined;
    const attemptOpts = { ...opts, body, [kTrackedRequest]: this, [kLeanHead]: leanHead } as Dispatcher.DispatchOptions;
    return dispatcher.dispatch(attemptOpts, this);
  }

  /** The request is being written on the client's current socket: where did it come from? */
  #connected(): void {
    const socket = this.clientState?.socket;
    let connection: ConnectionOrigin = 'plain';
    let target: Endpoint | undefined;
    if (socket !== undefined) {
      // Arm the 100-Continue filter for this response (continue-filter.ts): this exchange is its listener.
      if (!this.#lean) expectResponse(socket, this);
      const info = connectionInfo(socket);
      if (info !== undefined) {
        connection = info.served > 0 ? 'reused' : info.origin;
        target = info.target;
        info.served += 1;
      }
    }
    this.#connection = connection;
    this.#target = target;
    const { events } = this.agent;
    if (events.listenerCount('connection') > 0) {
      events.emit('connection', { origin: String(this.opts.origin), connection, target, attempt: this.#attempt });
    }
    this.#handler.onConnection?.(connection, this.#attempt);
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#controller = controller;
    this.#connected();
    this.#handler.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    this.#responded = true;
    this.#handler.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  /**
   * undici calls this on the first byte of a status line (even an interim or malformed
   * one): a response began, so the request must never be replayed, whether or not the
   * caller's handler listens.
   */
  onResponseStarted(): void {
    this.#responded = true;
    this.#handler.onResponseStarted?.();
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.#responded = true;
    this.#handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#responded = true;
    this.#handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.#handler.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, err: Error): void {
    if (this.#retried(err)) return;
    this.#handler.onResponseError?.(controller, err);
  }

  /** ResponseStartListener: a byte of the response is held by the 100-Continue filter. */
  started(): void {
    this.onResponseStarted();
  }

  /** ResponseStartListener: the filter removed a complete 100 head; report it like any other 1xx. */
  interim(statusCode: number, statusText: string, rawHeaders: Buffer[]): void {
    const controller = this.#controller;
    if (controller === undefined) return;
    this.onResponseStart(controller, statusCode, util.parseHeaders(rawHeaders) as IncomingHttpHeaders, statusText);
  }

  /** True when the error was taken over by a retry. */
  #retried(err: Error): boolean {
    const reason = retryReason(err, {
      method: this.opts.method,
      attempt: this.#attempt,
      responded: this.#responded,
      bodyReplayable: isReplayable(this.opts.body),
      origin: this.#connection,
    });
    if (reason === undefined) return false;
    const target = this.#target;
    if (this.#connection === 'pool' && target !== undefined) {
      // Nothing is reported to the pool here: it learns from its own sockets (PoolManager.acquire), and only
      // from SYNPOOL_ERR_POOLED_RESET. A 'pooled-error' is the upstream resetting a request it acknowledged.
      if (reason === 'pooled-reset' || reason === 'pooled-error') this.agent.events.emit('fallback', { reason, target });
    }
    this.agent.events.emit('retry', { reason, method: this.opts.method, origin: String(this.opts.origin), error: errorCode(err) });
    process.nextTick(() => this.#dispatchOn(this.plain));
    return true;
  }
}

/** The dispatcher for library users: `setGlobalDispatcher(createAcceleratedAgent({ source }))`. */
export function createAcceleratedAgent(options: AcceleratedAgentOptions = {}): AcceleratedAgent {
  return new AcceleratedAgent(options);
}

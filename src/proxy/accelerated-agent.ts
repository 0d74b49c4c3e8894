import { EventEmitter } from 'node:events';
import { Agent, Dispatcher, Pool } from 'undici';
import type { Endpoint } from '../handshake/endpoint.js';
import { plainConnectionSource, type ConnectionOrigin, type ConnectionSource } from './connection-source.js';
import { splitConnectionBudget } from './connection-budget.js';
import { createConnector, type FallbackReason } from './connector.js';
import type { TlsHandshakeEvent } from './tls-handshake.js';
import { resolveUpstreamTls, type UpstreamTls, type UpstreamTlsOptions } from './upstream-tls.js';
import { ReplayableBody } from './replayable-body.js';
import { errorCode, retryReason, type RetryReason } from './retry-policy.js';
import { TrackingClient, kConnectionObserver, type ClientSocketState, type ConnectionObserver } from './tracking-client.js';

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
}

const AGENT_DEFAULTS = {
  connectTimeoutMs: 5_000,
  keepAliveTimeoutMs: 4_000,
  headersTimeoutMs: 30_000,
  bodyTimeoutMs: 30_000,
  connections: null as number | null,
};

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
  readonly events = new EventEmitter<AcceleratedAgentEvents>();
  readonly source: ConnectionSource;
  readonly #accelerated: Agent;
  readonly #plain: Agent;

  constructor(options: AcceleratedAgentOptions = {}) {
    super();
    const o = { ...AGENT_DEFAULTS, ...options };
    this.source = options.source ?? plainConnectionSource;
    // One cap for both agents together, not one each (see connection-budget.ts).
    const budget = splitConnectionBudget(o.connections);
    // One secure context and one session cache for both agents: a replay resumes the first attempt's session.
    const tls = resolveUpstreamTls(options.tls);
    this.#accelerated = this.#makeAgent(o, false, budget.accelerated, tls);
    this.#plain = this.#makeAgent(o, true, budget.replay, tls);
  }

  #makeAgent(o: typeof AGENT_DEFAULTS, plainOnly: boolean, connections: number | null, tls: UpstreamTls): Agent {
    const onFallback = (reason: FallbackReason, target: Endpoint): void => {
      this.events.emit('fallback', { reason, target });
    };
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
        onFallback,
      });
      return new TrackingClient(origin, { ...clientOptions, connect }, state);
    };
    return new Agent({
      keepAliveTimeout: o.keepAliveTimeoutMs,
      headersTimeout: o.headersTimeoutMs,
      bodyTimeout: o.bodyTimeoutMs,
      connectTimeout: o.connectTimeoutMs,
      connections,
      factory: (origin, poolOptions) => new Pool(origin, { ...(poolOptions as Pool.Options), factory: clientFactory }),
    });
  }

  override dispatch(opts: AcceleratedDispatchOptions, handler: ConnectionAwareHandler): boolean {
    return new Exchange(this, this.#accelerated, this.#plain, opts, handler).start();
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const p = Promise.all([this.#accelerated.close(), this.#plain.close()]).then(() => undefined);
    if (callback === undefined) return p;
    void p.then(callback, callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const err = typeof a === 'function' ? null : (a ?? null);
    const callback = typeof a === 'function' ? a : b;
    const p = Promise.all([this.#accelerated.destroy(err), this.#plain.destroy(err)]).then(() => undefined);
    if (callback === undefined) return p;
    void p.then(callback, callback);
  }
}

const RESPONSE_STARTED = new Set(['onHeaders', 'onResponseStart', 'onResponseStarted', 'onUpgrade', 'onRequestUpgrade', 'onData', 'onResponseData']);

/** One request across its attempts (at most two). */
class Exchange {
  #attempt = 0;
  #responded = false;
  #connection: ConnectionOrigin | undefined;
  #target: Endpoint | undefined;
  readonly #wrapped: Dispatcher.DispatchHandler;

  constructor(
    private readonly agent: AcceleratedAgent,
    private readonly accelerated: Agent,
    private readonly plain: Agent,
    private readonly opts: AcceleratedDispatchOptions,
    private readonly handler: ConnectionAwareHandler,
  ) {
    // Forward every callback as is (old- or new-style handler alike); watch the ones
    // that say a response started, and hold back an error that will be retried.
    this.#wrapped = new Proxy(handler, {
      get: (t, prop) => {
        const value = Reflect.get(t, prop, t) as unknown;
        // undici calls onResponseStarted on the first byte of a status line (even an interim
        // or malformed one): a response began, so the request must never be replayed, whether
        // or not the handler itself listens.
        if (prop === 'onResponseStarted' && typeof value !== 'function') return () => void (this.#responded = true);
        if (typeof value !== 'function') return value;
        const fn = value as (...args: unknown[]) => unknown;
        if (typeof prop === 'string' && RESPONSE_STARTED.has(prop)) {
          return (...args: unknown[]) => {
            this.#responded = true;
            return fn.apply(t, args);
          };
        }
        if (prop === 'onError') return (err: Error) => (this.#retried(err) ? undefined : fn.call(t, err));
        if (prop === 'onResponseError') {
          return (controller: unknown, err: Error) => (this.#retried(err) ? undefined : fn.call(t, controller, err));
        }
        return fn.bind(t);
      },
    });
  }

  start(): boolean {
    return this.#dispatchOn(this.accelerated);
  }

  #dispatchOn(dispatcher: Agent): boolean {
    const attempt = ++this.#attempt;
    this.#responded = false;
    this.#connection = undefined;
    this.#target = undefined;
    const body = this.opts.body instanceof ReplayableBody ? this.opts.body.openAttempt() : this.opts.body;
    const observer: ConnectionObserver = (connection, target) => {
      if (attempt !== this.#attempt) return;
      this.#connection = connection;
      this.#target = target;
      this.agent.events.emit('connection', { origin: String(this.opts.origin), connection, target, attempt });
      this.handler.onConnection?.(connection, attempt);
    };
    const opts = { ...this.opts, body, [kConnectionObserver]: observer } as Dispatcher.DispatchOptions;
    return dispatcher.dispatch(opts, this.#wrapped);
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

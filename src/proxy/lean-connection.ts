import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { errors, util, type Dispatcher } from 'undici';
import { HTTPParser, PARSE_BODY, releaseResponseParser, SKIP_BODY, takeResponseParser, type NativeParser } from './lean-parser.js';
import type { ClientSocketState } from './tracking-client.js';

/** undici's margin below a server's `Keep-Alive: timeout=N`: the server may close at N (client.js, 2 s). */
const KEEP_ALIVE_THRESHOLD_MS = 2_000;
/** undici's ceiling on a server-announced keep-alive (keepAliveMaxTimeout). */
const KEEP_ALIVE_MAX_MS = 600_000;
const KEEP_ALIVE_HINT = /timeout=(\d+)/;

/**
 * One request on a lean connection, and its controller (the object undici's new
 * handler API hands back with every callback): one allocation per request.
 */
export class LeanExchange implements Dispatcher.DispatchController {
  readonly handler: Dispatcher.DispatchHandler;
  readonly head: string;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  /** The dispatcher's tracked request (the agent's Exchange), told which socket it went out on. */
  readonly tracked: { clientState: ClientSocketState | undefined } | undefined;
  connection: LeanConnection | undefined;
  /** A byte of a response arrived (no replay after it). */
  responded = false;
  /** The final (≥ 200) head arrived; until then 1xx heads may come. */
  final = false;
  /** onResponseEnd or onResponseError was called. */
  settled = false;
  #aborted = false;
  #paused = false;
  #reason: Error | null = null;
  /** Set by the pool while the request waits for a connection. */
  onAbortQueued: ((ex: LeanExchange) => void) | undefined;

  constructor(
    handler: Dispatcher.DispatchHandler,
    head: string,
    headersTimeoutMs: number,
    bodyTimeoutMs: number,
    tracked: { clientState: ClientSocketState | undefined } | undefined,
  ) {
    this.handler = handler;
    this.head = head;
    this.headersTimeoutMs = headersTimeoutMs;
    this.bodyTimeoutMs = bodyTimeoutMs;
    this.tracked = tracked;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get reason(): Error | null {
    return this.#reason;
  }

  abort(reason: Error): void {
    if (this.#aborted || this.settled) return;
    this.#aborted = true;
    this.#reason = reason;
    // As undici does: the connection the request was written on is given up with it.
    if (this.connection !== undefined) this.connection.fail(reason);
    else this.onAbortQueued?.(this);
  }

  /** Only while the request runs: after it the connection may be carrying another one. */
  pause(): void {
    this.#paused = true;
    if (!this.settled) this.connection?.socket.pause();
  }

  resume(): void {
    this.#paused = false;
    if (!this.settled) this.connection?.socket.resume();
  }

  /** Ends the request with an error, once. */
  error(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.handler.onResponseError?.(this, err);
  }
}

export interface LeanConnectionOwner {
  /** The response ended and the connection may carry another request. */
  released(connection: LeanConnection): void;
  /** The connection is gone (it is not to be used again). */
  closed(connection: LeanConnection): void;
}

type HeadersCompleteFn = (
  versionMajor: number, versionMinor: number, headers: string[] | undefined, method: unknown, url: unknown,
  statusCode: number, statusMessage: string, upgrade: boolean, shouldKeepAlive: boolean,
) => number;

/**
 * One upstream connection for the lean exchange: the socket, Node's native HTTP/1
 * parser, and at most one request at a time (no pipelining, as undici's default).
 * Callbacks reach the handler in undici's order (onRequestStart, onResponseStarted,
 * onResponseStart for each 1xx and the final head, onResponseData, onResponseEnd or
 * onResponseError), with undici's error classes, so the agent's retry rules and the
 * proxy's error mapping read them unchanged.
 */
export class LeanConnection {
  readonly socket: Socket;
  /** Shared with tracked requests: which socket they went out on. */
  readonly state: ClientSocketState;
  readonly #owner: LeanConnectionOwner;
  /** Set with the socket's listeners, once the first request is written (#listen). */
  #parser: NativeParser | undefined;
  #exchange: LeanExchange | undefined;
  /** Headers llhttp handed over before the head was complete (a head split across reads), or trailers. */
  #partial: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** What the armed timer is for, and its length. */
  #timerKind: TimeoutKind = HEADERS_TIMEOUT;
  #timerMs = 0;
  /** The last response allowed another request on this connection. */
  #keepAlive = false;
  /** Set by a completed response inside execute(); acted on once execute() returns (llhttp is not re-entrant). */
  #completed = false;
  /** Bytes came that no request asked for: the connection is not reused. */
  #tainted = false;
  #closed = false;
  /** How long it may stay idle: the agent's default, or less when the server said so. */
  idleTimeoutMs: number;

  constructor(socket: Socket, owner: LeanConnectionOwner, idleTimeoutMs: number) {
    this.socket = socket;
    this.state = { socket };
    this.#owner = owner;
    this.idleTimeoutMs = idleTimeoutMs;
  }

  /**
   * The parser and the socket's listeners. Set after the first request's write, not
   * before: a socket event or a response byte comes on a later turn at the earliest, so
   * nothing is missed, and a new connection's request leaves without waiting for them
   * (docs/own-time.md, stop 27). Before returning, send() always calls it; a connection
   * that goes idle without a request (its request was given up while it was being made)
   * is given them by its pool first. Idempotent.
   */
  listen(): void {
    if (this.#parser !== undefined) return;
    const parser = takeResponseParser();
    parser[HTTPParser!.kOnHeaders] = this.#onHeaders;
    parser[HTTPParser!.kOnHeadersComplete] = this.#onHeadersComplete;
    parser[HTTPParser!.kOnBody] = this.#onBody;
    parser[HTTPParser!.kOnMessageComplete] = this.#onMessageComplete;
    this.#parser = parser;
    const { socket } = this;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
  }

  /** Writes `ex` on this (idle or new) connection. */
  send(ex: LeanExchange): void {
    this.#exchange = ex;
    ex.connection = this;
    this.#keepAlive = false;
    if (ex.tracked !== undefined) ex.tracked.clientState = this.state;
    ex.handler.onRequestStart?.(ex, NO_CONTEXT);
    // The handler may have aborted at once (its client already gone): the connection went with it.
    if (ex.aborted || this.#closed) {
      this.listen();
      return;
    }
    this.socket.write(ex.head, 'latin1');
    // The timer too: it is armed ~10 µs later than the head is written, and the head leaves sooner.
    this.listen();
    this.#arm(ex.headersTimeoutMs, HEADERS_TIMEOUT);
  }

  /** Ends the current request with `err` and gives the connection up. */
  fail(err: Error): void {
    const ex = this.#exchange;
    this.#exchange = undefined;
    this.#disarm();
    this.destroy();
    ex?.error(err);
  }

  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
    this.#release();
  }

  #release(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#disarm();
    this.#owner.closed(this);
  }

  /**
   * Arms the timer for `kind`. The body timer follows the headers timer on every
   * response, both 30 s by default: the same length restarts the armed timer
   * (refresh) instead of clearing it and making another, which also removes and
   * re-creates Node's list for that length when it held only this timer.
   */
  #arm(ms: number, kind: TimeoutKind): void {
    this.#timerKind = kind;
    const timer = this.#timer;
    if (timer !== undefined && ms === this.#timerMs) {
      timer.refresh();
      return;
    }
    this.#disarm();
    if (ms <= 0) return;
    this.#timerMs = ms;
    this.#timer = setTimeout(this.#onTimeout, ms);
  }

  #disarm(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  readonly #onTimeout = (): void => {
    const kind = this.#timerKind;
    this.#timer = undefined;
    if (this.#exchange === undefined) return;
    this.fail(kind === HEADERS_TIMEOUT ? new errors.HeadersTimeoutError() : new errors.BodyTimeoutError());
  };

  readonly #onData = (chunk: Buffer): void => {
    const ex = this.#exchange;
    if (ex === undefined) {
      // An idle connection speaking out of turn: nothing can be matched to it.
      this.destroy();
      return;
    }
    if (!ex.responded) {
      ex.responded = true;
      ex.handler.onResponseStarted?.();
    }
    let result: number | Error;
    try {
      result = this.#parser!.execute(chunk);
    } catch (err) {
      // A handler callback threw inside the parser: the exchange cannot go on.
      this.fail(err as Error);
      return;
    }
    if (this.#completed) {
      this.#completed = false;
      if (result instanceof Error || this.#tainted || !this.#keepAlive || this.socket.destroyed) {
        this.destroy();
        return;
      }
      // Paused by the last request's backpressure, whose 'drain' may never come now that it ended:
      // an idle connection must read, to see the server close it, and the next request its answer.
      if (this.socket.isPaused()) this.socket.resume();
      this.#owner.released(this);
      return;
    }
    if (result instanceof Error) this.fail(parseError(result));
  };

  readonly #onEnd = (): void => {
    // A body delimited by the close ends here (finish() completes it).
    if (this.#exchange !== undefined) {
      try {
        this.#parser!.finish();
      } catch (err) {
        this.fail(err as Error);
        return;
      }
    }
    this.#completed = false;
    // Anything still running was cut short: undici's error for it, whatever llhttp thought of the state.
    if (this.#exchange !== undefined) this.fail(new errors.SocketError('other side closed'));
    else this.destroy();
  };

  readonly #onError = (err: Error): void => {
    if (this.#exchange !== undefined) this.fail(err);
    else this.destroy();
  };

  readonly #onClose = (): void => {
    if (this.#exchange !== undefined) this.fail(new errors.SocketError('other side closed'));
    this.#release();
    // Given back here, never in destroy(): that may run inside one of the parser's own callbacks.
    releaseResponseParser(this.#parser!);
  };

  readonly #onHeaders = (headers: string[]): void => {
    for (let i = 0; i < headers.length; i++) this.#partial.push(headers[i] as string);
  };

  readonly #onHeadersComplete: HeadersCompleteFn = (_maj, _min, headers, _method, _url, statusCode, statusMessage, upgrade, shouldKeepAlive) => {
    const raw = headers ?? this.#partial;
    this.#partial = [];
    const ex = this.#exchange;
    if (ex === undefined || ex.final) {
      // A second response to one request: the connection is out of step.
      this.#tainted = true;
      return SKIP_BODY;
    }
    if (upgrade || statusCode === 101) {
      this.fail(new errors.SocketError('bad upgrade'));
      return SKIP_BODY;
    }
    const parsed = util.parseHeaders(raw) as IncomingHttpHeaders;
    if (statusCode < 200) {
      this.#arm(ex.headersTimeoutMs, HEADERS_TIMEOUT);
      ex.handler.onResponseStart?.(ex, statusCode, parsed, statusMessage);
      return SKIP_BODY;
    }
    ex.final = true;
    this.#keepAlive = shouldKeepAlive && this.#keepAliveAllowed(parsed['keep-alive']);
    this.#arm(ex.bodyTimeoutMs, BODY_TIMEOUT);
    ex.handler.onResponseStart?.(ex, statusCode, parsed, statusMessage);
    return PARSE_BODY;
  };

  /** Honours the server's `Keep-Alive: timeout=N` as undici does. */
  #keepAliveAllowed(hint: string | string[] | undefined): boolean {
    if (typeof hint !== 'string') return true;
    const m = KEEP_ALIVE_HINT.exec(hint);
    if (m === null) return true;
    const ms = Math.min(Number(m[1]) * 1000 - KEEP_ALIVE_THRESHOLD_MS, KEEP_ALIVE_MAX_MS);
    if (ms <= 0) return false;
    this.idleTimeoutMs = ms;
    return true;
  }

  readonly #onBody = (chunk: Buffer): void => {
    const ex = this.#exchange;
    if (ex === undefined || ex.settled) return;
    this.#timer?.refresh();
    ex.handler.onResponseData?.(ex, chunk);
  };

  readonly #onMessageComplete = (): void => {
    this.#partial = [];
    const ex = this.#exchange;
    if (ex === undefined || ex.settled) return;
    if (!ex.final) return; // a 1xx head: the final one is still to come
    this.#exchange = undefined;
    this.#disarm();
    this.#completed = true;
    ex.settled = true;
    ex.handler.onResponseEnd?.(ex, {});
  };
}

/** onRequestStart's context: undici passes one; nothing here reads it, so one for all requests. */
const NO_CONTEXT = Object.freeze({});

type TimeoutKind = 1 | 2;
const HEADERS_TIMEOUT: TimeoutKind = 1;
const BODY_TIMEOUT: TimeoutKind = 2;

type ParserErrorClass = new (message: string, code?: string) => Error;

/** llhttp's error (code HPE_*) as undici reports a malformed response: an HTTPParserError with the same code. */
function parseError(err: Error): Error {
  const e = err as Error & { code?: string; reason?: string };
  // undici's constructor adds the HPE_ prefix itself.
  return new (errors.HTTPParserError as unknown as ParserErrorClass)(e.reason ?? e.message, e.code?.replace(/^HPE_/, ''));
}

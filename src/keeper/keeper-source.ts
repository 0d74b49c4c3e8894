// The HTTP worker's side of the keeper protocol: a ConnectionSource whose
// pooled sockets come from the keeper's Unix socket (docs/keeper-protocol.md).
//
// The socket to the keeper is our own fd, not libuv's: libuv's read() would
// drop the SCM_RIGHTS descriptors. One reading loop runs recvmsg on libuv's
// threadpool (koffi `.async`, blocking there), so it holds one of the
// threadpool's threads (UV_THREADPOOL_SIZE, default 4) for as long as the
// source is connected; requests go out with a non-blocking send() on the loop.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { MSG_CMSG_CLOEXEC, MSG_DONTWAIT, MSG_NOSIGNAL, SHUT_RDWR } from '../../native/constants.js';
import { FdReceiver, sendBytes, shutdownSocket, type Received } from '../../native/fd-passing.js';
import { getLibc } from '../../native/libc.js';
import { abortCloseFd, abortOnClose, connectUnixStream } from '../../native/socket-ops.js';
import { InvalidArgumentError, PooledConnectionResetError } from '../errors.js';
import { endpointKey, type Endpoint } from '../handshake/endpoint.js';
import { discardWrappedHeldSocket, openWrappedHeldSocket, wrapHeldSocket } from '../handshake/held-socket.js';
import { RepairedSocket } from '../handshake/repaired-socket.js';
import type { ConnectionSource } from '../proxy/connection-source.js';
import { HeldStock } from './held-stock.js';
import { LineReader } from './line-reader.js';
import { IpcPipeReader, ipcPipeAvailable, type PassedHandle } from './ipc-pipe-reader.js';
import { encodeConnect, encodeDead, encodeHelloRequest, encodeMiss, encodePause, MAX_LINE_BYTES, MAX_ID, MAX_MISS_COUNT, parseReply, type KeeperReply } from './protocol.js';

export interface KeeperConnectionSourceOptions {
  /** The keeper's socket path. */
  readonly path: string;
  /** A request the keeper has not answered after this long is answered undefined (a plain connect): ms. Default 50. */
  readonly requestTimeoutMs?: number;
  /** Reconnect backoff after the keeper went away or refused: first delay, ms. Default 100. */
  readonly reconnectMinMs?: number;
  /** …doubling up to this, ms. Default 2000. */
  readonly reconnectMaxMs?: number;
  /** Longest a connect() to the keeper may block when its backlog is full, ms. Default 100. */
  readonly connectTimeoutMs?: number;
  /** Read replies with recvmsg on libuv's threadpool even where the event-loop reader works (the fallback; tests, benchmarks). */
  readonly threadpoolReceive?: boolean;
  /**
   * Held connections to keep per upstream address (config `heldPerWorker`): asked of the
   * keeper ahead of requests, so a request takes one without a round trip to the keeper.
   * Default 0 (none).
   */
  readonly hold?: number;
  /** Held connections are replaced only while a request for that address came within this long: ms. Default 30 000. */
  readonly holdDemandMs?: number;
}

export const KEEPER_SOURCE_DEFAULTS = {
  requestTimeoutMs: 50,
  reconnectMinMs: 100,
  reconnectMaxMs: 2_000,
  connectTimeoutMs: 100,
} as const;

export interface KeeperConnectionSourceEvents {
  /** The keeper answered hello: what it serves. */
  connected: [{ accelerated: boolean; targets: readonly string[] }];
  /** The connection to the keeper ended (requests are plain connects until it is back). */
  disconnected: [{ reason: string }];
  /** A request timed out; a descriptor arriving later for it is closed ('late'). */
  timeout: [{ target: Endpoint }];
  /**
   * A request connected plainly without asking: the keeper's last ready count for its
   * address, less this worker's asks in flight, left nothing (a burst beyond the pool).
   */
  skipped: [{ target: Endpoint }];
  late: [{ id: number }];
  /** A pooled socket was reset on first use and reported to the keeper. */
  dead: [{ entry: number; target: Endpoint }];
  /**
   * A held connection came from the keeper, was used by a request (reported after the
   * request's turn: the request is written first), or was given up unused (its time ran
   * out, or the source closed).
   */
  held: [{ outcome: 'received' | 'used' | 'discarded'; target: Endpoint }];
}

export interface KeeperSourceStats {
  requests: number;
  served: number;
  /** Answers without a socket, by the keeper's code (POOL_EMPTY, UNKNOWN_TARGET…). */
  refused: Record<string, number>;
  timeouts: number;
  late: number;
  /** acquireAsync answered undefined at once: no keeper connection. */
  offline: number;
  /** acquireAsync answered undefined at once: the keeper's ready count left nothing to ask for (reported as `miss`). */
  skipped: number;
  disconnects: number;
  /** Held connections received, used by a request (counted in `served` too), and given up unused. */
  heldReceived: number;
  heldUsed: number;
  heldDiscarded: number;
}

interface Pending {
  readonly target: Endpoint;
  /** endpointKey(target): what the session's ready and in-flight counts are kept by. */
  readonly key: string;
  /** Undefined for a held connection asked ahead of requests (it goes to the stock). */
  readonly callback: ((socket: Socket | undefined) => void) | undefined;
  /** performance.now() after which the request goes plain. */
  readonly deadline: number;
}

/** Reads per drain: a burst's worth of replies at most, then the poll phase takes over. */
const DRAIN_MAX_READS = 64;

/** One connection to the keeper: its fd, the reading loop's state, the requests in flight. */
interface Session {
  readonly fd: number;
  /** The event-loop reader (Node's IPC pipe), or undefined: recvmsg on the threadpool with `receiver`. */
  pipe: IpcPipeReader | undefined;
  /**
   * recvmsg's C memory: the threadpool loop's (made at connect), or, with the pipe, #drain's
   * non-blocking reads between a turn's requests (made on first use). Never both: one reader at a time.
   */
  receiver: FdReceiver | undefined;
  readonly lines: LineReader;
  /** Descriptors received and not yet claimed by a reply with "fd":true, in arrival order (a bare fd, or libuv's handle of one). */
  readonly fds: Array<number | PassedHandle>;
  /**
   * In the order asked, which is the order answered and the order of deadlines (one timeout
   * for all): one timer for the oldest instead of one per request (a burst made 32 timers).
   */
  readonly pending: Map<number, Pending>;
  /** Of `pending`, the requests' own (with a callback), not held connections asked ahead. */
  asks: number;
  /**
   * The keeper's latest ready count per address (endpoint key), from a reply or a `ready`
   * notice; an address it never counted is absent (ask, as with a keeper that does not count).
   * What is left to ask for is this less `inFlight`: asks the count did not yet reflect.
   */
  readonly ready: Map<string, number>;
  /** Asks (the requests' own and held ones) sent and not answered yet, per endpoint key. */
  readonly inFlight: Map<string, number>;
  expiry: NodeJS.Timeout | undefined;
  drainScheduled: boolean;
  accelerated: boolean;
  helloDone: boolean;
  closing: boolean;
  /** The keeper answered a `hold` with an unheld socket (it cannot hold): no more asking this session. */
  holdUnsupported: boolean;
}

/** A held connection's descriptor and the session it came from (a `dead` report names that keeper's entry). */
interface HeldDescriptor {
  readonly passed: number | PassedHandle;
  readonly session: Session;
  /**
   * The socket around it, made when it arrived rather than when a request takes it (0.06 ms of
   * the handoff after idleness, measured in stop 23). It tells the server nothing: its filter
   * drops the SYN-ACK retransmits, and nothing is written. Undefined when wrapping failed (then at use).
   */
  readonly socket: RepairedSocket | undefined;
}

interface HoldState {
  readonly target: Endpoint;
  /** Hold requests sent and not answered yet. */
  inFlight: number;
  /** performance.now() of the latest request for the address. */
  lastDemand: number;
  /** No hold requests before this (the keeper had nothing ready). */
  retryAt: number;
}

/** After the keeper had nothing to hold for an address, ask again after this long: ms. */
const HOLD_RETRY_MS = 250;

/**
 * A ConnectionSource for an unprivileged HTTP worker: asks the keeper for each
 * new upstream connection (acquireAsync) and falls back to plain connects
 * whenever the keeper is down, slow or has nothing ready. Never forwards
 * addTarget/syncTargets/removeTarget: a worker does not choose what the
 * keeper sends SYNs to (the keeper follows the config and the names itself).
 * They only tell its own held stock which addresses it may keep connections to.
 */
export class KeeperConnectionSource extends EventEmitter<KeeperConnectionSourceEvents> implements ConnectionSource {
  readonly path: string;
  readonly #o: { readonly [K in keyof typeof KEEPER_SOURCE_DEFAULTS]: number };
  #session: Session | undefined;
  #nextId = 1;
  readonly #threadpoolReceive: boolean;
  /** What this worker's passive health has out now, by endpoint key (re-sent to a new keeper). */
  readonly #paused = new Map<string, Endpoint>();
  /** What the keeper last said answers no SYN (cleared with the session: then nothing is known). */
  #unreachable = new Set<string>();
  #retryMs: number;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #started = false;
  #closedWaiters: (() => void)[] = [];
  readonly #stats: KeeperSourceStats = { requests: 0, served: 0, refused: {}, timeouts: 0, late: 0, offline: 0, skipped: 0, disconnects: 0, heldReceived: 0, heldUsed: 0, heldDiscarded: 0 };
  /** Requests sent plainly without asking, per endpoint key: one `miss` line per address after the turn. */
  readonly #misses = new Map<string, { target: Endpoint; count: number }>();
  #missFlushScheduled = false;
  readonly #hold: number;
  readonly #holdDemandMs: number;
  readonly #held: HeldStock<HeldDescriptor>;
  #heldTimer: NodeJS.Timeout | undefined;
  #heldTimerAt = Infinity;
  /** Per endpoint key: hold requests in flight, the latest request (demand), no asking before (after an empty pool). */
  readonly #holding = new Map<string, HoldState>();
  /** Targets to top up after this turn (repeats allowed: #afterTurn takes each once). */
  readonly #topUpTargets: Endpoint[] = [];
  /** Targets a request took a held connection of in this turn: their `held` event and demand come after it. */
  readonly #takenThisTurn: Endpoint[] = [];
  #topUpScheduled = false;
  /** Top-ups put off while requests' own asks were outstanding (a burst): sent when the last is answered. */
  readonly #topUpDeferred = new Map<string, Endpoint>();
  /** Addresses that left this worker's configuration (removeTarget): nothing is held or asked ahead for them. */
  readonly #gone = new Set<string>();

  constructor(options: KeeperConnectionSourceOptions) {
    super();
    if (typeof options.path !== 'string' || options.path.length === 0) throw new InvalidArgumentError('KeeperConnectionSource: path is required');
    this.#threadpoolReceive = options.threadpoolReceive === true;
    const o = { ...KEEPER_SOURCE_DEFAULTS, ...stripUndefined({ requestTimeoutMs: options.requestTimeoutMs, reconnectMinMs: options.reconnectMinMs, reconnectMaxMs: options.reconnectMaxMs, connectTimeoutMs: options.connectTimeoutMs }) };
    for (const k of Object.keys(KEEPER_SOURCE_DEFAULTS) as (keyof typeof KEEPER_SOURCE_DEFAULTS)[]) {
      if (!Number.isFinite(o[k]) || o[k] <= 0) throw new InvalidArgumentError(`KeeperConnectionSource: ${k} must be a positive number of ms, got ${o[k]}`);
    }
    if (o.reconnectMaxMs < o.reconnectMinMs) throw new InvalidArgumentError('KeeperConnectionSource: reconnectMaxMs must be ≥ reconnectMinMs');
    const hold = options.hold ?? 0;
    if (!Number.isInteger(hold) || hold < 0) throw new InvalidArgumentError(`KeeperConnectionSource: hold must be a whole number ≥ 0, got ${hold}`);
    this.#hold = hold;
    this.#holdDemandMs = options.holdDemandMs ?? 30_000;
    this.#held = new HeldStock<HeldDescriptor>(
      () => performance.now(),
      (held) => {
        this.#stats.heldDiscarded += 1;
        discardHeld(held.descriptor);
        this.emit('held', { outcome: 'discarded', target: held.target });
      },
    );
    this.path = options.path;
    this.#o = o;
    this.#retryMs = o.reconnectMinMs;
  }

  /** True while connected to a keeper that said, in its hello reply, that it is accelerated. */
  get accelerated(): boolean {
    const s = this.#session;
    return s !== undefined && !s.closing && s.accelerated;
  }

  /** Connects to the keeper (and keeps reconnecting). Idempotent; the constructor does not connect. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#connect();
  }

  /** False for an address the keeper's pool finds unreachable (a name's other addresses take its requests). */
  reachable(target: Endpoint): boolean {
    return !this.#unreachable.has(endpointKey(target));
  }

  /** The worker routes to `target` (again): held connections may be kept for it. */
  addTarget(target: Endpoint): void {
    this.#gone.delete(endpointKey(target));
  }

  /**
   * The worker routes nothing to `target` any more (a reload, or its name stopped resolving to
   * it): the connections held for it are given up now (RSTs, so the server drops its SYN_RECV
   * entries at once rather than retransmitting to a proxy that will never use them), and none is
   * asked for or kept from here; one already asked for is given up when it arrives.
   */
  removeTarget(target: Endpoint): void {
    const key = endpointKey(target);
    this.#gone.add(key);
    this.#topUpDeferred.delete(key);
    const h = this.#holding.get(key);
    if (h !== undefined) h.lastDemand = -Infinity;
    this.#held.discardTarget(target);
  }

  /** `release`: every address not in `wanted` is removed (removeTarget); those in it are added. */
  syncTargets(wanted: ReadonlyMap<string, { readonly target: Endpoint }>, release: boolean): void {
    for (const { target } of wanted.values()) this.addTarget(target);
    if (!release) return;
    const known = new Map<string, Endpoint>();
    for (const h of this.#holding.values()) known.set(endpointKey(h.target), h.target);
    for (const t of this.#held.targets()) known.set(endpointKey(t), t);
    for (const [key, target] of known) if (!wanted.has(key)) this.removeTarget(target);
  }

  /**
   * This worker's passive health has `target`'s server out (or back): the keeper sends it
   * no SYN while any of its clients says so. Said again after a reconnect.
   */
  pauseTarget(target: Endpoint, paused: boolean): void {
    const key = endpointKey(target);
    if (paused) this.#paused.set(key, target);
    else this.#paused.delete(key);
    const s = this.#session;
    if (s !== undefined && s.helloDone && !s.closing) this.#sendPause(s, target, paused);
  }

  #sendPause(s: Session, target: Endpoint, paused: boolean): void {
    try {
      sendBytes(s.fd, encodePause(target.address, target.port, paused), MSG_DONTWAIT | MSG_NOSIGNAL);
    } catch {
      // The keeper is gone or not reading: the next session says it again.
    }
  }

  /**
   * A held connection to `target`, opened, when this worker's stock has one; otherwise undefined,
   * and only acquireAsync asks the keeper. Synchronous, for a caller that takes a connection within
   * its own turn (the lean pool): a held connection needs no reply, so it need not wait a tick.
   */
  acquire(target: Endpoint): Socket | undefined {
    if (this.#hold === 0) return undefined;
    const socket = this.#useHeld(target);
    if (socket === undefined) return undefined;
    this.#stats.requests += 1;
    // Its event and its demand are noted after this turn, with the top-up: the request is written first.
    this.#takenThisTurn.push(target);
    this.#topUpLater(target);
    return socket;
  }

  /**
   * Asks the keeper for a connection to `target`; `callback` gets the socket, or
   * undefined (keeper down, slow, refused or empty: connect plainly). Always
   * called asynchronously, exactly once.
   */
  acquireAsync(target: Endpoint, callback: (socket: Socket | undefined) => void): void {
    const held = this.acquire(target);
    if (held !== undefined) {
      process.nextTick(callback, held);
      return;
    }
    this.#stats.requests += 1;
    if (this.#hold > 0) this.#holdState(target).lastDemand = performance.now();
    const s = this.#session;
    if (s === undefined || s.closing || !s.helloDone) {
      this.#stats.offline += 1;
      process.nextTick(callback, undefined);
      return;
    }
    const key = endpointKey(target);
    if (this.#left(s, key) <= 0) {
      // A burst beyond the pool: waiting for the keeper's refusal would put this request's SYN
      // behind the handoffs of the ones before it. The pool still counts it, as a miss.
      this.#stats.skipped += 1;
      this.#missLater(target, key);
      this.emit('skipped', { target });
      process.nextTick(callback, undefined);
      return;
    }
    const id = this.#nextId;
    this.#nextId = this.#nextId >= MAX_ID ? 1 : this.#nextId + 1;
    const bytes = encodeConnect(id, target.address, target.port);
    let sent = -1;
    try {
      sent = sendBytes(s.fd, bytes, MSG_DONTWAIT | MSG_NOSIGNAL);
    } catch {
      // EAGAIN: the keeper does not read; EPIPE: it is gone. Either way, this request goes plain.
    }
    if (sent !== bytes.length) {
      this.#stats.offline += 1;
      // A short write leaves half a request in the stream: nothing after it can be trusted.
      if (sent >= 0) this.#end(s, 'short write to the keeper');
      process.nextTick(callback, undefined);
      return;
    }
    this.#track(s, id, target, key, callback);
    this.#topUpLater(target);
  }

  /**
   * What the keeper's latest ready count for `target`, less this worker's asks in flight,
   * leaves to ask for; undefined when it has not counted that address (every request asks).
   * At 0 or below, acquireAsync answers undefined at once (the request connects plainly).
   */
  readyLeft(target: Endpoint): number | undefined {
    const s = this.#session;
    if (s === undefined || s.closing) return undefined;
    const left = this.#left(s, endpointKey(target));
    return left === Infinity ? undefined : left;
  }

  /** What the keeper's latest count leaves to ask for `key`: Infinity when it never counted it. */
  #left(s: Session, key: string): number {
    const told = s.ready.get(key);
    return told === undefined ? Infinity : told - (s.inFlight.get(key) ?? 0);
  }

  #missLater(target: Endpoint, key: string): void {
    const m = this.#misses.get(key);
    if (m === undefined) this.#misses.set(key, { target, count: 1 });
    else m.count = Math.min(MAX_MISS_COUNT, m.count + 1);
    if (this.#missFlushScheduled) return;
    this.#missFlushScheduled = true;
    // After the turn: the burst's SYNs first, then one line per address.
    setImmediate(this.#flushMisses);
  }

  readonly #flushMisses = (): void => {
    this.#missFlushScheduled = false;
    const s = this.#session;
    const misses = [...this.#misses.values()];
    this.#misses.clear();
    if (s === undefined || s.closing || !s.helloDone) return;
    for (const m of misses) {
      try {
        sendBytes(s.fd, encodeMiss(m.target.address, m.target.port, m.count), MSG_DONTWAIT | MSG_NOSIGNAL);
      } catch {
        return; // the keeper does not read now: the count is lost, nothing else
      }
    }
  };

  /**
   * #topUp after this turn: its send wakes the keeper, which on a busy machine can take
   * the CPU from this worker before the request that took a held connection has been
   * written. One pass for all the turn's requests.
   */
  #topUpLater(target: Endpoint): void {
    if (this.#hold === 0) return;
    this.#topUpTargets.push(target);
    if (this.#topUpScheduled) return;
    this.#topUpScheduled = true;
    setImmediate(this.#afterTurn);
  }

  readonly #afterTurn = (): void => {
    this.#topUpScheduled = false;
    const now = performance.now();
    for (const target of this.#takenThisTurn.splice(0)) {
      this.#holdState(target).lastDemand = now;
      this.emit('held', { outcome: 'used', target });
    }
    const done = new Set<string>();
    for (const target of this.#topUpTargets.splice(0)) {
      const key = endpointKey(target);
      if (done.has(key)) continue;
      done.add(key);
      this.#topUp(target);
    }
  };

  #track(s: Session, id: number, target: Endpoint, key: string, callback: Pending['callback']): void {
    s.pending.set(id, { target, key, callback, deadline: performance.now() + this.#o.requestTimeoutMs });
    s.inFlight.set(key, (s.inFlight.get(key) ?? 0) + 1);
    if (callback !== undefined) s.asks += 1;
    if (s.expiry === undefined) this.#armExpiry(s, this.#o.requestTimeoutMs);
    if (s.pipe !== undefined && s.pending.size > 1 && !s.drainScheduled) {
      s.drainScheduled = true;
      process.nextTick(() => this.#drain(s));
    }
  }

  #holdState(target: Endpoint): HoldState {
    const key = endpointKey(target);
    let h = this.#holding.get(key);
    if (h === undefined) this.#holding.set(key, (h = { target, inFlight: 0, lastDemand: -Infinity, retryAt: 0 }));
    return h;
  }

  /** A held connection to `target` opened and wrapped, or undefined (none usable). */
  #useHeld(target: Endpoint): Socket | undefined {
    for (let held = this.#held.take(target); held !== undefined; held = this.#held.take(target)) {
      const { passed } = held.descriptor;
      let socket = held.descriptor.socket;
      // Wrapped (and watched) when it arrived, unless wrapping failed then.
      const late = socket === undefined;
      try {
        // Closed while held (its fd may be another socket's now): not usable, nothing to give up.
        if (socket?.destroyed === true) throw new Error('held socket closed');
        socket ??= wrapHeldSocket(passed, target, held.entry);
        openWrappedHeldSocket(socket);
      } catch {
        this.#stats.heldDiscarded += 1;
        if (socket === undefined) discardPassed(passed);
        else discardWrappedHeldSocket(socket);
        this.emit('held', { outcome: 'discarded', target });
        continue;
      }
      if (late) this.#watchFirstUse(held.descriptor.session, socket, held.entry, target);
      this.#stats.served += 1;
      this.#stats.heldUsed += 1;
      return socket;
    }
    return undefined;
  }

  /**
   * Asks the keeper for held connections until `hold` are kept or in flight for `target`,
   * while requests for it keep coming (holdDemandMs): an idle worker stops replacing
   * them, and pays no SYNs for connections nobody asks for.
   */
  #topUp(target: Endpoint): void {
    if (this.#hold === 0 || this.#closed) return;
    const key = endpointKey(target);
    if (this.#gone.has(key)) return;
    const s = this.#session;
    if (s === undefined || s.closing || !s.helloDone || !s.accelerated || s.holdUnsupported) return;
    // While requests wait on their own asks (a burst), replacements would compete with them for
    // the keeper and for the pool's entries (measured: keeper timeouts in bursts): later.
    if (s.asks > 0) {
      this.#topUpDeferred.set(key, target);
      return;
    }
    const h = this.#holdState(target);
    const now = performance.now();
    if (now - h.lastDemand > this.#holdDemandMs || now < h.retryAt) return;
    // Not more than the keeper said it has: the rest would be refused (a rise is told, and tops up).
    const want = Math.min(this.#hold - this.#held.count(target) - h.inFlight, this.#left(s, key));
    for (let i = 0; i < want; i++) {
      const id = this.#nextId;
      this.#nextId = this.#nextId >= MAX_ID ? 1 : this.#nextId + 1;
      const bytes = encodeConnect(id, target.address, target.port, true);
      let sent = -1;
      try {
        sent = sendBytes(s.fd, bytes, MSG_DONTWAIT | MSG_NOSIGNAL);
      } catch {
        return; // the keeper does not read now: the next request asks again
      }
      if (sent !== bytes.length) {
        this.#end(s, 'short write to the keeper');
        return;
      }
      h.inFlight += 1;
      this.#track(s, id, target, key, undefined);
    }
  }

  /**
   * Expired held connections are discarded when their time runs out, and replaced while
   * there is demand. One timer, for the earliest deadline; it is moved only when a new one
   * is earlier (a take leaves it: firing early finds nothing and re-arms).
   */
  #armHeldTimer(until: number): void {
    if (this.#heldTimer !== undefined && this.#heldTimerAt <= until) return;
    clearTimeout(this.#heldTimer);
    this.#heldTimerAt = until;
    this.#heldTimer = setTimeout(() => {
      this.#heldTimer = undefined;
      const next = this.#held.expire();
      for (const h of this.#holding.values()) this.#topUp(h.target);
      if (Number.isFinite(next)) this.#armHeldTimer(next);
    }, Math.max(1, Math.ceil(until - performance.now())));
    this.#heldTimer.unref();
  }

  #armExpiry(s: Session, delayMs: number): void {
    s.expiry = setTimeout(() => this.#expire(s), Math.ceil(delayMs));
    s.expiry.unref();
  }

  /** The requests past their deadline go plain; the timer moves on to the oldest left (replies removed the others). */
  #expire(s: Session): void {
    s.expiry = undefined;
    if (s.closing) return;
    const now = performance.now();
    const expired: Pending[] = [];
    for (const [id, p] of s.pending) {
      if (p.deadline > now) {
        this.#armExpiry(s, p.deadline - now);
        break;
      }
      this.#settle(s, id, p);
      expired.push(p);
    }
    for (const p of expired) {
      if (p.callback === undefined) {
        this.#holdAnswered(p.target);
        continue;
      }
      this.#stats.timeouts += 1;
      this.emit('timeout', { target: p.target });
      p.callback(undefined);
    }
  }

  /** Removes an answered (or given up) request; the last of the requests' own asks lets deferred top-ups go. */
  #settle(s: Session, id: number, p: Pending): void {
    s.pending.delete(id);
    const n = (s.inFlight.get(p.key) ?? 0) - 1;
    if (n > 0) s.inFlight.set(p.key, n);
    else s.inFlight.delete(p.key);
    if (p.callback === undefined) return;
    s.asks -= 1;
    if (s.asks > 0 || this.#topUpDeferred.size === 0 || s.closing) return;
    for (const t of this.#topUpDeferred.values()) this.#topUpLater(t);
    this.#topUpDeferred.clear();
  }

  /** A hold request was answered (or given up on): one fewer in flight. */
  #holdAnswered(target: Endpoint): void {
    const h = this.#holding.get(endpointKey(target));
    if (h !== undefined && h.inFlight > 0) h.inFlight -= 1;
  }

  /**
   * Reads the replies that are already in, without waiting for the next poll phase.
   * A burst's requests arrive in one poll phase, and libuv reads the keeper's replies
   * only in the next one: every request of the burst was parsed before the first
   * went upstream (32 at once: ~25 ms before the first pooled request left). Draining
   * after each request lets the reply to request k, which the keeper sent while the
   * worker parsed k + 1, go out at once, as the in-process handoff did. Only with
   * earlier requests outstanding: a lone request has nothing to find. The reads are
   * sequential with libuv's on this thread, so lines and descriptors stay in order
   * whichever of the two reads them (libuv meets EAGAIN where this took the bytes).
   */
  #drain(s: Session): void {
    s.drainScheduled = false;
    if (s.closing || s.pipe === undefined) return;
    s.receiver ??= new FdReceiver(8_192, 4);
    for (let reads = 0; reads < DRAIN_MAX_READS && s.pending.size > 0 && !s.closing; reads++) {
      let r: Received | undefined;
      try {
        r = s.receiver.recvNow(s.fd, MSG_CMSG_CLOEXEC);
      } catch {
        return; // an error is libuv's to report
      }
      if (r === undefined) return; // nothing more yet
      if (r.bytes.length === 0) {
        for (const fd of r.fds) getLibc().close(fd);
        return; // end of stream: libuv reads it too and ends the session
      }
      this.#onReceived(s, r);
    }
  }

  stats(): KeeperSourceStats {
    return { ...this.#stats, refused: { ...this.#stats.refused } };
  }

  /** Stops reconnecting and disconnects; resolves once the reading loop has ended and its fd is closed. */
  close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#heldTimer);
    this.#heldTimer = undefined;
    this.#held.clear();
    const s = this.#session;
    if (s === undefined) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.#closedWaiters.push(resolve));
    this.#end(s, 'closed');
    return done;
  }

  #connect(): void {
    this.#retryTimer = undefined;
    if (this.#closed) return;
    let fd: number;
    try {
      fd = connectUnixStream(this.path, this.#o.connectTimeoutMs);
    } catch {
      this.#scheduleReconnect();
      return;
    }
    const onLoop = !this.#threadpoolReceive && ipcPipeAvailable();
    const s: Session = {
      fd,
      pipe: undefined,
      receiver: onLoop ? undefined : new FdReceiver(65_536, 16),
      lines: new LineReader(MAX_LINE_BYTES),
      fds: [],
      pending: new Map(),
      asks: 0,
      ready: new Map(),
      inFlight: new Map(),
      expiry: undefined,
      drainScheduled: false,
      accelerated: false,
      helloDone: false,
      closing: false,
      holdUnsupported: false,
    };
    this.#session = s;
    if (onLoop) {
      try {
        s.pipe = new IpcPipeReader(fd, (bytes, handle) => this.#onReceived(s, { bytes, fds: handle === undefined ? [] : [handle], truncated: false }), (reason) => void this.#finish(s, reason));
      } catch {
        getLibc().close(fd);
        this.#session = undefined;
        this.#scheduleReconnect();
        return;
      }
    } else {
      this.#read(s);
    }
    try {
      sendBytes(fd, encodeHelloRequest(undefined, true), MSG_DONTWAIT | MSG_NOSIGNAL);
    } catch {
      this.#end(s, 'hello could not be sent');
    }
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#retryTimer !== undefined) return;
    const delay = this.#retryMs;
    this.#retryMs = Math.min(this.#o.reconnectMaxMs, this.#retryMs * 2);
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
    // The reconnect loop alone must not keep a process alive.
    this.#retryTimer.unref();
  }

  #read(s: Session): void {
    s.receiver!.recvAsync(s.fd, MSG_CMSG_CLOEXEC, (err, received) => {
      if (err !== undefined || received === undefined || received.bytes.length === 0) {
        if (received !== undefined) for (const fd of received.fds) getLibc().close(fd);
        this.#finish(s, err === undefined ? 'the keeper closed the connection' : err.message);
        return;
      }
      this.#onReceived(s, received);
      this.#read(s);
    });
  }

  #onReceived(s: Session, r: { readonly bytes: Buffer; readonly fds: ReadonlyArray<number | PassedHandle>; readonly truncated: boolean }): void {
    s.fds.push(...r.fds);
    if (s.closing) return;
    if (r.truncated) {
      this.#end(s, 'descriptors truncated (MSG_CTRUNC)');
      return;
    }
    let lines: string[];
    try {
      lines = s.lines.push(r.bytes);
    } catch {
      this.#end(s, 'reply line too long');
      return;
    }
    for (const line of lines) {
      if (s.closing) return;
      if (line.length === 0) continue;
      const reply = parseReply(line);
      if (reply === undefined) {
        this.#end(s, `unreadable reply from the keeper: ${line.slice(0, 200)}`);
        return;
      }
      this.#onReply(s, reply);
    }
  }

  #onReply(s: Session, reply: KeeperReply): void {
    switch (reply.kind) {
      case 'hello':
        s.helloDone = true;
        s.accelerated = reply.accelerated && reply.versions.includes(1);
        this.#retryMs = this.#o.reconnectMinMs;
        for (const target of this.#paused.values()) this.#sendPause(s, target, true);
        this.emit('connected', { accelerated: s.accelerated, targets: reply.targets });
        return;
      case 'unreachable':
        this.#unreachable = new Set(reply.targets);
        return;
      case 'ready':
        for (const [key, n] of reply.targets) {
          s.ready.set(key, n);
          // Held connections put off for want of ready ones: asked for now.
          const h = this.#holding.get(key);
          if (n > 0 && h !== undefined) this.#topUpLater(h.target);
        }
        return;
      case 'failed': {
        if (reply.id === null) return;
        const p = s.pending.get(reply.id);
        if (p === undefined) return;
        this.#settle(s, reply.id, p);
        if (reply.ready !== undefined) s.ready.set(p.key, reply.ready);
        this.#stats.refused[reply.code] = (this.#stats.refused[reply.code] ?? 0) + 1;
        if (p.callback === undefined) {
          this.#holdAnswered(p.target);
          this.#holdState(p.target).retryAt = performance.now() + HOLD_RETRY_MS;
          return;
        }
        p.callback(undefined);
        return;
      }
      case 'connected': {
        const fd = s.fds.shift();
        if (fd === undefined) {
          this.#end(s, 'a reply with "fd":true arrived without a descriptor');
          return;
        }
        const p = s.pending.get(reply.id);
        if (p === undefined) {
          // Timed out already: the request went plain. Nothing was sent on it: an aborting close
          // (a RST) lets the server drop its entry without its application seeing anything.
          discardPassed(fd);
          this.#stats.late += 1;
          this.emit('late', { id: reply.id });
          return;
        }
        this.#settle(s, reply.id, p);
        if (reply.ready !== undefined) s.ready.set(p.key, reply.ready);
        const target = { address: reply.address, port: reply.port };
        if (p.callback === undefined) {
          this.#holdAnswered(p.target);
          // Kept under the endpoint asked for: that is what the next request looks it up by.
          this.#stock(s, fd, reply.entry, p.target, reply.holdMs);
          return;
        }
        let socket: RepairedSocket;
        try {
          socket = new RepairedSocket(fd, target, reply.entry);
        } catch {
          discardPassed(fd);
          p.callback(undefined);
          return;
        }
        socket.setNoDelay(true);
        this.#watchFirstUse(s, socket, reply.entry, target);
        this.#stats.served += 1;
        p.callback(socket);
        return;
      }
    }
  }

  /** A held connection the keeper sent ahead of requests goes to the stock; an unheld one (a keeper that cannot hold) is aborted. */
  #stock(s: Session, passed: number | PassedHandle, entry: number, target: Endpoint, holdMs: number | undefined): void {
    if (holdMs === undefined) {
      s.holdUnsupported = true;
      discardPassed(passed);
      return;
    }
    this.#stats.heldReceived += 1;
    this.emit('held', { outcome: 'received', target });
    if (this.#closed || this.#gone.has(endpointKey(target))) {
      this.#stats.heldDiscarded += 1;
      discardPassed(passed);
      this.emit('held', { outcome: 'discarded', target });
      return;
    }
    let socket: RepairedSocket | undefined;
    try {
      socket = wrapHeldSocket(passed, target, entry);
    } catch {
      socket = undefined;
    }
    // Watched from here, off the request path (stop 25 timed the watch at 19 µs of a cold
    // request): a reset while held is a dead entry too, and a discard (no error) reports nothing.
    if (socket !== undefined) this.#watchFirstUse(s, socket, entry, target);
    if (this.#held.add({ passed, session: s, socket }, entry, target, holdMs)) this.#armHeldTimer(this.#held.expire());
  }

  /** As PoolManager.watchFirstUse, across the process boundary: a reset on first use becomes a `dead` report. */
  #watchFirstUse(s: Session, socket: Socket, entry: number, target: Endpoint): void {
    const onError = (err: unknown): void => {
      if (!(err instanceof PooledConnectionResetError)) return;
      // Entry ids belong to that keeper connection's pool: after a reconnect the report means nothing.
      if (this.#session !== s || s.closing) return;
      try {
        sendBytes(s.fd, encodeDead(entry), MSG_DONTWAIT | MSG_NOSIGNAL);
        this.emit('dead', { entry, target });
      } catch {
        // The keeper is gone or not reading: the report is lost, the pool learns from its own retransmit evidence.
      }
    };
    socket.on('error', onError);
    socket.once('close', () => socket.off('error', onError));
  }

  /** Begins ending a session: answers its requests now, wakes the reading loop (which closes the fd). */
  #end(s: Session, reason: string): void {
    if (s.closing) return;
    s.closing = true;
    this.#stats.disconnects += 1;
    clearTimeout(s.expiry);
    s.expiry = undefined;
    for (const [id, p] of s.pending) {
      this.#settle(s, id, p);
      if (p.callback === undefined) this.#holdAnswered(p.target);
      else process.nextTick(p.callback, undefined);
    }
    this.#unreachable = new Set();
    this.emit('disconnected', { reason });
    try {
      shutdownSocket(s.fd, SHUT_RDWR);
    } catch {
      // not connected any more: the loop ends on its own
    }
  }

  /** The reading loop ended: nothing uses the fd or the receiver's memory any more. */
  #finish(s: Session, reason: string): void {
    this.#end(s, reason);
    for (const fd of s.fds.splice(0)) discardPassed(fd);
    if (s.pipe !== undefined) void s.pipe.close();
    else getLibc().close(s.fd);
    s.receiver?.free();
    if (this.#session === s) this.#session = undefined;
    if (this.#closed) {
      for (const w of this.#closedWaiters.splice(0)) w();
      return;
    }
    this.#scheduleReconnect();
  }
}

/** A held connection nobody will use, wrapped or not: given up with a RST. */
function discardHeld(held: HeldDescriptor): void {
  if (held.socket === undefined) discardPassed(held.passed);
  else discardWrappedHeldSocket(held.socket);
}

/**
 * A received connection nobody will use (held and unused, late, unclaimed): nothing was
 * sent on it, and an aborting close (a RST) lets the server drop its SYN_RECV entry without
 * its application seeing anything; a plain close's FIN would have its ACK complete the
 * handshake first, and the server accept an empty connection.
 */
function discardPassed(passed: number | PassedHandle): void {
  try {
    if (typeof passed === 'number') abortCloseFd(passed);
    else {
      try {
        abortOnClose(passed.fd);
      } finally {
        passed.close();
      }
    }
  } catch {
    // Already closed: nothing left to give up.
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

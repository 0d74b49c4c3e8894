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
import { connectUnixStream } from '../../native/socket-ops.js';
import { InvalidArgumentError, PooledConnectionResetError } from '../errors.js';
import { endpointKey, type Endpoint } from '../handshake/endpoint.js';
import { RepairedSocket } from '../handshake/repaired-socket.js';
import type { ConnectionSource } from '../proxy/connection-source.js';
import { LineReader } from './line-reader.js';
import { IpcPipeReader, ipcPipeAvailable, type PassedHandle } from './ipc-pipe-reader.js';
import { encodeConnect, encodeDead, encodeHelloRequest, encodePause, MAX_LINE_BYTES, MAX_ID, parseReply, type KeeperReply } from './protocol.js';

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
  late: [{ id: number }];
  /** A pooled socket was reset on first use and reported to the keeper. */
  dead: [{ entry: number; target: Endpoint }];
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
  disconnects: number;
}

interface Pending {
  readonly target: Endpoint;
  readonly callback: (socket: Socket | undefined) => void;
  readonly timer: NodeJS.Timeout;
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
  readonly pending: Map<number, Pending>;
  drainScheduled: boolean;
  accelerated: boolean;
  helloDone: boolean;
  closing: boolean;
}

/**
 * A ConnectionSource for an unprivileged HTTP worker: asks the keeper for each
 * new upstream connection (acquireAsync) and falls back to plain connects
 * whenever the keeper is down, slow or has nothing ready. Never forwards
 * addTarget/syncTargets/removeTarget: a worker does not choose what the
 * keeper sends SYNs to.
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
  readonly #stats: KeeperSourceStats = { requests: 0, served: 0, refused: {}, timeouts: 0, late: 0, offline: 0, disconnects: 0 };

  constructor(options: KeeperConnectionSourceOptions) {
    super();
    if (typeof options.path !== 'string' || options.path.length === 0) throw new InvalidArgumentError('KeeperConnectionSource: path is required');
    this.#threadpoolReceive = options.threadpoolReceive === true;
    const o = { ...KEEPER_SOURCE_DEFAULTS, ...stripUndefined({ requestTimeoutMs: options.requestTimeoutMs, reconnectMinMs: options.reconnectMinMs, reconnectMaxMs: options.reconnectMaxMs, connectTimeoutMs: options.connectTimeoutMs }) };
    for (const k of Object.keys(KEEPER_SOURCE_DEFAULTS) as (keyof typeof KEEPER_SOURCE_DEFAULTS)[]) {
      if (!Number.isFinite(o[k]) || o[k] <= 0) throw new InvalidArgumentError(`KeeperConnectionSource: ${k} must be a positive number of ms, got ${o[k]}`);
    }
    if (o.reconnectMaxMs < o.reconnectMinMs) throw new InvalidArgumentError('KeeperConnectionSource: reconnectMaxMs must be ≥ reconnectMinMs');
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

  /** Synchronous acquire never has a socket: the keeper answers asynchronously (see acquireAsync). */
  acquire(): Socket | undefined {
    return undefined;
  }

  /**
   * Asks the keeper for a connection to `target`; `callback` gets the socket, or
   * undefined (keeper down, slow, refused or empty: connect plainly). Always
   * called asynchronously, exactly once.
   */
  acquireAsync(target: Endpoint, callback: (socket: Socket | undefined) => void): void {
    this.#stats.requests += 1;
    const s = this.#session;
    if (s === undefined || s.closing || !s.helloDone) {
      this.#stats.offline += 1;
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
    const timer = setTimeout(() => {
      if (s.pending.delete(id)) {
        this.#stats.timeouts += 1;
        this.emit('timeout', { target });
        callback(undefined);
      }
    }, this.#o.requestTimeoutMs);
    timer.unref();
    s.pending.set(id, { target, callback, timer });
    if (s.pipe !== undefined && s.pending.size > 1 && !s.drainScheduled) {
      s.drainScheduled = true;
      process.nextTick(() => this.#drain(s));
    }
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
      let r: Received;
      try {
        r = s.receiver.recv(s.fd, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      } catch {
        return; // EAGAIN: nothing more yet; an error is libuv's to report
      }
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
      drainScheduled: false,
      accelerated: false,
      helloDone: false,
      closing: false,
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
      case 'failed': {
        if (reply.id === null) return;
        const p = s.pending.get(reply.id);
        if (p === undefined) return;
        s.pending.delete(reply.id);
        clearTimeout(p.timer);
        this.#stats.refused[reply.code] = (this.#stats.refused[reply.code] ?? 0) + 1;
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
          // Timed out already: the request went plain. Closing our only reference ends the connection.
          closePassed(fd);
          this.#stats.late += 1;
          this.emit('late', { id: reply.id });
          return;
        }
        s.pending.delete(reply.id);
        clearTimeout(p.timer);
        const target = { address: reply.address, port: reply.port };
        let socket: RepairedSocket;
        try {
          socket = new RepairedSocket(fd, target, reply.entry);
        } catch {
          closePassed(fd);
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
    for (const [id, p] of s.pending) {
      s.pending.delete(id);
      clearTimeout(p.timer);
      process.nextTick(p.callback, undefined);
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
    for (const fd of s.fds.splice(0)) closePassed(fd);
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

/** A received descriptor nobody claimed: closing our only reference ends that connection. */
function closePassed(passed: number | PassedHandle): void {
  if (typeof passed === 'number') getLibc().close(passed);
  else passed.close();
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

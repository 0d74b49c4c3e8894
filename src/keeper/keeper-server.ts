// The keeper as a local service: a Unix socket where any local process (an HTTP
// worker, examples/accelerated-connect.py) asks for a connection to a
// configured upstream and receives a ready ESTABLISHED TCP socket by SCM_RIGHTS.
// Protocol: docs/keeper-protocol.md; codec: protocol.ts.
import { EventEmitter } from 'node:events';
import { chmodSync, chownSync, lstatSync, unlinkSync } from 'node:fs';
import net, { type Socket } from 'node:net';
import { MSG_DONTWAIT, MSG_NOSIGNAL } from '../../native/constants.js';
import { sendWithFd } from '../../native/fd-passing.js';
import { closeFd } from '../../native/socket-ops.js';
import { InvalidArgumentError } from '../errors.js';
import { canonicalAddress, endpointKey, formatEndpoint, type Endpoint } from '../handshake/endpoint.js';
import { discardHeldSocket } from '../handshake/held-socket.js';
import type { EntryRef } from '../pool/pool-manager.js';
import { LineReader, LineTooLongError } from './line-reader.js';
import {
  encodeConnectSuccess, encodeFailure, encodeHello, encodeReady, encodeUnreachable, MAX_LINE_BYTES, parseRequest, type ConnectRequest, type KeeperErrorCode, type MissReport,
} from './protocol.js';

/** What the keeper needs of its pools: a PoolConnectionSource, or createPoolSource's plain fallback. */
export interface KeeperSource {
  readonly accelerated: boolean;
  /** Why acceleration is off (createPoolSource's PlainFallback), for ACCEL_OFF's message. */
  readonly disabledReason?: string;
  /** A handed-off socket (a RepairedSocket: its `entryId` names the pool entry), or undefined. */
  acquire(target: Endpoint): Socket | undefined;
  /** Preferred when present: the handed-off descriptor itself (no net.Socket made and closed again); the keeper closes it. */
  acquireFd?(target: Endpoint): { fd: number; entry: EntryRef } | undefined;
  /** For a client that asked `hold`: a held descriptor (held-socket.ts) and how long it may wait. Without it, `hold` gets an unheld handoff. */
  acquireHeldFd?(target: Endpoint): { fd: number; entry: EntryRef; holdMs: number } | undefined;
  /** Optional: no SYN toward `target` while paused (a client's passive health has its server out). */
  pauseTarget?(target: Endpoint, paused: boolean): void;
  /** Optional: pooled connections ready for `target` now. Without it, no `ready` counts are told. */
  readyCount?(target: Endpoint): number;
  /** Optional: a client connected `count` requests for `target` plainly, told nothing was ready (counted as misses). */
  noteMisses?(target: Endpoint, count: number): void;
  readonly pool?: {
    readonly upstreams: ReadonlyArray<{ readonly key: string; readonly target: Endpoint }>;
    reportDead(entry: EntryRef): boolean;
  };
}

export interface KeeperServerOptions {
  /** Filesystem path of the socket; a stale socket file there is replaced, a live keeper or any other file is an error. */
  readonly path: string;
  readonly source: KeeperSource;
  /** File mode of the socket (connect needs write permission). Default 0o660: owner and group. */
  readonly mode?: number;
  /** Group id to chown the socket to, so that group may connect. Default: leave it. */
  readonly gid?: number;
  /**
   * The pooled addresses `host:port` may be served from, or undefined when it is
   * not a configured upstream. The process plugs the config in (a name of a
   * configured server URL → its pooled addresses). Default: IP text only, served
   * when that endpoint has a pool.
   */
  readonly targetsFor?: (host: string, port: number) => readonly Endpoint[] | undefined;
}

export const KEEPER_SERVER_DEFAULTS = { mode: 0o660 } as const;

/** Entries handed to one connection that a `dead` report from it may name (older ones are forgotten). */
const HANDED_MEMORY = 1024;

export interface ServedEvent {
  readonly id: number;
  readonly target: Endpoint;
  readonly entry: number;
  /** Request line parsed → sendmsg returned, in µs (pool handoff included). */
  readonly us: number;
}
export interface RefusedEvent {
  readonly code: KeeperErrorCode;
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly message: string;
}
export interface DeadEvent {
  readonly entry: number;
  /** undefined: this connection was not handed that entry (ignored). */
  readonly target: Endpoint | undefined;
  /** The pool learned from it (PoolManager.reportDead returned true). */
  readonly counted: boolean;
}
export interface SendFailedEvent {
  readonly target: Endpoint | undefined;
  readonly entry: number | undefined;
  /** errno code (EAGAIN: the client is not reading; EPIPE: it left), or 'PARTIAL' for a short write. */
  readonly reason: string;
}

/** A client's `miss` report: it sent `count` requests plainly, told nothing was ready. */
export interface MissedEvent {
  readonly target: Endpoint;
  readonly count: number;
}

export interface KeeperServerEvents {
  served: [ServedEvent];
  refused: [RefusedEvent];
  missed: [MissedEvent];
  dead: [DeadEvent];
  /** A reply could not be sent: the descriptor (if any) was closed and the client disconnected. */
  'send-failed': [SendFailedEvent];
  /** The listening socket failed after listen(). */
  error: [Error];
}

export interface KeeperServerStats {
  connections: number;
  served: number;
  refused: Record<KeeperErrorCode, number>;
  deadReports: number;
  sendFailed: number;
  /** Requests clients reported sending plainly without asking (`miss` lines' counts). */
  missed: number;
}

/**
 * Serves pooled connections on a Unix socket. Replies are written only with
 * sendmsg on the connection's own fd (never conn.write), so each reply and
 * its descriptor leave in the order we send them; reads stay libuv's. No
 * logging: subscribe to the events.
 */
export class KeeperServer extends EventEmitter<KeeperServerEvents> {
  readonly path: string;
  readonly #source: KeeperSource;
  readonly #mode: number;
  readonly #gid: number | undefined;
  readonly #targetsFor: (host: string, port: number) => readonly Endpoint[] | undefined;
  readonly #server: net.Server;
  readonly #connections = new Set<Socket>();
  readonly #clients = new Set<ClientState>();
  readonly #byConnection = new Map<Socket, ClientState>();
  #unreachable: string[] = [];
  readonly #stats: KeeperServerStats = {
    connections: 0,
    served: 0,
    refused: { UNKNOWN_TARGET: 0, POOL_EMPTY: 0, ACCEL_OFF: 0, BAD_REQUEST: 0, UNSUPPORTED_VERSION: 0 },
    deadReports: 0,
    sendFailed: 0,
    missed: 0,
  };
  #readyScheduled = false;
  /** Rotates the first candidate of a name with several pooled addresses. */
  #turn = 0;
  #listening = false;

  constructor(options: KeeperServerOptions) {
    super();
    if (typeof options.path !== 'string' || options.path.length === 0) throw new InvalidArgumentError('KeeperServer: path is required');
    const mode = options.mode ?? KEEPER_SERVER_DEFAULTS.mode;
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) throw new InvalidArgumentError(`KeeperServer: mode ${mode} is not a file mode (0..0o777)`);
    this.path = options.path;
    this.#source = options.source;
    this.#mode = mode;
    this.#gid = options.gid;
    this.#targetsFor = options.targetsFor ?? ((host, port) => this.#pooledOnly(host, port));
    this.#server = net.createServer((conn) => this.#accept(conn));
    this.#server.on('error', (err) => {
      if (this.#listening) this.emit('error', err);
    });
  }

  /** Listens on the path (replacing a stale socket file), then applies mode and group. */
  async listen(): Promise<void> {
    await removeStaleSocket(this.path);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(this.path, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    this.#listening = true;
    chmodSync(this.path, this.#mode);
    if (this.#gid !== undefined) chownSync(this.path, -1, this.#gid);
  }

  /** Stops accepting, disconnects every client, removes the socket file. Descriptors already sent stay the clients'. */
  async close(): Promise<void> {
    const wasListening = this.#listening;
    this.#listening = false;
    for (const c of this.#connections) c.destroy();
    this.#connections.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    if (wasListening) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    }
  }

  stats(): KeeperServerStats {
    return { ...this.#stats, refused: { ...this.#stats.refused }, connections: this.#connections.size };
  }

  #accept(conn: Socket): void {
    const fd = (conn as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (fd === undefined || fd < 0) {
      conn.destroy();
      return;
    }
    this.#connections.add(conn);
    this.#stats.connections += 1;
    const client = new ClientState(fd);
    const reader = new LineReader(MAX_LINE_BYTES);
    conn.on('error', () => {}); // a client leaving mid-reply is normal; 'close' cleans up
    conn.once('close', () => {
      this.#connections.delete(conn);
      this.#clients.delete(client);
      this.#byConnection.delete(conn);
      // A client that goes takes its pauses with it: a restarted worker says again what it knows.
      for (const key of client.paused.keys()) this.#applyPause(key, client.paused.get(key)!);
    });
    this.#clients.add(client);
    this.#byConnection.set(conn, client);
    conn.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = reader.push(chunk);
      } catch (err) {
        if (!(err instanceof LineTooLongError)) throw err;
        this.#refuse(conn, client, null, 'BAD_REQUEST', `request line longer than ${MAX_LINE_BYTES} bytes`, undefined, undefined);
        conn.destroy();
        return;
      }
      for (const line of lines) {
        if (conn.destroyed) return;
        if (line.length > 0) this.#handle(conn, client, line);
      }
    });
  }

  #handle(conn: Socket, client: ClientState, line: string): void {
    const t0 = performance.now();
    const req = parseRequest(line);
    switch (req.op) {
      case 'invalid':
        this.#refuse(conn, client, req.id, req.code, req.message, undefined, undefined);
        return;
      case 'hello':
        this.#send(conn, client, encodeHello(req.id, { accelerated: this.#source.accelerated, targets: this.#servedKeys() }), undefined, undefined);
        if (req.watch && !client.watching) {
          client.watching = true;
          this.#send(conn, client, encodeUnreachable(this.#unreachable), undefined, undefined);
          this.#tellReady(conn, client);
        }
        return;
      case 'miss':
        this.#miss(req);
        return;
      case 'dead':
        this.#dead(client, req.entry);
        return;
      case 'connect':
        this.#connect(conn, client, req, t0);
        return;
      case 'pause':
        this.#pause(client, req.host, req.port, req.paused);
        return;
    }
  }

  /**
   * The pooled targets that answer no SYN now (endpoint keys): watching clients (the
   * workers) are told when the set changes, and pass those addresses over.
   */
  setUnreachable(keys: readonly string[]): void {
    const next = [...keys].sort();
    if (next.join(' ') === this.#unreachable.join(' ')) return;
    this.#unreachable = next;
    const notice = encodeUnreachable(next);
    for (const [conn, client] of this.#byConnection) if (client.watching) this.#send(conn, client, notice, undefined, undefined);
  }

  /**
   * A pool's ready count may have risen (an entry became ready): watching clients are
   * told the targets that now have more than they were last told, once per turn for
   * all the turn's changes (a refill's SYN-ACKs come in bunches).
   */
  readyChanged(): void {
    if (this.#readyScheduled || this.#source.readyCount === undefined) return;
    this.#readyScheduled = true;
    setImmediate(() => {
      this.#readyScheduled = false;
      for (const [conn, client] of this.#byConnection) if (client.watching && !conn.destroyed) this.#tellReady(conn, client);
    });
  }

  /** The `ready` notice for one client: only rises above what it was told (it counts its own asks down). */
  #tellReady(conn: Socket, client: ClientState): void {
    const count = this.#source.readyCount?.bind(this.#source);
    const upstreams = this.#source.pool?.upstreams;
    if (count === undefined || upstreams === undefined) return;
    let rose: Record<string, number> | undefined;
    for (const u of upstreams) {
      const n = count(u.target);
      if (n <= (client.told.get(u.key) ?? -1)) continue;
      (rose ??= {})[u.key] = n;
      client.told.set(u.key, n);
    }
    if (rose !== undefined) this.#send(conn, client, encodeReady(rose), undefined, undefined);
  }

  /** What a reply tells the client is left ready for the address it asked for (the sum over a name's addresses). */
  #readyLeft(client: ClientState, candidates: readonly Endpoint[]): number | undefined {
    const count = this.#source.readyCount?.bind(this.#source);
    if (count === undefined) return undefined;
    let sum = 0;
    for (const target of candidates) {
      const n = count(target);
      client.told.set(endpointKey(target), n);
      sum += n;
    }
    return sum;
  }

  /** A client's plainly sent requests go to the pool's miss count (one address of a name's, in turn). */
  #miss(req: MissReport): void {
    const candidates = this.#targetsFor(req.host, req.port);
    if (candidates === undefined || candidates.length === 0) return;
    const target = candidates[candidates.length > 1 ? this.#turn++ % candidates.length : 0]!;
    this.#stats.missed += req.count;
    this.#source.noteMisses?.(target, req.count);
    this.emit('missed', { target, count: req.count });
  }

  /** Records one client's word on a server's addresses (only configured ones count) and applies the union. */
  #pause(client: ClientState, host: string, port: number, paused: boolean): void {
    for (const target of this.#targetsFor(host, port) ?? []) {
      const key = endpointKey(target);
      if (paused) client.paused.set(key, target);
      else client.paused.delete(key);
      this.#applyPause(key, target);
    }
  }

  /** Paused while any connected client has the address out. */
  #applyPause(key: string, target: Endpoint): void {
    const paused = [...this.#clients].some((c) => c.paused.has(key));
    this.#source.pauseTarget?.(target, paused);
  }

  #connect(conn: Socket, client: ClientState, req: ConnectRequest, t0: number): void {
    const candidates = this.#targetsFor(req.host, req.port);
    // Only a refusal names the address: net.isIPv6's pattern was 15 % of an ask's time in a keeper profile.
    const asked = (): string => formatHostPort(req.host, req.port);
    if (candidates === undefined || candidates.length === 0) {
      const message = `${asked()} is not a configured upstream: this keeper serves only configured upstreams (ask "hello" for the list)`;
      this.#refuse(conn, client, req.id, 'UNKNOWN_TARGET', message, req.host, req.port);
      return;
    }
    if (!this.#source.accelerated) {
      const why = this.#source.disabledReason === undefined ? '' : ` (${this.#source.disabledReason})`;
      this.#refuse(conn, client, req.id, 'ACCEL_OFF', `this keeper has no pooled connections${why}; connect directly`, req.host, req.port);
      return;
    }
    let handed: Handed | undefined;
    let target: Endpoint | undefined;
    const start = candidates.length > 1 ? this.#turn++ % candidates.length : 0;
    for (let i = 0; i < candidates.length && handed === undefined; i++) {
      target = candidates[(start + i) % candidates.length]!;
      handed = this.#take(target, req.hold);
    }
    if (handed === undefined || target === undefined) {
      this.#refuse(conn, client, req.id, 'POOL_EMPTY', `no pooled connection to ${asked()} is ready; connect directly`, req.host, req.port, this.#readyLeft(client, candidates));
      return;
    }
    const ready = this.#readyLeft(client, candidates);
    const reply = encodeConnectSuccess({
      id: req.id, entry: handed.entry, address: target.address, port: target.port,
      ...(handed.holdMs === undefined ? {} : { holdMs: handed.holdMs }), ...(ready === undefined ? {} : { ready }),
    });
    const sent = this.#send(conn, client, reply, handed.fd, target, handed.entry);
    const us = (performance.now() - t0) * 1000;
    // Our reference goes; the client's keeps the connection (closing one of two references
    // sends nothing). Nothing was written on it here: the server's entry stays in SYN_RECV
    // until the client's first segment. If the send failed, this close is the last reference:
    // the kernel sends a FIN, and the server sees a connection that ends at once (a held one
    // is aborted instead: a RST, and the server's application sees nothing).
    handed.release(sent);
    if (!sent) return;
    client.remember(handed.entry, target);
    this.#stats.served += 1;
    this.emit('served', { id: req.id, target, entry: handed.entry, us });
  }

  /** One pooled connection for `target` as a descriptor to send and a way to drop our reference, or undefined. */
  #take(target: Endpoint, hold: boolean): Handed | undefined {
    const source = this.#source;
    if (hold && source.acquireHeldFd !== undefined) {
      const got = source.acquireHeldFd(target);
      if (got === undefined) return undefined;
      // SO_LINGER belongs to the socket, not to one descriptor: abort only when ours is the last.
      return { fd: got.fd, entry: got.entry.id, holdMs: got.holdMs, release: (sent) => (sent ? closeFd(got.fd) : discardHeldSocket(got.fd)) };
    }
    if (source.acquireFd !== undefined) {
      const got = source.acquireFd(target);
      if (got === undefined) return undefined;
      return { fd: got.fd, entry: got.entry.id, release: () => closeFd(got.fd) };
    }
    const socket = source.acquire(target);
    if (socket === undefined) return undefined;
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (socket.destroyed || fd === undefined || fd < 0) {
      socket.destroy();
      return undefined;
    }
    return { fd, entry: (socket as unknown as { entryId?: number }).entryId ?? 0, release: () => socket.destroy() };
  }

  #dead(client: ClientState, entry: number): void {
    this.#stats.deadReports += 1;
    const target = client.handed(entry);
    // Only an entry handed to this very connection may be reported: a client cannot steer another's.
    const counted = target !== undefined && (this.#source.pool?.reportDead({ id: entry, target }) ?? false);
    if (target !== undefined) client.forget(entry);
    this.emit('dead', { entry, target, counted });
  }

  #refuse(conn: Socket, client: ClientState, id: number | null, code: KeeperErrorCode, message: string, host: string | undefined, port: number | undefined, ready?: number): void {
    this.#stats.refused[code] += 1;
    this.emit('refused', { code, host, port, message });
    this.#send(conn, client, encodeFailure(id, code, message, ready), undefined, undefined);
  }

  /** sendmsg of one whole reply (and its fd); on any failure the client is disconnected: a stream with half a reply cannot go on. */
  #send(conn: Socket, client: ClientState, bytes: Buffer, passFd: number | undefined, target: Endpoint | undefined, entry?: number): boolean {
    let reason: string | undefined;
    try {
      const n = sendWithFd(client.fd, bytes, passFd, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n !== bytes.length) reason = 'PARTIAL';
    } catch (err) {
      reason = (err as { errnoCode?: string }).errnoCode ?? 'ERROR';
    }
    if (reason === undefined) return true;
    this.#stats.sendFailed += 1;
    this.emit('send-failed', { target, entry, reason });
    conn.destroy();
    return false;
  }

  #pooledOnly(host: string, port: number): readonly Endpoint[] | undefined {
    if (net.isIP(host) === 0) return undefined;
    let target: Endpoint;
    try {
      target = { address: canonicalAddress(host), port };
    } catch {
      return undefined;
    }
    const key = endpointKey(target);
    return this.#source.pool?.upstreams.some((u) => u.key === key) ? [target] : undefined;
  }

  #servedKeys(): string[] {
    return this.#source.pool?.upstreams.map((u) => u.key) ?? [];
  }
}

interface Handed {
  readonly fd: number;
  readonly entry: number;
  /** A held handoff: how long the client may wait before its first byte. */
  readonly holdMs?: number;
  /** Drops the keeper's reference (after sendmsg, the client holds its own). */
  release(sent: boolean): void;
}

/** Per connection: its fd (for sendmsg) and the entries handed to it, for `dead` reports. */
class ClientState {
  readonly fd: number;
  /** Asked for `unreachable` notices in its hello. */
  watching = false;
  /** Addresses this client's passive health has out (a `pause` report), by endpoint key. */
  readonly paused = new Map<string, Endpoint>();
  /** The ready count this client was last told per pooled target (a reply's or a notice's), by endpoint key. */
  readonly told = new Map<string, number>();
  readonly #handed = new Map<number, Endpoint>();

  constructor(fd: number) {
    this.fd = fd;
  }

  remember(entry: number, target: Endpoint): void {
    this.#handed.set(entry, target);
    if (this.#handed.size > HANDED_MEMORY) this.#handed.delete(this.#handed.keys().next().value!);
  }

  handed(entry: number): Endpoint | undefined {
    return this.#handed.get(entry);
  }

  forget(entry: number): void {
    this.#handed.delete(entry);
  }
}

function formatHostPort(host: string, port: number): string {
  return net.isIPv6(host) ? formatEndpoint({ address: host, port }) : `${host}:${port}`;
}

/**
 * A socket file left by a keeper that died is removed; a live keeper (it accepts a
 * connection) or a path that is not a socket is an error, never deleted.
 */
async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new InvalidArgumentError(`keeper socket ${path} exists and is not a socket; refusing to replace it`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new InvalidArgumentError(`keeper socket ${path} is in use by a running keeper`);
  unlinkSync(path);
}

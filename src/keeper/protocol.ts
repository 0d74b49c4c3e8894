// The keeper's local protocol, version 1: newline-delimited JSON over a Unix
// stream socket (docs/keeper-protocol.md). This module is the pure codec:
// lines in, typed messages out, and the replies' exact bytes. No I/O.

export const PROTOCOL_VERSION = 1;
/** Versions this keeper speaks, announced in the hello reply. */
export const SUPPORTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION];
/** A line (without its newline) longer than this is refused and the connection closed: bytes. */
export const MAX_LINE_BYTES = 4096;
/** Client ids are echoed as given; bounded so every language holds them exactly. */
export const MAX_ID = 0xffff_ffff;
/** A host name or address text, at most (a DNS name is at most 253). */
const MAX_HOST_CHARS = 255;

/** Why a request failed: stable, part of the protocol. */
export type KeeperErrorCode = 'UNKNOWN_TARGET' | 'POOL_EMPTY' | 'ACCEL_OFF' | 'BAD_REQUEST' | 'UNSUPPORTED_VERSION';
export const KEEPER_ERROR_CODES: readonly KeeperErrorCode[] = ['UNKNOWN_TARGET', 'POOL_EMPTY', 'ACCEL_OFF', 'BAD_REQUEST', 'UNSUPPORTED_VERSION'];

export interface ConnectRequest {
  readonly op: 'connect';
  readonly id: number;
  /** IP text or a host name, as sent (the server canonicalises). */
  readonly host: string;
  readonly port: number;
  /**
   * The client may keep the socket a while before its first request: the keeper hands it
   * held (a filter drops the server's SYN-ACK retransmits), so the server is not told
   * before the request (docs/keeper-protocol.md, "Held connections").
   */
  readonly hold: boolean;
}
export interface HelloRequest {
  readonly op: 'hello';
  /** Echoed when given. */
  readonly id: number | undefined;
  /** The client wants `unreachable` notices (a worker steering requests); others never get an unasked line. */
  readonly watch: boolean;
}
export interface DeadReport {
  readonly op: 'dead';
  readonly entry: number;
}
/**
 * A client's passive health took a server out (`paused: true`) or back: the keeper
 * sends that address no SYN while any connected client says it is out. No reply.
 * It can only ever lower what the keeper sends.
 */
export interface PauseReport {
  readonly op: 'pause';
  readonly host: string;
  readonly port: number;
  readonly paused: boolean;
}
/**
 * The client connected `count` requests for host:port plainly without asking: the last
 * ready count it was told, less its asks in flight, left nothing for them. No reply; the
 * pool counts them as misses and as demand, as it counts a refused `connect`.
 */
export interface MissReport {
  readonly op: 'miss';
  readonly host: string;
  readonly port: number;
  readonly count: number;
}
/** A `miss` line names at most this many requests (a client sends one line per target and turn). */
export const MAX_MISS_COUNT = 65_535;
export type KeeperRequest = ConnectRequest | HelloRequest | DeadReport | PauseReport | MissReport;

/** A line that is not a valid request: reply with `code` (id null when the line had no usable id). */
export interface ProtocolViolation {
  readonly op: 'invalid';
  readonly id: number | null;
  readonly code: 'BAD_REQUEST' | 'UNSUPPORTED_VERSION';
  readonly message: string;
}

function isId(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= MAX_ID;
}

function isPort(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= 65535;
}

/**
 * One request line (without its newline) → a typed request, or the violation
 * to answer. Unknown fields are ignored (a later minor addition must not break
 * this keeper); missing or mistyped ones are BAD_REQUEST.
 */
export function parseRequest(line: string): KeeperRequest | ProtocolViolation {
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch {
    return bad(null, 'not a JSON object');
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return bad(null, 'not a JSON object');
  const m = msg as Record<string, unknown>;
  const id = isId(m.id) ? m.id : null;
  if (m.v !== PROTOCOL_VERSION) {
    if (typeof m.v === 'number') {
      return { op: 'invalid', id, code: 'UNSUPPORTED_VERSION', message: `protocol version ${m.v} is not supported; this keeper speaks ${SUPPORTED_VERSIONS.join(', ')}` };
    }
    return bad(id, '"v" (the protocol version, 1) is missing or not a number');
  }
  switch (m.op) {
    case 'connect': {
      if (!isId(m.id)) return bad(null, `"id" must be an integer in 0..${MAX_ID}`);
      if (typeof m.host !== 'string' || m.host.length === 0 || m.host.length > MAX_HOST_CHARS) {
        return bad(m.id, `"host" must be a non-empty string of at most ${MAX_HOST_CHARS} characters`);
      }
      if (!isPort(m.port)) return bad(m.id, '"port" must be an integer in 1..65535');
      return { op: 'connect', id: m.id, host: m.host, port: m.port, hold: m.hold === true };
    }
    case 'hello':
      return { op: 'hello', id: id ?? undefined, watch: m.watch === true };
    case 'dead':
      if (!isId(m.entry)) return bad(id, `"entry" must be an integer in 0..${MAX_ID}`);
      return { op: 'dead', entry: m.entry };
    case 'pause':
      if (typeof m.host !== 'string' || m.host.length === 0 || m.host.length > MAX_HOST_CHARS) {
        return bad(id, `"host" must be a non-empty string of at most ${MAX_HOST_CHARS} characters`);
      }
      if (!isPort(m.port)) return bad(id, '"port" must be an integer in 1..65535');
      if (typeof m.paused !== 'boolean') return bad(id, '"paused" must be true or false');
      return { op: 'pause', host: m.host, port: m.port, paused: m.paused };
    case 'miss':
      if (typeof m.host !== 'string' || m.host.length === 0 || m.host.length > MAX_HOST_CHARS) {
        return bad(id, `"host" must be a non-empty string of at most ${MAX_HOST_CHARS} characters`);
      }
      if (!isPort(m.port)) return bad(id, '"port" must be an integer in 1..65535');
      if (typeof m.count !== 'number' || !Number.isInteger(m.count) || m.count < 1 || m.count > MAX_MISS_COUNT) {
        return bad(id, `"count" must be an integer in 1..${MAX_MISS_COUNT}`);
      }
      return { op: 'miss', host: m.host, port: m.port, count: m.count };
    default:
      return bad(id, `unknown "op" ${JSON.stringify(m.op) ?? 'undefined'}; expected "connect", "hello", "dead", "pause" or "miss"`);
  }
}

function bad(id: number | null, message: string): ProtocolViolation {
  return { op: 'invalid', id, code: 'BAD_REQUEST', message };
}

// Replies: one JSON object and its newline, in UTF-8.

export interface ConnectSuccess {
  readonly id: number;
  /** The pool's entry id: what a `dead` report names. */
  readonly entry: number;
  /** The upstream address the socket is connected to (canonical) and its port. */
  readonly address: string;
  readonly port: number;
  /**
   * Set when the request asked `hold` and the socket is held (its filter drops SYNs, and may
   * stay): the client uses it within `holdMs` or gives it up with an aborting close
   * (SO_LINGER 0: a RST, so the server's application sees nothing).
   */
  readonly holdMs?: number;
  /** Pooled connections still ready for what was asked, after this one (when the keeper can count them). */
  readonly ready?: number;
}

/** The success line; it travels with exactly one descriptor (SCM_RIGHTS) on the same sendmsg. */
export function encodeConnectSuccess(s: ConnectSuccess): Buffer {
  const held = s.holdMs === undefined ? {} : { held: true, holdMs: Math.max(0, Math.floor(s.holdMs)) };
  return line({ v: PROTOCOL_VERSION, id: s.id, ok: true, fd: true, entry: s.entry, address: s.address, port: s.port, ...held, ...readyField(s.ready) });
}

/** `ready`: on POOL_EMPTY, the count the refusal leaves the client with (0), when the keeper can count. */
export function encodeFailure(id: number | null, code: KeeperErrorCode, message: string, ready?: number): Buffer {
  return line({ v: PROTOCOL_VERSION, id, ok: false, code, message, ...readyField(ready) });
}

function readyField(ready: number | undefined): { ready?: number } {
  return ready === undefined ? {} : { ready: Math.max(0, Math.floor(ready)) };
}

/**
 * To a watching client: pooled targets (endpoint keys) whose ready count rose above what
 * that client was last told, with the count now. Falls are not announced: the client
 * counts its own asks down, and a refusal says 0.
 */
export function encodeReady(counts: Readonly<Record<string, number>>): Buffer {
  return line({ v: PROTOCOL_VERSION, op: 'ready', targets: counts });
}

export function encodeMiss(host: string, port: number, count: number): Buffer {
  return line({ v: PROTOCOL_VERSION, op: 'miss', host, port, count });
}

export interface HelloInfo {
  readonly accelerated: boolean;
  /** The served targets, as endpoint keys ("10.0.0.2:8080", "[fd00::2]:80"). */
  readonly targets: readonly string[];
}

export function encodeHello(id: number | undefined, info: HelloInfo): Buffer {
  return line({ v: PROTOCOL_VERSION, ...(id === undefined ? {} : { id }), ok: true, op: 'hello', versions: SUPPORTED_VERSIONS, accelerated: info.accelerated, targets: info.targets });
}

// Requests, for clients written in TypeScript (the worker's KeeperConnectionSource).

export function encodeConnect(id: number, host: string, port: number, hold = false): Buffer {
  return line({ v: PROTOCOL_VERSION, op: 'connect', id, host, port, ...(hold ? { hold: true } : {}) });
}

export function encodeHelloRequest(id?: number, watch = false): Buffer {
  return line({ v: PROTOCOL_VERSION, op: 'hello', ...(id === undefined ? {} : { id }), ...(watch ? { watch: true } : {}) });
}

/** To a watching client: the pooled targets that answer no SYN now (every notice is the whole set). */
export function encodeUnreachable(targets: readonly string[]): Buffer {
  return line({ v: PROTOCOL_VERSION, op: 'unreachable', targets });
}

export function encodePause(host: string, port: number, paused: boolean): Buffer {
  return line({ v: PROTOCOL_VERSION, op: 'pause', host, port, paused });
}

export function encodeDead(entry: number): Buffer {
  return line({ v: PROTOCOL_VERSION, op: 'dead', entry });
}

/** A reply as a client reads it. */
export type KeeperReply =
  | ({ readonly kind: 'connected' } & ConnectSuccess)
  | { readonly kind: 'failed'; readonly id: number | null; readonly code: string; readonly message: string; readonly ready?: number }
  | ({ readonly kind: 'hello'; readonly id: number | undefined; readonly versions: readonly number[] } & HelloInfo)
  | { readonly kind: 'unreachable'; readonly targets: readonly string[] }
  | { readonly kind: 'ready'; readonly targets: ReadonlyMap<string, number> };

/**
 * One reply line → a typed reply; undefined for a line this client cannot
 * read (the stream can no longer be trusted: the caller disconnects).
 * A `connected` reply takes the next received descriptor (fd FIFO).
 */
export function parseReply(text: string): KeeperReply | undefined {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof msg !== 'object' || msg === null) return undefined;
  const m = msg as Record<string, unknown>;
  if (m.v !== PROTOCOL_VERSION) return undefined;
  if (m.op === 'hello' && m.ok === true) {
    if (!Array.isArray(m.versions) || typeof m.accelerated !== 'boolean' || !Array.isArray(m.targets)) return undefined;
    return {
      kind: 'hello',
      id: isId(m.id) ? m.id : undefined,
      versions: m.versions.filter((x): x is number => typeof x === 'number'),
      accelerated: m.accelerated,
      targets: m.targets.filter((x): x is string => typeof x === 'string'),
    };
  }
  if (m.op === 'unreachable' && Array.isArray(m.targets)) {
    return { kind: 'unreachable', targets: m.targets.filter((x): x is string => typeof x === 'string') };
  }
  if (m.op === 'ready' && typeof m.targets === 'object' && m.targets !== null && !Array.isArray(m.targets)) {
    const targets = new Map<string, number>();
    for (const [key, n] of Object.entries(m.targets as Record<string, unknown>)) if (isCount(n)) targets.set(key, n);
    return { kind: 'ready', targets };
  }
  // A `ready` that is not a count is ignored, not an error: the hint is optional.
  const ready = isCount(m.ready) ? { ready: m.ready } : {};
  if (m.ok === true && m.fd === true && isId(m.id) && typeof m.entry === 'number' && typeof m.address === 'string' && isPort(m.port)) {
    const held = m.held === true && typeof m.holdMs === 'number' && Number.isFinite(m.holdMs) && m.holdMs >= 0 ? { holdMs: m.holdMs } : {};
    return { kind: 'connected', id: m.id, entry: m.entry, address: m.address, port: m.port, ...held, ...ready };
  }
  if (m.ok === false && typeof m.code === 'string') {
    return { kind: 'failed', id: isId(m.id) ? m.id : null, code: m.code, message: typeof m.message === 'string' ? m.message : '', ...ready };
  }
  return undefined;
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0;
}

function line(obj: object): Buffer {
  return Buffer.from(`${JSON.stringify(obj)}\n`, 'utf8');
}

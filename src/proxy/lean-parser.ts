import { createRequire } from 'node:module';

/**
 * Node's own HTTP/1 parser (llhttp, native), as node:http's client and server use it.
 * undici parses with llhttp compiled to WebAssembly behind several layers of JS; after
 * the process has been idle those layers are what a cold request pays for (see
 * docs/own-time.md). `_http_common` is a core module Node still exports for this
 * (it is how node:http reaches the parser); it is not covered by semver, so the lean
 * exchange checks its shape once and is not used if it changed (see leanParserAvailable).
 */
export interface NativeParser {
  initialize(type: number, resource: object, maxHeaderSize?: number, lenient?: number): void;
  execute(data: Buffer): number | Error;
  finish(): number | Error | undefined;
  close(): void;
  free(): void;
  [key: number]: unknown;
}

interface ParserModule {
  HTTPParser: {
    new (): NativeParser;
    RESPONSE: number;
    kOnHeaders: number;
    kOnHeadersComplete: number;
    kOnBody: number;
    kOnMessageComplete: number;
    kOnExecute: number;
  };
}

function load(): ParserModule['HTTPParser'] | undefined {
  try {
    const mod = createRequire(import.meta.url)('_http_common') as Partial<ParserModule>;
    const P = mod.HTTPParser;
    if (typeof P !== 'function') return undefined;
    for (const k of ['RESPONSE', 'kOnHeaders', 'kOnHeadersComplete', 'kOnBody', 'kOnMessageComplete'] as const) {
      if (typeof P[k] !== 'number') return undefined;
    }
    return P;
  } catch {
    return undefined;
  }
}

export const HTTPParser = load();

export function leanParserAvailable(): boolean {
  return HTTPParser !== undefined;
}

/**
 * Parsers of closed connections, kept for the next ones, as node:http keeps its own
 * (`_http_common`'s FreeList): a new one is a native object, p50 35 µs to make and initialize
 * after a second of idleness against 20 µs to re-initialize one (stop 26, docs/own-time.md).
 */
const freeParsers: NativeParser[] = [];
const MAX_FREE_PARSERS = 16;

/** A response parser, reused when one is free, initialized (callbacks still to set). Only when leanParserAvailable(). */
export function takeResponseParser(): NativeParser {
  const parser = freeParsers.pop() ?? new HTTPParser!();
  parser.initialize(HTTPParser!.RESPONSE, {});
  return parser;
}

/**
 * Gives back the parser of a connection that closed; never from inside one of its own
 * callbacks (llhttp is not re-entrant). Its callbacks are cleared, so a kept parser holds
 * nothing of that connection.
 */
export function releaseResponseParser(parser: NativeParser): void {
  const P = HTTPParser!;
  parser[P.kOnHeaders] = parser[P.kOnHeadersComplete] = parser[P.kOnBody] = parser[P.kOnMessageComplete] = undefined;
  // Given back twice, it would be handed to two connections.
  if (freeParsers.includes(parser)) return;
  if (freeParsers.length < MAX_FREE_PARSERS) freeParsers.push(parser);
  else parser.close();
}

/** What onHeadersComplete returns to llhttp: parse a body (0) or expect none (1). */
export const PARSE_BODY = 0;
export const SKIP_BODY = 1;

import type { Dispatcher } from 'undici';

/**
 * Which requests the lean exchange takes, and their head as written upstream.
 *
 * Only what it can write exactly as undici would (lib/dispatcher/client-h1.js, writeH1):
 * no body, a method whose semantics expect none (HEAD stays with undici, which closes
 * the connection after it against servers that send a body anyway), an origin-form
 * path, plain string headers without the ones undici itself interprets or refuses
 * (Content-Length, Transfer-Encoding, Expect, Upgrade, Connection, Keep-Alive). Anything
 * else, and every http**s** origin, stays on undici, unchanged.
 */
const LEAN_METHODS: ReadonlySet<string> = new Set(['GET', 'DELETE', 'OPTIONS']);
const UNDICI_HANDLED: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'expect', 'upgrade', 'connection', 'keep-alive', 'host']);
/**
 * undici's checks (lib/core/util.js): names that are RFC 9110 tokens, values without CTLs
 * other than tab. Each holds for every header exactly when it holds for all the names (all
 * the values) run together, empty names aside: two tests per request, not two per header
 * (this runs on every lean request, after idleness too: docs/own-time.md, stop 27).
 */
const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]*$/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const BAD_PATH = /[^\u0021-\u00ff]/;

/** Options undici acts on that the lean exchange does not implement: present, the request stays on undici. */
const UNDICI_OPTIONS = ['upgrade', 'query', 'reset', 'expectContinue', 'blocking', 'typeOfService', 'maxRedirections'] as const;

/**
 * The request head (status line to blank line, latin1) for `opts`, or undefined when the
 * lean exchange does not take it. `defaultHost` is the origin's host, sent when the
 * headers have no Host (as undici sends it).
 */
export function leanHead(opts: Dispatcher.DispatchOptions, defaultHost: string): string | undefined {
  const method = opts.method;
  if (!LEAN_METHODS.has(method) || (opts.body !== undefined && opts.body !== null)) return undefined;
  const extra = opts as unknown as Record<string, unknown>;
  for (const k of UNDICI_OPTIONS) if (extra[k] != null) return undefined;
  const path = opts.path;
  if (typeof path !== 'string' || path.charCodeAt(0) !== 0x2f || BAD_PATH.test(path)) return undefined;
  const headers = opts.headers;
  let host = defaultHost;
  let lines = '';
  let names = '';
  let values = '';
  if (headers !== undefined && headers !== null) {
    if (!Array.isArray(headers) || (headers.length & 1) !== 0) return undefined;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      const value = headers[i + 1];
      if (typeof name !== 'string' || typeof value !== 'string' || name === '') return undefined;
      names += name;
      values += value;
      const lower = name.toLowerCase();
      if (UNDICI_HANDLED.has(lower)) {
        if (lower !== 'host') return undefined;
        host = value;
        continue;
      }
      lines += `${name}: ${value}\r\n`;
    }
  }
  if (!TOKEN_CHARS.test(names) || BAD_VALUE.test(values)) return undefined;
  return `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\nconnection: keep-alive\r\n${lines}\r\n`;
}

/** The Host undici sends for an origin URL without one: its host as written (port only when not the default). */
export function originHost(origin: string): string {
  return new URL(origin).host;
}

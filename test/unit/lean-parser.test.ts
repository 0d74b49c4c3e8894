// The lean exchange's parser free list: a parser given back is handed out again,
// re-initialized, whatever state its last connection left it in.
import { describe, expect, it } from 'vitest';
import { HTTPParser, leanParserAvailable, PARSE_BODY, releaseResponseParser, takeResponseParser, type NativeParser } from '../../src/proxy/lean-parser.js';

/** Parses `text` as one response; returns the status and body seen, or the parser's error. */
function parse(parser: NativeParser, text: string): { status?: number; body: string; complete: boolean; error?: string } {
  const P = HTTPParser!;
  const seen: { status?: number; body: string; complete: boolean; error?: string } = { body: '', complete: false };
  parser[P.kOnHeaders] = () => {};
  parser[P.kOnHeadersComplete] = (_a: number, _b: number, _h: string[], _m: number, _u: string, status: number) => {
    seen.status = status;
    return PARSE_BODY;
  };
  parser[P.kOnBody] = (chunk: Buffer) => (seen.body += chunk.toString('latin1'));
  parser[P.kOnMessageComplete] = () => (seen.complete = true);
  const r = parser.execute(Buffer.from(text, 'latin1'));
  if (r instanceof Error) seen.error = (r as Error & { code?: string }).code;
  return seen;
}

const OK = 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello';

describe('lean parser free list', () => {
  it('is available on this Node', () => {
    expect(leanParserAvailable()).toBe(true);
  });

  it('hands a given-back parser out again, its callbacks cleared, and it parses a fresh response', () => {
    const a = takeResponseParser();
    expect(parse(a, OK)).toEqual({ status: 200, body: 'hello', complete: true });
    releaseResponseParser(a);
    expect(a[HTTPParser!.kOnBody]).toBeUndefined();
    const b = takeResponseParser();
    expect(b).toBe(a);
    expect(parse(b, OK)).toEqual({ status: 200, body: 'hello', complete: true });
    releaseResponseParser(b);
  });

  it('re-initializes a parser its last connection left mid-body or in an error state', () => {
    const a = takeResponseParser();
    expect(parse(a, 'HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\nhal').complete).toBe(false);
    releaseResponseParser(a);
    const b = takeResponseParser();
    expect(b).toBe(a);
    expect(parse(b, 'HTTP/1.1 2x0 nonsense\r\n\r\n').error).toMatch(/^HPE_/);
    releaseResponseParser(b);
    const c = takeResponseParser();
    expect(c).toBe(a);
    expect(parse(c, OK)).toEqual({ status: 200, body: 'hello', complete: true });
    releaseResponseParser(c);
  });

  it('a parser given back twice is kept once: two takes never share it', () => {
    const a = takeResponseParser();
    releaseResponseParser(a);
    releaseResponseParser(a);
    const first = takeResponseParser();
    const second = takeResponseParser();
    expect(first).not.toBe(second);
    releaseResponseParser(first);
    releaseResponseParser(second);
  });
});

// The keeper protocol's codec: requests parsed from hostile lines never throw,
// replies round-trip through the client's parser, lines are bounded.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineReader, LineTooLongError } from '../../src/keeper/line-reader.js';
import {
  encodeConnect, encodeConnectSuccess, encodeDead, encodeMiss, encodePause, encodeReady, encodeUnreachable, encodeFailure, encodeHello, encodeHelloRequest, KEEPER_ERROR_CODES, MAX_ID,
  MAX_LINE_BYTES, MAX_MISS_COUNT, parseReply, parseRequest,
} from '../../src/keeper/protocol.js';

const text = (b: Buffer): string => b.toString('utf8').replace(/\n$/, '');

describe('parseRequest', () => {
  it('reads connect, hello and dead; extra fields are ignored', () => {
    expect(parseRequest('{"v":1,"op":"connect","id":7,"host":"10.0.0.2","port":8080,"extra":[1]}')).toEqual({ op: 'connect', id: 7, host: '10.0.0.2', port: 8080, hold: false });
    expect(parseRequest('{"v":1,"op":"hello"}')).toEqual({ op: 'hello', id: undefined, watch: false });
    expect(parseRequest('{"v":1,"op":"hello","id":3,"watch":true}')).toEqual({ op: 'hello', id: 3, watch: true });
    expect(parseRequest('{"v":1,"op":"dead","entry":12}')).toEqual({ op: 'dead', entry: 12 });
    expect(parseRequest('{"v":1,"op":"pause","host":"10.0.0.3","port":8080,"paused":true}')).toEqual({ op: 'pause', host: '10.0.0.3', port: 8080, paused: true });
  });

  it('refuses a pause without a host, a port or a boolean paused', () => {
    expect(parseRequest('{"v":1,"op":"pause","port":8080,"paused":true}')).toMatchObject({ op: 'invalid', code: 'BAD_REQUEST', message: expect.stringMatching(/"host"/) });
    expect(parseRequest('{"v":1,"op":"pause","host":"a","port":0,"paused":true}')).toMatchObject({ op: 'invalid', message: expect.stringMatching(/"port"/) });
    expect(parseRequest('{"v":1,"op":"pause","host":"a","port":80,"paused":"yes"}')).toMatchObject({ op: 'invalid', message: expect.stringMatching(/"paused"/) });
  });

  it('names what is wrong, with the id when there is a usable one', () => {
    const cases: Array<[string, string, number | null, RegExp]> = [
      ['garbage', 'BAD_REQUEST', null, /JSON object/],
      ['[1,2]', 'BAD_REQUEST', null, /JSON object/],
      ['null', 'BAD_REQUEST', null, /JSON object/],
      ['{"op":"connect","id":1,"host":"a","port":1}', 'BAD_REQUEST', 1, /"v"/],
      ['{"v":"1","op":"hello"}', 'BAD_REQUEST', null, /"v"/],
      ['{"v":2,"op":"connect","id":5,"host":"a","port":1}', 'UNSUPPORTED_VERSION', 5, /version 2 .*speaks 1/],
      ['{"v":1,"op":"connect","host":"a","port":1}', 'BAD_REQUEST', null, /"id"/],
      ['{"v":1,"op":"connect","id":-1,"host":"a","port":1}', 'BAD_REQUEST', null, /"id"/],
      ['{"v":1,"op":"connect","id":1.5,"host":"a","port":1}', 'BAD_REQUEST', null, /"id"/],
      [`{"v":1,"op":"connect","id":${MAX_ID + 1},"host":"a","port":1}`, 'BAD_REQUEST', null, /"id"/],
      ['{"v":1,"op":"connect","id":1,"host":"","port":1}', 'BAD_REQUEST', 1, /"host"/],
      ['{"v":1,"op":"connect","id":1,"host":5,"port":1}', 'BAD_REQUEST', 1, /"host"/],
      ['{"v":1,"op":"connect","id":1,"host":"a","port":0}', 'BAD_REQUEST', 1, /"port"/],
      ['{"v":1,"op":"connect","id":1,"host":"a","port":65536}', 'BAD_REQUEST', 1, /"port"/],
      ['{"v":1,"op":"connect","id":1,"host":"a","port":"80"}', 'BAD_REQUEST', 1, /"port"/],
      ['{"v":1,"op":"dead","entry":"x"}', 'BAD_REQUEST', null, /"entry"/],
      ['{"v":1,"op":"steal","id":4}', 'BAD_REQUEST', 4, /unknown "op" "steal"/],
      ['{"v":1}', 'BAD_REQUEST', null, /unknown "op"/],
    ];
    for (const [line, code, id, message] of cases) {
      const r = parseRequest(line);
      expect(r, line).toMatchObject({ op: 'invalid', code, id });
      expect((r as { message: string }).message, line).toMatch(message);
    }
  });

  it('never throws, and anything accepted is well-typed (property: arbitrary text and JSON)', () => {
    const check = (line: string): void => {
      const r = parseRequest(line);
      if (r.op === 'connect') {
        expect(Number.isInteger(r.id) && r.id >= 0 && r.id <= MAX_ID).toBe(true);
        expect(Number.isInteger(r.port) && r.port >= 1 && r.port <= 65535).toBe(true);
        expect(typeof r.host).toBe('string');
      } else if (r.op === 'miss') {
        expect(Number.isInteger(r.count) && r.count >= 1 && r.count <= MAX_MISS_COUNT).toBe(true);
        expect(Number.isInteger(r.port) && r.port >= 1 && r.port <= 65535).toBe(true);
      } else if (r.op === 'invalid') {
        expect(['BAD_REQUEST', 'UNSUPPORTED_VERSION']).toContain(r.code);
        expect(r.message.length).toBeGreaterThan(0);
      }
    };
    fc.assert(fc.property(fc.string({ maxLength: 300 }), check), { numRuns: 2000 });
    fc.assert(fc.property(fc.json(), check), { numRuns: 2000 });
    const field = fc.oneof(fc.integer(), fc.double(), fc.string(), fc.boolean(), fc.constant(null), fc.bigInt().map(String), fc.constant(1e308), fc.array(fc.integer()));
    fc.assert(
      fc.property(
        fc.record({ v: fc.oneof(fc.constant(1), field), op: fc.oneof(fc.constantFrom('connect', 'hello', 'dead', 'pause', 'miss'), field), id: field, host: field, port: field, entry: field, paused: field, count: field }, { requiredKeys: [] }),
        (o) => check(JSON.stringify(o)),
      ),
      { numRuns: 3000 },
    );
  });
});

describe('replies', () => {
  it('a held success carries held and holdMs (whole ms, never negative); a reply without them is unheld', () => {
    const line = text(encodeConnectSuccess({ id: 3, entry: 4, address: '10.0.0.2', port: 80, holdMs: 1234.7 }));
    expect(JSON.parse(line)).toMatchObject({ held: true, holdMs: 1234 });
    expect(parseReply(line)).toEqual({ kind: 'connected', id: 3, entry: 4, address: '10.0.0.2', port: 80, holdMs: 1234 });
    expect(JSON.parse(text(encodeConnectSuccess({ id: 3, entry: 4, address: '10.0.0.2', port: 80, holdMs: -5 })))).toMatchObject({ holdMs: 0 });
    expect(parseReply(text(encodeConnectSuccess({ id: 3, entry: 4, address: '10.0.0.2', port: 80 })))).not.toHaveProperty('holdMs');
    // "held" without a usable holdMs is not a hold the client can time.
    expect(parseReply('{"v":1,"id":3,"ok":true,"fd":true,"entry":4,"address":"10.0.0.2","port":80,"held":true}')).not.toHaveProperty('holdMs');
  });

  it('round-trip through parseReply', () => {
    expect(parseReply(text(encodeConnectSuccess({ id: 9, entry: 44, address: '10.0.0.2', port: 8080 })))).toEqual({
      kind: 'connected', id: 9, entry: 44, address: '10.0.0.2', port: 8080,
    });
    expect(parseReply(text(encodeFailure(9, 'UNKNOWN_TARGET', 'nope')))).toEqual({ kind: 'failed', id: 9, code: 'UNKNOWN_TARGET', message: 'nope' });
    expect(parseReply(text(encodeFailure(null, 'BAD_REQUEST', 'x')))).toMatchObject({ kind: 'failed', id: null });
    expect(parseReply(text(encodeHello(undefined, { accelerated: true, targets: ['10.0.0.2:8080'] })))).toEqual({
      kind: 'hello', id: undefined, versions: [1], accelerated: true, targets: ['10.0.0.2:8080'],
    });
  });

  it('the exact bytes of the success line (the documented wire format)', () => {
    expect(encodeConnectSuccess({ id: 1, entry: 2, address: '10.0.0.2', port: 80 }).toString()).toBe(
      '{"v":1,"id":1,"ok":true,"fd":true,"entry":2,"address":"10.0.0.2","port":80}\n',
    );
    expect(encodeConnect(1, '10.0.0.2', 80).toString()).toBe('{"v":1,"op":"connect","id":1,"host":"10.0.0.2","port":80}\n');
    expect(encodeDead(3).toString()).toBe('{"v":1,"op":"dead","entry":3}\n');
    expect(encodeHelloRequest().toString()).toBe('{"v":1,"op":"hello"}\n');
    expect(encodeHelloRequest(undefined, true).toString()).toBe('{"v":1,"op":"hello","watch":true}\n');
    expect(parseReply(text(encodeUnreachable(['10.0.0.3:8080'])))).toEqual({ kind: 'unreachable', targets: ['10.0.0.3:8080'] });
  });

  it('requests encoded by the client parse on the server', () => {
    expect(parseRequest(text(encodeConnect(5, 'fd00::2', 443)))).toEqual({ op: 'connect', id: 5, host: 'fd00::2', port: 443, hold: false });
    expect(parseRequest(text(encodeConnect(6, '10.0.0.2', 80, true)))).toEqual({ op: 'connect', id: 6, host: '10.0.0.2', port: 80, hold: true });
    // Only true holds: anything else is an ordinary request.
    expect(parseRequest('{"v":1,"op":"connect","id":7,"host":"10.0.0.2","port":80,"hold":"yes"}')).toMatchObject({ hold: false });
    expect(parseRequest(text(encodeDead(8)))).toEqual({ op: 'dead', entry: 8 });
    expect(parseRequest(text(encodePause('10.0.0.3', 80, false)))).toEqual({ op: 'pause', host: '10.0.0.3', port: 80, paused: false });
  });

  it('ready counts: on a success, on a refusal, in a notice; a count that is not a whole number ≥ 0 is left out, not an error', () => {
    expect(parseReply(text(encodeConnectSuccess({ id: 1, entry: 2, address: '10.0.0.2', port: 80, ready: 3 })))).toMatchObject({ kind: 'connected', ready: 3 });
    expect(parseReply(text(encodeFailure(1, 'POOL_EMPTY', 'none', 0)))).toEqual({ kind: 'failed', id: 1, code: 'POOL_EMPTY', message: 'none', ready: 0 });
    expect(JSON.parse(text(encodeFailure(1, 'POOL_EMPTY', 'none')))).not.toHaveProperty('ready');
    expect(encodeReady({ '10.0.0.2:80': 4 }).toString()).toBe('{"v":1,"op":"ready","targets":{"10.0.0.2:80":4}}\n');
    const notice = parseReply('{"v":1,"op":"ready","targets":{"10.0.0.2:80":4,"[fd00::2]:80":-1,"10.0.0.3:80":1.5,"10.0.0.4:80":"2"}}');
    expect(notice).toEqual({ kind: 'ready', targets: new Map([['10.0.0.2:80', 4]]) });
    expect(parseReply('{"v":1,"op":"ready","targets":[1]}')).toBeUndefined();
    expect(parseReply('{"v":1,"id":1,"ok":true,"fd":true,"entry":2,"address":"10.0.0.2","port":80,"ready":-2}')).not.toHaveProperty('ready');
  });

  it('miss reports: encoded by the client, parsed by the keeper; a count out of 1..MAX_MISS_COUNT is BAD_REQUEST', () => {
    expect(encodeMiss('10.0.0.2', 80, 3).toString()).toBe('{"v":1,"op":"miss","host":"10.0.0.2","port":80,"count":3}\n');
    expect(parseRequest(text(encodeMiss('fd00::2', 443, MAX_MISS_COUNT)))).toEqual({ op: 'miss', host: 'fd00::2', port: 443, count: MAX_MISS_COUNT });
    for (const count of [0, -1, 1.5, MAX_MISS_COUNT + 1, '3', null]) {
      const r = parseRequest(JSON.stringify({ v: 1, op: 'miss', host: '10.0.0.2', port: 80, count }));
      expect(r, String(count)).toMatchObject({ op: 'invalid', code: 'BAD_REQUEST', message: expect.stringMatching(/"count"/) as string });
    }
    expect(parseRequest('{"v":1,"op":"miss","port":80,"count":1}')).toMatchObject({ op: 'invalid', message: expect.stringMatching(/"host"/) as string });
    expect(parseRequest('{"v":1,"op":"miss","host":"a","port":0,"count":1}')).toMatchObject({ op: 'invalid', message: expect.stringMatching(/"port"/) as string });
  });

  it('every error code is documented in docs/keeper-protocol.md', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../docs/keeper-protocol.md', import.meta.url), 'utf8');
    for (const code of KEEPER_ERROR_CODES) expect(doc, code).toContain(`\`${code}\``);
  });

  it('unreadable replies are undefined, never a throw', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => {
      parseReply(s);
    }), { numRuns: 2000 });
    expect(parseReply('{"v":1,"ok":true,"fd":true,"id":1}')).toBeUndefined();
    expect(parseReply('{"v":2,"ok":false,"code":"X"}')).toBeUndefined();
  });
});

describe('LineReader', () => {
  it('splits across chunks, strips CR, keeps the tail', () => {
    const r = new LineReader(64);
    expect(r.push(Buffer.from('ab'))).toEqual([]);
    expect(r.push(Buffer.from('c\r\nde\nf'))).toEqual(['abc', 'de']);
    expect(r.push(Buffer.from('\n'))).toEqual(['f']);
  });

  it('a line past the limit throws, in one chunk or across many', () => {
    expect(() => new LineReader(MAX_LINE_BYTES).push(Buffer.alloc(MAX_LINE_BYTES + 1, 0x61))).toThrow(LineTooLongError);
    const r = new LineReader(10);
    r.push(Buffer.from('123456'));
    expect(() => r.push(Buffer.from('78901\n'))).toThrow(LineTooLongError);
    expect(new LineReader(10).push(Buffer.from('1234567890\n'))).toEqual(['1234567890']);
  });

  it('property: any split of a byte stream gives the same lines', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 20 }).map((s) => s.replace(/[\r\n]/g, '')), { maxLength: 10 }), fc.array(fc.nat(200), { maxLength: 8 }), (lines, cuts) => {
        const whole = Buffer.from(lines.map((l) => `${l}\n`).join(''));
        const r = new LineReader(1000);
        const points = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
        const got: string[] = [];
        let prev = 0;
        for (const p of [...points, whole.length]) {
          got.push(...r.push(whole.subarray(prev, p)));
          prev = p;
        }
        expect(got).toEqual(lines);
      }),
    );
  });
});

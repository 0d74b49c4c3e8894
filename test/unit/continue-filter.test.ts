import { describe, expect, it } from 'vitest';
import { classifyResponseStart } from '../../src/proxy/continue-filter.js';

const kind = (s: string): string => classifyResponseStart(Buffer.from(s, 'latin1')).kind;

describe('classifyResponseStart', () => {
  it('finds a complete 100 head and where it ends', () => {
    const v = classifyResponseStart(Buffer.from('HTTP/1.1 100 Continue\r\nA: b\r\n\r\nHTTP/1.1 200 OK\r\n'));
    expect(v).toEqual({ kind: 'continue', end: 'HTTP/1.1 100 Continue\r\nA: b\r\n\r\n'.length });
    expect(kind('HTTP/1.0 100\r\n\r\n')).toBe('continue');
  });

  it('holds every prefix of a 100 head', () => {
    const head = 'HTTP/1.1 100 Continue\r\n\r\n';
    for (let i = 1; i < head.length; i++) expect(kind(head.slice(0, i))).toBe('partial');
  });

  it('lets anything else through at the first byte that differs', () => {
    for (const s of ['HTTP/1.1 200 OK\r\n', 'HTTP/1.1 103 Early Hints\r\n', 'HTTP/1.1 101 ', 'HTTP/1.1 1000 x', 'HTTP/2 100', 'X', 'HTTP/1.1 10x'])
      expect(kind(s)).toBe('other');
  });

  it('gives up on a 100 head over 16 KiB (undici then rejects it)', () => {
    expect(kind(`HTTP/1.1 100 Continue\r\nX: ${'a'.repeat(17_000)}`)).toBe('other');
  });
});

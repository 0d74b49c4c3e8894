// Several processes log to one pipe: every write must be whole lines of at most
// PIPE_BUF bytes, so lines from two processes never interleave.
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SharedLineDestination } from '../../src/observability/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'synpool-lines-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SharedLineDestination', () => {
  it('writes each turn as chunks of whole lines, none over 4096 bytes, in order', async () => {
    const file = join(dir, 'out.log');
    const fd = openSync(file, 'w');
    const dest = new SharedLineDestination(fd);
    const lines = Array.from({ length: 200 }, (_, i) => `${JSON.stringify({ i, pad: 'x'.repeat(i % 97) })}\n`);
    for (const l of lines) dest.write(l);
    await new Promise((r) => setImmediate(r));
    dest.flushSync();
    closeSync(fd);
    expect(readFileSync(file, 'utf8')).toBe(lines.join(''));
  });

  it('never splits a line across writes', () => {
    const writes: string[] = [];
    const dest = new SharedLineDestination(-1, (_fd, buf) => {
      writes.push(buf.toString());
      return buf.length;
    });
    for (let i = 0; i < 100; i++) dest.write(`${'y'.repeat(700)}${i}\n`);
    dest.write(`${'z'.repeat(5000)}\n`);
    dest.flushSync();
    for (const w of writes) {
      expect(w.endsWith('\n')).toBe(true);
      if (w.length > 4096) expect(w.split('\n').length).toBe(2); // only a single over-long line goes alone
    }
    expect(writes.join('').split('\n').length).toBe(102);
  });
});

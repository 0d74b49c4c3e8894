// What the pool logs for an operator when answers are lost on our side.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { attachPoolLog } from '../../src/observability/pool-log.js';
import { FakeClock } from '../../src/pool/clock.js';
import { PoolManager } from '../../src/pool/pool-manager.js';
import { FakeHandshakeDriver } from '../helpers/fake-handshake-driver.js';

describe('attachPoolLog', () => {
  it('warns about lost SYN answers at the 1st, 2nd, 4th … and never logs a state change for them', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        for (const l of chunk.toString().split('\n')) if (l.startsWith('{')) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const clock = new FakeClock();
    const driver = new FakeHandshakeDriver(clock);
    driver.behaviour = { mode: 'silent', rttMs: 1, retransmits: 0 };
    const target = { address: '10.0.0.2', port: 80 };
    const pool = new PoolManager({ driver, clock, random: () => 0.5, upstreams: [{ target, sizing: 'fixed', targetSize: 4, synRatePerSec: 10, synBurst: 4 }] });
    const detach = attachPoolLog(createLogger('info', sink), pool);
    pool.start();
    for (let t = 0; t < 20_000; t += 100) {
      driver.drops += 3; // every answer is lost on our side
      clock.advance(100);
    }
    const dropped = pool.snapshot()[0]!.failures.answerDropped;
    expect(dropped).toBeGreaterThan(30);
    const warned = lines.filter((l) => String(l.msg).startsWith('SYN answers lost'));
    const expected = [1, 2, 4, 8, 16, 32, 64, 128].filter((n) => n <= dropped);
    expect(warned.map((l) => l.answerDropped)).toEqual(expected);
    expect(warned.every((l) => l.upstream === '10.0.0.2:80' && l.level === 40)).toBe(true);
    expect(lines.filter((l) => l.msg === 'pool upstream state')).toEqual([]);
    detach();
    pool.close();
  });

  it('logs a pause and a resume (passive health ejected and readmitted the server)', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        for (const l of chunk.toString().split('\n')) if (l.startsWith('{')) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const clock = new FakeClock();
    const driver = new FakeHandshakeDriver(clock);
    const target = { address: '10.0.0.2', port: 80 };
    const pool = new PoolManager({ driver, clock, upstreams: [{ target }] });
    const logger = createLogger('info', sink);
    const detach = attachPoolLog(logger, pool);
    pool.pause(target, true);
    pool.pause(target, false);
    logger.flush();
    await new Promise((r) => setImmediate(r));
    const paused = lines.filter((l) => String(l.msg).startsWith('pool paused') || String(l.msg).startsWith('pool resumed'));
    expect(paused.map((l) => [l.upstream, l.paused])).toEqual([
      ['10.0.0.2:80', true],
      ['10.0.0.2:80', false],
    ]);
    detach();
    pool.close();
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../bench/harness/poisson-schedule.js';
import { PooledConnectionResetError, SynpoolError } from '../../src/errors.js';
import { healthVerdict } from '../../src/routing/health-verdict.js';
import { FakeClock } from '../../src/pool/clock.js';
import { PassiveHealth, type PassiveHealthEvents, type PassiveHealthSettings } from '../../src/routing/passive-health.js';

const S = 'a:80';

function setup(settings: Partial<PassiveHealthSettings> = {}, random: () => number = () => 0) {
  const clock = new FakeClock(1_000);
  const health = new PassiveHealth({ failureThreshold: 3, baseEjectionMs: 1_000, maxEjectionMs: 8_000, jitterRatio: 0.5, ...settings }, { clock, random });
  const events: [keyof PassiveHealthEvents, unknown][] = [];
  health.on('ejected', (e) => events.push(['ejected', e]));
  health.on('probing', (e) => events.push(['probing', e]));
  health.on('restored', (e) => events.push(['restored', e]));
  const fail = (key = S): void => health.failed(key, health.dispatched(key));
  const succeed = (key = S): void => health.succeeded(key, health.dispatched(key));
  return { clock, health, events, fail, succeed };
}

describe('passive health', () => {
  it('ejects after failureThreshold consecutive failures; a success in between starts the count again', () => {
    const { health, events, fail, succeed } = setup();
    fail();
    fail();
    succeed();
    fail();
    fail();
    expect(health.state(S)).toBe('healthy');
    fail();
    expect(health.state(S)).toBe('ejected');
    expect(health.isAvailable(S)).toBe(false);
    expect(events).toEqual([['ejected', { key: S, failures: 3, ejections: 1, durationMs: 1_000 }]]);
  });

  it('after the ejection: probing, one request at a time; its success restores the server and resets the backoff', () => {
    const { clock, health, events, fail, succeed } = setup();
    for (let i = 0; i < 3; i++) fail();
    clock.advance(999);
    expect(health.state(S)).toBe('ejected');
    clock.advance(1);
    expect(health.state(S)).toBe('probing');
    expect(health.isAvailable(S)).toBe(true);
    const probe = health.dispatched(S);
    expect(health.isAvailable(S)).toBe(false);
    health.succeeded(S, probe);
    expect(health.state(S)).toBe('healthy');
    expect(events.map(([e]) => e)).toEqual(['ejected', 'probing', 'restored']);
    expect(events[2]![1]).toEqual({ key: S, ejectedMs: 1_000 });
    // A later ejection starts from the base again.
    for (let i = 0; i < 3; i++) fail();
    expect(events.at(-1)![1]).toMatchObject({ ejections: 1, durationMs: 1_000 });
    succeed(); // ignored while ejected
    expect(health.state(S)).toBe('ejected');
  });

  it('a failed probe ejects again for twice as long, capped at maxEjectionMs', () => {
    const { clock, health, events, fail } = setup();
    for (let i = 0; i < 3; i++) fail();
    const durations: number[] = [];
    for (let i = 0; i < 5; i++) {
      clock.advance(100_000);
      expect(health.state(S)).toBe('probing');
      fail();
    }
    for (const [name, e] of events) if (name === 'ejected') durations.push((e as { durationMs: number }).durationMs);
    expect(durations).toEqual([1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
    expect(events.filter(([n]) => n === 'ejected').every(([, e], i) => (e as { failures: number }).failures === (i === 0 ? 3 : 1))).toBe(true);
    expect(health.ejectionsTotal).toBe(6);
  });

  it('jitter shortens an ejection by up to jitterRatio, never lengthens it past the cap', () => {
    const { events, fail } = setup({}, () => 0.999);
    for (let i = 0; i < 3; i++) fail();
    const { durationMs } = events[0]![1] as { durationMs: number };
    expect(durationMs).toBeGreaterThanOrEqual(500);
    expect(durationMs).toBeLessThan(502);
  });

  it('an abandoned probe lets another one go', () => {
    const { clock, health } = setup();
    for (let i = 0; i < 3; i++) health.failed(S, health.dispatched(S));
    clock.advance(1_000);
    const probe = health.dispatched(S);
    expect(health.isAvailable(S)).toBe(false);
    health.abandoned(S, probe);
    expect(health.isAvailable(S)).toBe(true);
    expect(health.state(S)).toBe('probing');
  });

  it('reports of requests sent before the ejection are ignored (late tickets)', () => {
    const { clock, health, events } = setup();
    const early = [health.dispatched(S), health.dispatched(S)];
    for (let i = 0; i < 3; i++) health.failed(S, health.dispatched(S));
    clock.advance(1_000);
    health.succeeded(S, early[0]!);
    expect(health.state(S)).toBe('probing');
    health.failed(S, early[1]!);
    expect(health.state(S)).toBe('probing');
    expect(events.map(([e]) => e)).toEqual(['ejected', 'probing']);
  });

  it('keeps servers apart; an unknown one is healthy; forget and close clear timers', () => {
    const { clock, health, fail } = setup();
    for (let i = 0; i < 3; i++) fail('b:80');
    expect(health.isAvailable(S)).toBe(true);
    expect(health.isAvailable('b:80')).toBe(false);
    expect(health.snapshot()).toEqual([{ key: 'b:80', state: 'ejected', consecutiveFailures: 0, ejections: 1, ejectedUntil: 2_000 }]);
    expect(clock.pendingTimers).toBe(1);
    health.close();
    expect(clock.pendingTimers).toBe(0);
    expect(health.state('b:80')).toBe('healthy');
  });

  it.each([
    [{ failureThreshold: 0 }, 'failureThreshold'],
    [{ baseEjectionMs: 0 }, 'baseEjectionMs'],
    [{ maxEjectionMs: 10 }, 'maxEjectionMs'],
    [{ jitterRatio: 1 }, 'jitterRatio'],
  ])('refuses %j', (settings, field) => {
    expect(() => new PassiveHealth({ baseEjectionMs: 100, ...settings })).toThrow(SynpoolError);
    expect(() => new PassiveHealth({ baseEjectionMs: 100, ...settings })).toThrow(field);
  });

  it('property: every ejection lasts within [cap·(1 − jitter), cap] and the server is unavailable exactly until then', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('fail', 'ok', 'abandon', 'wait'), { maxLength: 60 }), fc.integer(), (steps, seed) => {
        const clock = new FakeClock(0);
        const health = new PassiveHealth({ failureThreshold: 2, baseEjectionMs: 100, maxEjectionMs: 1_000, jitterRatio: 0.2 }, { clock, random: seededRandom(seed) });
        let row = 0;
        health.on('ejected', (e) => {
          row = e.ejections;
          const cap = Math.min(1_000, 100 * 2 ** (e.ejections - 1));
          expect(e.durationMs).toBeGreaterThanOrEqual(Math.floor(cap * 0.8));
          expect(e.durationMs).toBeLessThanOrEqual(cap);
          expect(health.isAvailable(S)).toBe(false);
          clock.advance(e.durationMs - 1);
          expect(health.state(S)).toBe('ejected');
          clock.advance(1);
          expect(health.state(S)).toBe('probing');
        });
        health.on('restored', () => (row = 0));
        for (const step of steps) {
          if (step === 'wait') clock.advance(50);
          else if (health.isAvailable(S)) {
            const t = health.dispatched(S);
            if (step === 'fail') health.failed(S, t);
            else if (step === 'ok') health.succeeded(S, t);
            else health.abandoned(S, t);
          }
          expect(health.snapshot()[0]?.ejections ?? 0).toBe(row);
        }
      }),
    );
  });
});

describe('passive health thresholds per server (the health section)', () => {
  it('configure(key) gives a server its upstream thresholds over the defaults; others keep the defaults', () => {
    const { clock, health, events, fail } = setup();
    health.configure('b:80', { failureThreshold: 1, baseEjectionMs: 200, maxEjectionMs: 300, jitterRatio: 0 });
    expect(health.settingsFor('b:80')).toEqual({ failureThreshold: 1, baseEjectionMs: 200, maxEjectionMs: 300, jitterRatio: 0 });
    expect(health.settingsFor(S)).toBe(health.settings);
    fail('b:80');
    expect(health.state('b:80')).toBe('ejected');
    expect(events.at(-1)).toEqual(['ejected', { key: 'b:80', failures: 1, ejections: 1, durationMs: 200 }]);
    clock.advance(200);
    expect(health.state('b:80')).toBe('probing');
    fail('b:80'); // a failed probe: doubled, capped at 300
    expect(events.at(-1)).toEqual(['ejected', { key: 'b:80', failures: 1, ejections: 2, durationMs: 300 }]);
    fail();
    fail();
    expect(health.state(S)).toBe('healthy'); // the default threshold (3 here) still holds for S
  });

  it('a reload lowering maxFails applies at the next failure; undefined goes back to the defaults', () => {
    const { health, fail } = setup();
    fail();
    fail();
    health.configure(S, { failureThreshold: 10 });
    fail();
    expect(health.state(S)).toBe('healthy');
    health.configure(S, { failureThreshold: 2 });
    fail();
    expect(health.state(S)).toBe('ejected');
    health.configure(S, undefined);
    expect(health.settingsFor(S)).toBe(health.settings);
  });

  it('refuses bad thresholds like the constructor', () => {
    const { health } = setup();
    expect(() => health.configure(S, { failureThreshold: 0 })).toThrow(SynpoolError);
    expect(() => health.configure(S, { baseEjectionMs: 5_000, maxEjectionMs: 1_000 })).toThrow('maxEjectionMs');
  });

  it('forget() emits forgotten for a server it knew (and drops its settings)', () => {
    const { health, fail } = setup();
    const forgotten: string[] = [];
    health.on('forgotten', (e) => forgotten.push(e.key));
    health.configure(S, { failureThreshold: 1 });
    fail();
    health.forget(S);
    health.forget('never-seen:80');
    expect(forgotten).toEqual([S]);
    expect(health.settingsFor(S)).toBe(health.settings);
  });
});

describe('healthVerdict', () => {
  it.each([
    ['ECONNREFUSED', 'failed'],
    ['EHOSTUNREACH', 'failed'],
    ['UND_ERR_CONNECT_TIMEOUT', 'failed'],
    ['ECONNRESET', 'failed'],
    ['UND_ERR_SOCKET', 'failed'],
    ['SYNPOOL_ERR_HANDSHAKE_TIMEOUT', 'failed'],
    ['UND_ERR_HEADERS_TIMEOUT', 'abandoned'],
    ['CERT_HAS_EXPIRED', 'abandoned'],
    [undefined, 'abandoned'],
  ])('%s → %s', (code, verdict) => {
    expect(healthVerdict(Object.assign(new Error('x'), { code }))).toBe(verdict);
  });

  it('a pooled entry the server forgot is not the server failing', () => {
    expect(healthVerdict(new PooledConnectionResetError('10.0.0.2:80'))).toBe('abandoned');
  });
});

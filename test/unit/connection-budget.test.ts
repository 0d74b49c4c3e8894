import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/schema.js';
import { AcceleratedAgent } from '../../src/proxy/accelerated-agent.js';
import { splitConnectionBudget } from '../../src/proxy/connection-budget.js';

describe('one connection cap for first attempts and replays', () => {
  it.each([2, 3, 4, 8, 15, 16, 17, 256, 65_535])('%i splits into two shares that add up to it, each ≥ 1', (total) => {
    const { accelerated, replay } = splitConnectionBudget(total);
    expect(accelerated! + replay!).toBe(total);
    expect(accelerated).toBeGreaterThanOrEqual(1);
    expect(replay).toBeGreaterThanOrEqual(1);
    expect(replay).toBeLessThanOrEqual(Math.max(1, total / 8));
  });

  it('the default 256: 224 for first attempts, 32 for replays; null stays unbounded', () => {
    expect(splitConnectionBudget(256)).toEqual({ accelerated: 224, replay: 32 });
    expect(splitConnectionBudget(null)).toEqual({ accelerated: null, replay: null });
  });

  it('a cap of 1 cannot be split: the agent refuses it, and so does the config', () => {
    expect(() => new AcceleratedAgent({ connections: 1 })).toThrow(/connections must be an integer ≥ 2/);
    expect(() => validateConfig({ upstream: 'http://10.0.0.2', maxUpstreamConnections: 1 })).toThrow(/maxUpstreamConnections: got 1 \(number\); allowed: an integer from 2/);
    expect(validateConfig({ upstream: 'http://10.0.0.2', maxUpstreamConnections: 2 }).maxUpstreamConnections).toBe(2);
  });
});

import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { validateConfig } from '../../src/config/schema.js';

const base = { upstream: 'http://127.0.0.1:8080' };

describe('config: clientHeadersTimeoutMs and upgradeIdleTimeoutMs', () => {
  it('default to 60 s each', () => {
    const c = validateConfig(base);
    expect(c.clientHeadersTimeoutMs).toBe(60_000);
    expect(c.upgradeIdleTimeoutMs).toBe(60_000);
  });

  it('accept a value in range', () => {
    const c = validateConfig({ ...base, clientHeadersTimeoutMs: 5_000, upgradeIdleTimeoutMs: 600_000 });
    expect(c.clientHeadersTimeoutMs).toBe(5_000);
    expect(c.upgradeIdleTimeoutMs).toBe(600_000);
  });

  it.each([
    ['clientHeadersTimeoutMs', 0],
    ['clientHeadersTimeoutMs', 3_600_001],
    ['clientHeadersTimeoutMs', '60s'],
    ['upgradeIdleTimeoutMs', 0],
    ['upgradeIdleTimeoutMs', 1.5],
  ])('reject %s = %j, naming the field', (field, value) => {
    expect(() => validateConfig({ ...base, [field]: value })).toThrow(ConfigError);
    expect(() => validateConfig({ ...base, [field]: value })).toThrow(field);
  });
});

import { ConfigError } from '../errors.js';
import { PASSIVE_HEALTH_DEFAULTS, type PassiveHealthSettings } from '../routing/passive-health.js';

/**
 * The `health` section (top level, and per upstream over it): passive health's thresholds
 * (src/routing/passive-health.ts) under config names. Named after nginx's `max_fails` /
 * `fail_timeout` where they mean the same, camelCase like the other keys. Unlike nginx,
 * failures count in a row (a success clears them), not within a time window: there is
 * no `failWindowMs`; `ejectMs` is nginx's fail_timeout in its second meaning (how long a
 * server is out), doubled for each ejection in a row up to `maxEjectMs`.
 */
export interface HealthSettings {
  /** Consecutive connect failures or resets that eject a server (nginx max_fails). */
  maxFails: number;
  /** The first ejection (ms); each further one in a row doubles it. */
  ejectMs: number;
  /** Cap on one ejection (ms). */
  maxEjectMs: number;
  /** An ejection is shortened by up to this fraction at random, so servers ejected together are not all probed at once. */
  ejectJitter: number;
}

/** Today's constants (PASSIVE_HEALTH_DEFAULTS), under the config names. */
export const HEALTH_DEFAULTS: Readonly<HealthSettings> = Object.freeze({
  maxFails: PASSIVE_HEALTH_DEFAULTS.failureThreshold,
  ejectMs: PASSIVE_HEALTH_DEFAULTS.baseEjectionMs,
  maxEjectMs: PASSIVE_HEALTH_DEFAULTS.maxEjectionMs,
  ejectJitter: PASSIVE_HEALTH_DEFAULTS.jitterRatio,
});

export const HEALTH_KEYS = Object.keys(HEALTH_DEFAULTS) as (keyof HealthSettings)[];

const DAY_MS = 86_400_000;

/**
 * Checks a `health` section and fills the defaults (`base`: the top-level section's,
 * for an upstream's override). Throws ConfigError (SYNPOOL_ERR_CONFIG) naming the field,
 * e.g. `upstreams.app.health.maxFails`.
 */
export function resolveHealthSettings(input: unknown, path = 'health', base: Readonly<HealthSettings> = HEALTH_DEFAULTS): HealthSettings {
  if (input === undefined || input === null) return { ...base };
  if (typeof input !== 'object' || Array.isArray(input)) throw new ConfigError(path, `got ${JSON.stringify(input)}; allowed: an object of ${HEALTH_KEYS.join(', ')}`);
  const given = input as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(HEALTH_KEYS as string[]).includes(key)) throw new ConfigError(`${path}.${key}`, `unknown field; allowed: ${HEALTH_KEYS.join(', ')}`);
  }
  const out = { ...base, ...given } as Record<keyof HealthSettings, unknown>;
  const int = (key: keyof HealthSettings, min: number, max: number, unit: string): void => {
    const v = out[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new ConfigError(`${path}.${key}`, `must be an integer from ${min} to ${max} (${unit}), got ${JSON.stringify(v)}`);
    }
  };
  int('maxFails', 1, 1_000, 'failures in a row');
  int('ejectMs', 1, DAY_MS, 'milliseconds');
  int('maxEjectMs', 1, DAY_MS, 'milliseconds');
  const jitter = out.ejectJitter;
  if (typeof jitter !== 'number' || !Number.isFinite(jitter) || jitter < 0 || jitter >= 1) {
    throw new ConfigError(`${path}.ejectJitter`, `must be a number from 0 to below 1, got ${JSON.stringify(jitter)}`);
  }
  const h = out as unknown as HealthSettings;
  if (h.maxEjectMs < h.ejectMs) throw new ConfigError(`${path}.maxEjectMs`, `${h.maxEjectMs} must be at least ejectMs (${h.ejectMs})`);
  return h;
}

/** The section as PassiveHealth takes it. */
export function passiveHealthSettings(h: Readonly<HealthSettings>): PassiveHealthSettings {
  return { failureThreshold: h.maxFails, baseEjectionMs: h.ejectMs, maxEjectionMs: h.maxEjectMs, jitterRatio: h.ejectJitter };
}

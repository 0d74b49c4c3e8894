import { EventEmitter } from 'node:events';
import { InvalidArgumentError } from '../errors.js';
import { realClock, type Clock, type TimerHandle } from '../pool/clock.js';
import type { RandomSource } from './server-state.js';

/**
 * - healthy: takes requests; consecutive failures are counted, a success clears them;
 * - ejected: takes none, until its ejection time is over;
 * - probing: takes one request (the probe); its success makes the server healthy,
 *   its failure ejects it again for twice as long.
 */
export type HealthState = 'healthy' | 'ejected' | 'probing';

export interface PassiveHealthSettings {
  /** Consecutive failures (connect failures, resets) that eject a healthy server. */
  readonly failureThreshold: number;
  /** First ejection; each further one in a row doubles it (ms). */
  readonly baseEjectionMs: number;
  /** Cap on an ejection (ms), jitter included. */
  readonly maxEjectionMs: number;
  /**
   * An ejection is shortened by up to this fraction (uniform), so servers ejected
   * together (an upstream-wide blip) are not all probed in the same instant.
   */
  readonly jitterRatio: number;
}

export const PASSIVE_HEALTH_DEFAULTS: PassiveHealthSettings = Object.freeze({
  failureThreshold: 5,
  baseEjectionMs: 10_000,
  maxEjectionMs: 300_000,
  jitterRatio: 0.1,
});

export interface EjectedEvent {
  readonly key: string;
  /** Failures in a row that led here (1 for a failed probe). */
  readonly failures: number;
  /** Ejections in a row, this one included: the backoff doubled (ejections − 1) times. */
  readonly ejections: number;
  readonly durationMs: number;
}

export interface PassiveHealthEvents {
  ejected: [EjectedEvent];
  /** The ejection is over: one request may go, and decides. */
  probing: [{ readonly key: string }];
  /** The probe succeeded; `ejectedMs`: since the first ejection of the run. */
  restored: [{ readonly key: string; readonly ejectedMs: number }];
  /** forget(): the server left (a reload) or shutdown; whatever followed its ejection should let go. */
  forgotten: [{ readonly key: string }];
}

export interface ServerHealthSnapshot {
  readonly key: string;
  readonly state: HealthState;
  readonly consecutiveFailures: number;
  readonly ejections: number;
  /** Clock time at which an ejected server becomes probing; undefined otherwise. */
  readonly ejectedUntil: number | undefined;
}

interface ServerHealth {
  state: HealthState;
  failures: number;
  ejections: number;
  /** Bumped at every state change: a report carrying an older ticket is late and ignored. */
  epoch: number;
  probeInFlight: boolean;
  firstEjectedAt: number;
  until: number;
  timer: TimerHandle | undefined;
}

function checkSettings(s: PassiveHealthSettings): void {
  const bad = (field: string, allowed: string): never => {
    throw new InvalidArgumentError(`passive health ${field} ${String((s as unknown as Record<string, unknown>)[field])}: ${allowed}`);
  };
  if (!Number.isInteger(s.failureThreshold) || s.failureThreshold < 1) bad('failureThreshold', 'an integer ≥ 1');
  if (!(s.baseEjectionMs >= 1)) bad('baseEjectionMs', 'at least 1 ms');
  if (!(s.maxEjectionMs >= s.baseEjectionMs)) bad('maxEjectionMs', 'at least baseEjectionMs');
  if (!(s.jitterRatio >= 0 && s.jitterRatio < 1)) bad('jitterRatio', 'from 0 to below 1');
}

/**
 * Passive health of the servers of one upstream, learnt from the requests sent to
 * them (no probes of its own). The caller reports what it sees: `dispatched` when a
 * request goes to a server (the returned ticket ties the outcome to the server's state
 * at that time), then `succeeded`, `failed` (a connect failure or a reset: the server
 * did not answer) or `abandoned` (no verdict: the client left, a 5xx, a pooled entry
 * the server forgot). It emits events and keeps no log; `isAvailable` feeds
 * ServerState.available for the balancing policy.
 */
export class PassiveHealth extends EventEmitter<PassiveHealthEvents> {
  /** The defaults: a server without settings of its own (configure()) uses these. */
  readonly settings: PassiveHealthSettings;
  readonly #servers = new Map<string, ServerHealth>();
  /** Per server (its upstream's `health` section); kept apart from the state so forget() of the state and a reload's configure() do not race. */
  readonly #settingsOf = new Map<string, PassiveHealthSettings>();
  readonly #clock: Clock;
  readonly #random: RandomSource;
  #ejectionsTotal = 0;

  constructor(settings: Partial<PassiveHealthSettings> = {}, deps: { clock?: Clock; random?: RandomSource } = {}) {
    super();
    this.settings = Object.freeze({ ...PASSIVE_HEALTH_DEFAULTS, ...settings });
    checkSettings(this.settings);
    this.#clock = deps.clock ?? realClock;
    this.#random = deps.random ?? Math.random;
  }

  /**
   * Gives the server `key` its own thresholds (its upstream's `health` section), over the
   * defaults; undefined goes back to the defaults. Validated like the constructor's
   * (InvalidArgumentError). A reload calls it for every server: the new thresholds apply
   * from the next report on (a failure count is compared with the new maxFails); an
   * ejection in progress keeps its length, the next one uses the new times.
   */
  configure(key: string, settings: Partial<PassiveHealthSettings> | undefined): void {
    if (settings === undefined) {
      this.#settingsOf.delete(key);
      return;
    }
    const full = Object.freeze({ ...this.settings, ...settings });
    checkSettings(full);
    this.#settingsOf.set(key, full);
  }

  /** The thresholds in force for `key`. */
  settingsFor(key: string): PassiveHealthSettings {
    return this.#settingsOf.get(key) ?? this.settings;
  }

  /** Healthy, or probing with no probe sent yet. A server never reported on is healthy. */
  isAvailable(key: string): boolean {
    const h = this.#servers.get(key);
    return h === undefined || h.state === 'healthy' || (h.state === 'probing' && !h.probeInFlight);
  }

  state(key: string): HealthState {
    return this.#servers.get(key)?.state ?? 'healthy';
  }

  /** A request is being sent to `key`; pass the ticket to the outcome report. */
  dispatched(key: string): number {
    const h = this.#server(key);
    if (h.state === 'probing') h.probeInFlight = true;
    return h.epoch;
  }

  succeeded(key: string, ticket: number): void {
    const h = this.#current(key, ticket);
    if (h === undefined) return;
    h.failures = 0;
    if (h.state !== 'probing') return;
    const ejectedMs = this.#clock.now() - h.firstEjectedAt;
    h.state = 'healthy';
    h.ejections = 0;
    h.probeInFlight = false;
    h.epoch += 1;
    this.emit('restored', { key, ejectedMs });
  }

  failed(key: string, ticket: number): void {
    const h = this.#current(key, ticket);
    if (h === undefined) return;
    h.failures += 1;
    if (h.state === 'probing' || h.failures >= this.settingsFor(key).failureThreshold) this.#eject(key, h);
  }

  /** The request ended without saying anything about the server; a probe slot opens again. */
  abandoned(key: string, ticket: number): void {
    const h = this.#current(key, ticket);
    if (h !== undefined && h.state === 'probing') h.probeInFlight = false;
  }

  /** A server left the upstream (reload): its state, timer and settings go ('forgotten' if it had state). */
  forget(key: string): void {
    const h = this.#servers.get(key);
    if (h?.timer !== undefined) this.#clock.clearTimeout(h.timer);
    this.#servers.delete(key);
    this.#settingsOf.delete(key);
    if (h !== undefined) this.emit('forgotten', { key });
  }

  get ejectionsTotal(): number {
    return this.#ejectionsTotal;
  }

  snapshot(): ServerHealthSnapshot[] {
    return [...this.#servers].map(([key, h]) => ({
      key,
      state: h.state,
      consecutiveFailures: h.failures,
      ejections: h.ejections,
      ejectedUntil: h.state === 'ejected' ? h.until : undefined,
    }));
  }

  /** Clears every timer (shutdown). */
  close(): void {
    for (const key of [...this.#servers.keys()]) this.forget(key);
  }

  #server(key: string): ServerHealth {
    let h = this.#servers.get(key);
    if (h === undefined) {
      h = { state: 'healthy', failures: 0, ejections: 0, epoch: 0, probeInFlight: false, firstEjectedAt: 0, until: 0, timer: undefined };
      this.#servers.set(key, h);
    }
    return h;
  }

  /** The server's state if `ticket` is of its current epoch and it is not ejected; late reports are ignored. */
  #current(key: string, ticket: number): ServerHealth | undefined {
    const h = this.#servers.get(key);
    return h === undefined || h.epoch !== ticket || h.state === 'ejected' ? undefined : h;
  }

  #eject(key: string, h: ServerHealth): void {
    const now = this.#clock.now();
    const { baseEjectionMs, maxEjectionMs, jitterRatio } = this.settingsFor(key);
    if (h.ejections === 0) h.firstEjectedAt = now;
    h.ejections += 1;
    const capped = Math.min(maxEjectionMs, baseEjectionMs * 2 ** (h.ejections - 1));
    const r = Math.min(1, Math.max(0, this.#random()));
    const durationMs = Math.round(capped * (1 - jitterRatio * r));
    const failures = h.failures;
    h.state = 'ejected';
    h.failures = 0;
    h.probeInFlight = false;
    h.epoch += 1;
    h.until = now + durationMs;
    this.#ejectionsTotal += 1;
    h.timer = this.#clock.setTimeout(() => {
      h.timer = undefined;
      h.state = 'probing';
      h.epoch += 1;
      this.emit('probing', { key });
    }, durationMs);
    this.emit('ejected', { key, failures, ejections: h.ejections, durationMs });
  }
}

import { HandshakeRefusedError, HandshakeTimeoutError } from '../errors.js';
import type { HandshakeDriver } from '../handshake/driver.js';
import type { HalfOpen } from '../handshake/half-open.js';
import { Backoff, type StateChange } from './backoff.js';
import type { Clock, TimerHandle } from './clock.js';
import type { ResolvedPoolConfig } from './pool-config.js';
import type { OpenPurpose, PoolEmit, PoolEvents, PoolSnapshot, SynFailure } from './pool-events.js';
import { PoolStats, type EvictReason } from './pool-stats.js';
import { RetransmitEvidence, retransmitTrustWindowMs } from './retransmit-evidence.js';
import { BurstMeter, clampTarget, DemandMeter, demandTarget, refillWindowMs } from './sizing.js';
import { TokenBucket } from './token-bucket.js';
import { TtlLearner, type TtlChange } from './ttl-learner.js';

export interface UpstreamPoolDeps {
  readonly driver: HandshakeDriver;
  readonly clock: Clock;
  /** Uniform in [0, 1): refresh and backoff jitter. */
  readonly random: () => number;
  readonly emit: PoolEmit;
  /** entry.id → owning pool, shared with the manager to route driver events. */
  readonly owners: Map<number, UpstreamPool>;
}

/** One half-open entry as the pool tracks it; times are the pool clock's. */
interface Slot {
  readonly entry: HalfOpen;
  readonly openedAt: number;
  /** In [0, 1): spreads this entry's refresh over one extra refresh lead. */
  readonly jitter: number;
  /** SYN-ACKs seen, the first included. */
  synAcks: number;
  /** When the first SYN-ACK arrived: the server's retransmit timer counts from just before it. */
  firstSynAckAt: number;
  lastSynAckAt: number;
  /** driver.channelDrops() when the SYN went out, then at the last SYN-ACK (undefined: unreadable). */
  dropsAt: number | undefined;
  // Ready list links, oldest (by openedAt) first.
  prev: Slot | undefined;
  next: Slot | undefined;
}

/** Entries handed out recently, kept so reportDead(entry) knows the entry's age at take time. */
const TAKEN_MEMORY = 256;
/** A missing SYN-ACK retransmit counts once it is late by max(this, 2 × RTT). */
const OVERDUE_GRACE_MIN_MS = 1_000;
/** Ticks re-armed by the pool itself are at least this far apart. */
const MIN_TICK_SPACING_MS = 1;
/**
 * Refills wait until takes have paused this long (or REFILL_DEFER_MAX_MS after the first
 * one): a burst's handoffs run first. Opening an entry (a reserving socket, its filter, a
 * raw SYN) costs the keeper more CPU than handing one off, and interleaved with a burst of
 * 32 handoffs it took the cores the burst's requests were waiting for. A replacement is a
 * round trip away anyway; this adds at most REFILL_DEFER_MAX_MS to it (refillMarginMs covers it).
 */
const REFILL_QUIET_MS = 2;
const REFILL_DEFER_MAX_MS = 15;
/**
 * A tick that replaces one stale entry also replaces those that would turn stale
 * within this long (at most an eighth of an entry's life): their replacements'
 * SYNs, SYN-ACKs and the server's retransmits then come together, one wake-up
 * of the keeper instead of one each. Replaced one by one, each replacement cost
 * the keeper ~1.4 ms of CPU on a paravirtualized host (three wake-ups, each after
 * a pause: the idle penalty), ~2 % of a core for an idle pool of 32 at
 * maxSynAckRetransmits 1; coalesced, 40 % less for the same SYNs.
 */
const REFRESH_COALESCE_MS = 250;
/** Stale entries beyond what the fresh ones leave of the target: a tick releases them (runTick, readyCount). */
function staleSurplus(stale: number, fresh: number, target: number): number {
  return Math.max(0, stale - Math.max(0, target - fresh));
}

/** If a listener throws inside a tick, try again after this long. */
const TICK_RETRY_MS = 1_000;
/**
 * An entry counts as within maxSynAckRetransmits only until this long before
 * our first segment could meet the server's next retransmit: the request's own
 * path to the wire (node:http, undici, the handoff) takes a few ms, up to tens
 * after idleness. The server's timer fires late, never early, which only helps.
 */
const FULL_WINDOW_MARGIN_MS = 100;

/**
 * The pool of half-open entries for one upstream: fills it to its target
 * paced by a token bucket, refreshes entries before their TTL, evicts
 * entries the server has forgotten, backs off when the upstream does not
 * answer. One timer per pool, re-armed to the next due time.
 */
export class UpstreamPool {
  /** Replaced (not mutated) by resize(): only the sizing fields and the cap change at run time. */
  config: ResolvedPoolConfig;
  readonly key: string;

  private readonly pending = new Map<number, Slot>();
  private readonly ready = new Map<number, Slot>();
  private head: Slot | undefined;
  private tail: Slot | undefined;
  private readonly taken = new Map<number, { openedAt: number; takenAt: number; usableUntil: number }>();

  private readonly bucket: TokenBucket;
  private readonly backoff: Backoff;
  private readonly learner: TtlLearner;
  private readonly demand: DemandMeter;
  private readonly bursts = new BurstMeter();
  private readonly retransmits: RetransmitEvidence;
  private readonly stats = new PoolStats();
  /**
   * takenAt of the latest entry reported dead on use: entries opened before
   * it died in the same server event (they were evicted, or were already
   * taken and in flight), so their deaths teach nothing new.
   */
  private deathCutoff = -Infinity;
  /** First take since the last refill opened entries, and the latest take (refill deferral). */
  private takesSince: number | undefined;
  private lastTakeAt = -Infinity;
  /** When the latest SYN that got its first SYN-ACK left (a timeout of an earlier one is isolated). */
  private lastAnsweredOpenedAt = -Infinity;

  private timer: TimerHandle | undefined;
  private timerAt = Infinity;
  private started = false;
  private closed = false;
  /**
   * Paused (passive health ejected the server): no SYN of any purpose leaves —
   * no fill, no refresh, no backoff retry or probe. Ready entries stay and are
   * still handed out until their TTL (see setPaused).
   */
  private paused = false;

  constructor(
    config: ResolvedPoolConfig,
    private readonly deps: UpstreamPoolDeps,
  ) {
    this.config = config;
    this.key = config.key;
    const now = deps.clock.now();
    this.bucket = new TokenBucket(config.synRatePerSec, config.synBurst, now);
    this.backoff = new Backoff(config, deps.random);
    this.learner = new TtlLearner(config);
    this.demand = new DemandMeter(config.demandWindowMs, now);
    this.retransmits = new RetransmitEvidence(retransmitTrustWindowMs(config.synAckRetransmitFirstMs, config.expectedSynAckRetries));
  }

  get isStarted(): boolean {
    return this.started && !this.closed;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * Stops (true) or resumes (false) opening entries. While paused the pool sends
   * no SYN at all: the proxy considers the server down, and the request-level probe
   * of passive health (one request after the ejection) decides when it is back.
   * Ready entries are neither released nor refreshed: releasing them would only
   * send RSTs to a server that may be gone, and one that was ejected for resets
   * but still holds them can serve the probe request from one; unused, they
   * expire at their TTL as usual. Pending SYNs run their course (an answer makes
   * a ready entry, silence a timeout that feeds the backoff). Resuming ticks at
   * once so the pool refills from what it learned (TTL, RTT, demand). Returns
   * whether the state changed.
   */
  setPaused(paused: boolean): boolean {
    if (this.closed || this.paused === paused) return false;
    this.paused = paused;
    this.emitFor('paused', { paused });
    if (!paused) this.arm(this.deps.clock.now());
    return true;
  }

  /**
   * Takes new sizing (targetSize, minSize, maxSize: an upstream's budget split anew
   * after a reload or a re-resolution) without a restart: entries, learned TTL, RTT,
   * demand and backoff stay. A smaller target is reached by not refreshing the
   * surplus (stale entries beyond the target are evicted by the next tick), never
   * by releasing fresh entries; a larger one fills paced as usual. `config` must
   * differ from the current one in sizing fields and cap only (the caller checks).
   */
  resize(config: ResolvedPoolConfig): void {
    if (this.closed) return;
    this.config = config;
    this.arm(this.deps.clock.now());
  }

  get effectiveTtlMs(): number {
    return this.learner.ttlMs;
  }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.arm(this.deps.clock.now());
  }

  /**
   * Removes and returns the oldest ready entry that still gets the server's
   * full initial window (its SYN-ACK retransmitted at most
   * maxSynAckRetransmits times by the time our first segment arrives), else the
   * oldest one younger than the effective TTL. Entries past their TTL met on
   * the way are released for good; aged ones are skipped, at most the cap of
   * them (the list is in openedAt order, so they sit at its head).
   * `youngest`: the newest usable entry instead (a held handoff, which may wait
   * for its first segment: the most time left before its window ends).
   */
  take(countDemand = true, youngest = false): HalfOpen | undefined {
    if (this.closed) return undefined;
    const now = this.deps.clock.now();
    this.noteTake(now, countDemand);
    const ttl = this.learner.ttlMs;
    const aging = this.agingApplies(now);
    let chosen: Slot | undefined;
    let fallback: Slot | undefined;
    for (let slot = youngest ? this.tail : this.head; slot !== undefined; ) {
      const next = youngest ? slot.prev : slot.next;
      if (this.keepReady(slot, now, ttl)) {
        if (!this.aged(slot, now, aging)) {
          chosen = slot;
          break;
        }
        fallback ??= slot;
      }
      slot = next;
    }
    const fullWindow = chosen !== undefined;
    chosen ??= fallback;
    if (chosen !== undefined) {
      const slot = chosen;
      this.unlink(slot);
      this.deps.owners.delete(slot.entry.id);
      this.taken.set(slot.entry.id, { openedAt: slot.openedAt, takenAt: now, usableUntil: this.usableUntil(slot, ttl, aging) });
      if (this.taken.size > TAKEN_MEMORY) {
        const oldest = this.taken.keys().next();
        if (!oldest.done) this.taken.delete(oldest.value);
      }
      this.stats.hits += 1;
      if (!fullWindow) this.stats.agedHits += 1;
      this.emitFor('hit', { id: slot.entry.id, ageMs: now - slot.openedAt, synAcks: slot.synAcks, fullWindow });
      this.arm(this.refillAt(now));
      return slot.entry;
    }
    this.missed(now);
    return undefined;
  }

  /**
   * `count` requests went to the server without asking for an entry, because their
   * client had been told none was ready (the keeper's ready counts): each counts as
   * take() on an empty pool would, so demand sizing and the miss count see them.
   */
  noteMisses(count: number): void {
    if (this.closed) return;
    const now = this.deps.clock.now();
    for (let i = 0; i < count; i++) {
      this.noteTake(now, true);
      this.missed(now);
    }
  }

  /**
   * Entries ready to hand out now (an aged one included: take() falls back to it),
   * less the stale surplus the next tick evicts: while a refresh's replacements
   * arrive the list holds both, and a count told to workers must not promise the
   * old ones as well (they would ask for more than the pool keeps, and be refused).
   */
  get readyCount(): number {
    if (this.closed) return 0;
    const now = this.deps.clock.now();
    const ttl = this.learner.ttlMs;
    const aging = this.agingApplies(now);
    let fresh = 0;
    let stale = 0;
    for (let slot = this.head; slot !== undefined; slot = slot.next) {
      if (this.refreshDue(slot, now, ttl, aging)) stale += 1;
      else fresh += 1;
    }
    return fresh + stale - staleSurplus(stale, fresh, this.clamp(this.computedTarget(now)));
  }

  /** A take's demand and refill-deferral bookkeeping, hit or miss. */
  private noteTake(now: number, countDemand: boolean): void {
    // A take after a pause starts a new run (an earlier run's start must not cut this one's deferral short).
    if (this.takesSince === undefined || now - this.lastTakeAt >= REFILL_QUIET_MS) this.takesSince = now;
    this.lastTakeAt = now;
    if (countDemand) {
      this.demand.record(now);
      const c = this.config;
      this.bursts.record(now, refillWindowMs(this.stats.rttMs, c.refillMarginMs), c.burstMemoryMs, c.cap);
    }
  }

  private missed(now: number): void {
    this.stats.misses += 1;
    this.emitFor('miss', { reason: 'empty' });
    this.arm(this.refillAt(now));
  }

  /** Driver event: a SYN-ACK for one of our entries. */
  onSynAck(entry: HalfOpen, info: { retransmit: boolean; rttMs: number }): void {
    if (this.closed) return;
    const now = this.deps.clock.now();
    const waiting = this.pending.get(entry.id);
    if (waiting !== undefined) {
      this.pending.delete(entry.id);
      waiting.synAcks = 1;
      waiting.firstSynAckAt = now;
      waiting.lastSynAckAt = now;
      waiting.dropsAt = this.readDrops();
      this.lastAnsweredOpenedAt = Math.max(this.lastAnsweredOpenedAt, waiting.openedAt);
      // A retransmit as the first SYN-ACK we see carries no usable RTT.
      if (!info.retransmit) this.stats.recordRtt(info.rttMs);
      this.stats.synAcks += 1;
      this.insertReady(waiting);
      this.stateChanged(this.backoff.onSuccess());
      this.emitFor('entry-ready', { id: entry.id, rttMs: info.rttMs });
      this.arm(now);
      return;
    }
    const slot = this.ready.get(entry.id);
    if (slot !== undefined) {
      // The server still holds the entry: a liveness signal, not a new entry.
      slot.synAcks += 1;
      slot.lastSynAckAt = now;
      slot.dropsAt = this.readDrops();
      this.stats.synAckRetransmits += 1;
      const wasTrusted = this.retransmits.trusted(now, this.overdueGraceMs());
      this.retransmits.seen(now);
      // Overdue checks start counting now: let the next tick plan for them.
      if (!wasTrusted) this.arm(now);
    }
  }

  /** Driver event: the upstream reset one of our entries. */
  onReset(entry: HalfOpen): void {
    if (this.closed) return;
    const now = this.deps.clock.now();
    const waiting = this.pending.get(entry.id);
    if (waiting !== undefined) {
      this.pending.delete(entry.id);
      this.deps.owners.delete(entry.id);
      this.safeRelease(entry);
      this.failure('refused', now, entry.id, new HandshakeRefusedError(this.key));
      this.arm(now);
      return;
    }
    const slot = this.ready.get(entry.id);
    if (slot !== undefined) {
      this.evict(slot, 'reset', now);
      this.learn(now - slot.openedAt, now);
      this.arm(now);
    }
  }

  /**
   * The first use of the entry `id`, taken from this pool, was reset before
   * the server acknowledged any byte (SYNPOOL_ERR_POOLED_RESET): the server
   * had forgotten it. Learns the entry's age at take time. Anything else a
   * connection meets after that (a reset after the request was acknowledged,
   * a close) is the application's business and must not be reported: a
   * client could otherwise steer the pool. Returns false, learning nothing,
   * for an entry this pool did not hand out (or long ago) or one already
   * reported.
   */
  reportDead(id: number): boolean {
    if (this.closed) return false;
    const rec = this.taken.get(id);
    if (rec === undefined) return false;
    this.taken.delete(id);
    const now = this.deps.clock.now();
    this.stats.deadOnUse += 1;
    // Whatever made the server forget this entry (a restart, pruning under
    // SYN-queue pressure) hit the entries it held at the same time too:
    // take() hands out the oldest first, so every ready entry opened before
    // this one was taken is suspect. Replacing them costs SYNs; handing them
    // out would cost each request a failed attempt. Entries of that same
    // generation already in flight die too: only the first death of a
    // generation feeds TTL learning, so one restart is one observation.
    if (rec.openedAt >= this.deathCutoff) this.learn(rec.takenAt - rec.openedAt, now);
    this.deathCutoff = Math.max(this.deathCutoff, rec.takenAt);
    const takenAt = rec.takenAt;
    for (let slot = this.head; slot !== undefined && slot.openedAt < takenAt; ) {
      const next = slot.next;
      this.evict(slot, 'sibling-dead', now);
      slot = next;
    }
    this.arm(now);
    return true;
  }

  /** acquire(): driver.handoff() threw for an entry this pool handed out. */
  handoffFailed(entry: HalfOpen): void {
    const now = this.deps.clock.now();
    const rec = this.taken.get(entry.id);
    this.taken.delete(entry.id);
    this.safeRelease(entry);
    this.stats.evicted['handoff-failed'] += 1;
    this.emitFor('entry-evicted', {
      id: entry.id,
      reason: 'handoff-failed',
      ageMs: rec === undefined ? 0 : now - rec.openedAt,
    });
  }

  /** False once consecutive SYN failures made the upstream 'unreachable' (until a probe is answered). */
  get reachable(): boolean {
    return this.backoff.state !== 'unreachable';
  }

  /** Releases every entry (RST + port freed) and stops the timer. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    const all = [...this.pending.values(), ...this.ready.values()];
    this.pending.clear();
    this.ready.clear();
    this.head = this.tail = undefined;
    this.taken.clear();
    for (const slot of all) {
      this.deps.owners.delete(slot.entry.id);
      this.safeRelease(slot.entry);
    }
  }

  snapshot(): PoolSnapshot {
    const now = this.deps.clock.now();
    const computedTarget = this.computedTarget(now);
    const learned = this.learner.snapshot(now);
    const s = this.stats;
    return {
      upstream: this.key,
      state: this.backoff.state,
      paused: this.paused,
      ready: this.ready.size,
      pending: this.pending.size,
      computedTarget,
      targetReady: this.clamp(computedTarget),
      cap: this.config.cap,
      demandPerSec: this.demand.ratePerSec(now),
      burstPeak: this.bursts.peak(now, this.config.burstMemoryMs),
      hits: s.hits,
      agedHits: s.agedHits,
      misses: s.misses,
      expiredUnused: s.expiredUnused,
      evicted: { ...s.evicted },
      deadOnUse: s.deadOnUse,
      synsSent: s.synsSent,
      synAcks: s.synAcks,
      synAckRetransmits: s.synAckRetransmits,
      failures: { ...s.failures, consecutive: this.backoff.consecutiveFailures },
      synAckRtt: s.rtt(),
      effectiveTtlMs: learned.effectiveTtlMs,
      configuredTtlMs: learned.configuredTtlMs,
      learned: { earlyDeaths: learned.earlyDeaths, observedLifetimeMs: learned.observedLifetimeMs },
      retransmitsTrusted: this.retransmits.trusted(now, this.overdueGraceMs()),
    };
  }

  // ---- sizing -------------------------------------------------------------

  private computedTarget(now: number): number {
    const c = this.config;
    if (c.sizing === 'fixed') return c.targetSize;
    return demandTarget({
      demandPerSec: this.demand.ratePerSec(now),
      synAckRttMs: this.stats.rttMs,
      refillMarginMs: c.refillMarginMs,
      safetyFactor: c.safetyFactor,
      burstEntries: c.burstEntries,
      burstPeak: this.bursts.peak(now, c.burstMemoryMs),
    });
  }

  private clamp(computed: number): number {
    return clampTarget(computed, this.config.minSize, this.config.maxSize, this.config.cap);
  }

  // ---- the tick ------------------------------------------------------------

  /** When a refill may open entries: now, or after the current run of takes (REFILL_QUIET_MS, at most REFILL_DEFER_MAX_MS). */
  private refillAt(now: number): number {
    if (this.takesSince === undefined) return now;
    const at = Math.min(this.lastTakeAt + REFILL_QUIET_MS, this.takesSince + REFILL_DEFER_MAX_MS);
    return at > now ? at : now;
  }

  private arm(at: number): void {
    if (this.closed || !this.started || at >= this.timerAt) return;
    if (this.timer !== undefined) this.deps.clock.clearTimeout(this.timer);
    const now = this.deps.clock.now();
    this.timerAt = at;
    // Whole milliseconds, rounded up, so the tick never runs before `at`.
    this.timer = this.deps.clock.setTimeout(() => this.tick(), Math.max(0, Math.ceil(at - now)));
  }

  private tick(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.closed) return;
    const now = this.deps.clock.now();
    let next = now + TICK_RETRY_MS;
    try {
      next = this.runTick(now);
    } finally {
      this.arm(Math.max(next, now + MIN_TICK_SPACING_MS));
    }
  }

  /** One pass over the pool; returns when the next tick is due. */
  private runTick(now: number): number {
    const c = this.config;
    const recovered = this.learner.maybeRecover(now);
    if (recovered !== undefined) this.ttlChanged(recovered);
    const ttl = this.learner.ttlMs;

    // Read what has arrived before counting silence (driver.poll()).
    if (this.anyTimedOut(now)) this.pollDriver();
    for (const slot of [...this.pending.values()]) {
      if (this.pending.get(slot.entry.id) !== slot) continue;
      if (now - slot.openedAt < c.synAckTimeoutMs) continue;
      this.pending.delete(slot.entry.id);
      this.deps.owners.delete(slot.entry.id);
      this.safeRelease(slot.entry);
      // A SYN-ACK the kernel dropped on our side (a full receive buffer) is no
      // sign of a silent upstream: the next tick may send the SYN again.
      // Nor is one SYN left unanswered while a later one was answered: the upstream is there.
      // Its usual cause is a port the server still holds in TIME-WAIT for an earlier
      // connection whose timestamps ran on another clock (another process's, or the
      // kernel's own): the server answers with that connection's ACK, which our filter
      // drops. Backing off for it would stall the pool for seconds under steady demand.
      const reason = this.dropsSince(slot) ? 'answer-dropped' : this.lastAnsweredOpenedAt >= slot.openedAt ? 'isolated-timeout' : 'timeout';
      this.failure(reason, now, slot.entry.id, new HandshakeTimeoutError(this.key, c.synAckTimeoutMs));
    }

    for (const slot of this.readyList()) {
      if (this.ready.get(slot.entry.id) === slot) this.keepReady(slot, now, ttl);
    }

    // Stale entries (inside the refresh lead of their TTL or of their full
    // window) stay only while fresh ones do not cover the target.
    const target = this.clamp(this.computedTarget(now));
    const aging = this.agingApplies(now);
    let fresh = 0;
    const stale: Slot[] = [];
    for (const slot of this.readyList()) {
      if (this.refreshDue(slot, now, ttl, aging)) stale.push(slot);
      else fresh += 1;
    }
    const surplus = staleSurplus(stale.length, fresh, target);
    for (const slot of stale.splice(0, surplus)) this.evict(slot, 'refreshed', now);

    let blockedOnToken = false;
    let limited = false;
    const need = (): number => target - fresh - this.pending.size;
    const makeRoom = (): boolean => {
      if (this.ready.size + this.pending.size < c.cap) return true;
      const oldest = stale.shift();
      if (oldest === undefined) return false;
      this.evict(oldest, 'refreshed', now);
      return true;
    };
    const refillAt = this.refillAt(now);
    const deferred = refillAt > now;
    if (need() > 0 && !this.paused && !deferred) {
      this.takesSince = undefined;
      if (this.backoff.state === 'ok') {
        for (let opens = 0; need() > 0 && this.backoff.state === 'ok'; opens++) {
          if (opens >= c.maxOpensPerTick) {
            limited = true;
            break;
          }
          if (this.bucket.available(now) < 1) {
            blockedOnToken = true;
            break;
          }
          if (!makeRoom()) break;
          this.bucket.tryTake(now);
          if (!this.open(stale.length > 0 ? 'refresh' : 'fill', now)) break;
        }
      } else if (this.pending.size === 0 && now >= this.backoff.nextAttemptAt) {
        if (this.bucket.available(now) < 1) blockedOnToken = true;
        else if (makeRoom()) {
          this.bucket.tryTake(now);
          this.open(this.backoff.state === 'unreachable' ? 'probe' : 'retry', now);
        }
      }
    }

    // When is the next thing due?
    let next = this.learner.nextRecoveryAt();
    for (const slot of this.pending.values()) next = Math.min(next, slot.openedAt + c.synAckTimeoutMs);
    const checkOverdue = this.retransmits.trusted(now, this.overdueGraceMs());
    for (const slot of this.ready.values()) {
      next = Math.min(next, slot.openedAt + ttl, checkOverdue ? this.overdueAt(slot) : Infinity);
      const staleAt = this.staleAt(slot, ttl, aging);
      if (staleAt > now) next = Math.min(next, staleAt);
    }
    if (deferred && need() > 0 && !this.paused) next = Math.min(next, refillAt);
    else if (need() > 0 && !this.paused) {
      if (this.backoff.state !== 'ok') {
        if (this.pending.size === 0) next = Math.min(next, Math.max(this.backoff.nextAttemptAt, now + this.bucket.msUntilToken(now)));
      } else if (blockedOnToken) {
        next = Math.min(next, now + this.bucket.msUntilToken(now));
      } else if (limited) {
        next = Math.min(next, now + Math.ceil(1000 / c.synRatePerSec));
      }
    }
    return next;
  }

  /**
   * How long a taken entry may wait for its first segment (a held handoff): until its
   * TTL, and, where the window is watched, the end of its full window.
   */
  private usableUntil(slot: Slot, ttl: number, aging: boolean): number {
    const byTtl = slot.openedAt + ttl;
    return aging || slot.synAcks >= 2 ? Math.min(byTtl, this.fullWindowUntil(slot)) : byTtl;
  }

  /** For an entry this pool handed out recently: until when it may wait for its first segment (clock ms), else undefined. */
  usableUntilOf(id: number): number | undefined {
    return this.taken.get(id)?.usableUntil;
  }

  /** Age at which an entry is replaced: TTL − lead × (1 + jitter), lead = min(refreshLeadMs, TTL / 4). */
  private refreshAge(slot: Slot, ttl: number): number {
    const lead = Math.min(this.config.refreshLeadMs, ttl / 4);
    return ttl - lead * (1 + slot.jitter);
  }

  /** Whether a tick at `now` replaces the entry: it is stale, or turns stale within the coalescing span. */
  private refreshDue(slot: Slot, now: number, ttl: number, aging: boolean): boolean {
    // The timer still fires at the first staleAt: coalescing only joins what a tick would wake for anyway.
    const at = this.staleAt(slot, ttl, aging);
    return now + Math.min(REFRESH_COALESCE_MS, (at - slot.openedAt) / 8) >= at;
  }

  /**
   * When a replacement for the entry is opened: at its TTL's refresh age, or,
   * where aging applies, early enough before the end of its full window that
   * the replacement's SYN-ACK (one RTT, plus the refill margin) is back by then.
   */
  private staleAt(slot: Slot, ttl: number, aging: boolean): number {
    const byTtl = slot.openedAt + this.refreshAge(slot, ttl);
    if (!aging && slot.synAcks < 2) return byTtl;
    const lead = (this.stats.rttMs + this.config.refillMarginMs) * (1 + slot.jitter);
    return Math.min(byTtl, this.fullWindowUntil(slot) - lead);
  }

  /**
   * Until when a request may take this entry and still have its first segment
   * reach the server before the server's (maxSynAckRetransmits + 1)-th SYN-ACK
   * transmission after the first: the server retransmits at F, 3F, 7F… after
   * its first SYN-ACK (F = synAckRetransmitFirstMs), so the bound is
   * F × (2^(n+1) − 1) after it. The first SYN-ACK reached us half an RTT after
   * the server sent it, and our segment needs another half: one RTT earlier.
   */
  private fullWindowUntil(slot: Slot): number {
    const c = this.config;
    const span = c.synAckRetransmitFirstMs * (2 ** (c.maxSynAckRetransmits + 1) - 1);
    return slot.firstSynAckAt + span - this.stats.rttMs - FULL_WINDOW_MARGIN_MS;
  }

  /**
   * Whether the entry is past its full window: seen retransmitted more than
   * maxSynAckRetransmits times, or, where aging applies, past fullWindowUntil.
   */
  private aged(slot: Slot, now: number, aging: boolean): boolean {
    if (slot.synAcks > this.config.maxSynAckRetransmits + 1) return true;
    return (aging || slot.synAcks >= 2) && now >= this.fullWindowUntil(slot);
  }

  /**
   * An upstream seen retransmitting holds SYN_RECV entries, whose window
   * shrinks with their retransmits. A SYN-cookie upstream never retransmits
   * (the connection starts with total_retrans 0): its entries never age; an
   * entry that was itself retransmitted ages whatever this says.
   */
  private agingApplies(now: number): boolean {
    return this.retransmits.trusted(now, this.overdueGraceMs());
  }

  /**
   * When the missing next SYN-ACK retransmit proves the server forgot the
   * entry (Infinity: no more expected). Only while the upstream is seen
   * retransmitting at all (see RetransmitEvidence).
   */
  private overdueAt(slot: Slot): number {
    return this.expectedRetransmitAt(slot) + this.overdueGraceMs();
  }

  private overdueGraceMs(): number {
    return Math.max(OVERDUE_GRACE_MIN_MS, 2 * this.stats.rttMs);
  }

  private expectedRetransmitAt(slot: Slot): number {
    const retries = this.config.expectedSynAckRetries;
    if (slot.synAcks > retries) return Infinity;
    // The server's SYN-ACK timer starts at ~1 s and doubles: 1, 3, 7, 15, 31 s after the first.
    return slot.lastSynAckAt + this.config.synAckRetransmitFirstMs * 2 ** (slot.synAcks - 1);
  }

  /** Checks a ready entry; releases it (and returns false) when it must not be handed out any more. */
  private keepReady(slot: Slot, now: number, ttl: number): boolean {
    const state = slot.entry.state;
    if (state === 'released' || state === 'handed-off') {
      this.evict(slot, 'driver-released', now);
      return false;
    }
    const age = now - slot.openedAt;
    if (age >= ttl) {
      this.unlink(slot);
      this.deps.owners.delete(slot.entry.id);
      this.safeRelease(slot.entry);
      this.stats.expiredUnused += 1;
      this.emitFor('entry-expired', { id: slot.entry.id, ageMs: age });
      return false;
    }
    if (now >= this.overdueAt(slot) && this.retransmits.trusted(now, this.overdueGraceMs())) {
      const diedAt = this.expectedRetransmitAt(slot);
      this.evict(slot, 'retransmit-overdue', now);
      // The retransmit may have been dropped on our side: then the server's
      // forgetting is not proven, and a wrong early death would shorten the TTL.
      if (!this.dropsSince(slot)) this.learn(diedAt - slot.openedAt, now);
      return false;
    }
    return true;
  }

  // ---- entries -------------------------------------------------------------

  private open(purpose: OpenPurpose, now: number): boolean {
    let entry: HalfOpen;
    // Read before the SYN leaves, so a drop of its answer can only move the counter after this.
    const dropsAt = this.readDrops();
    try {
      entry = this.deps.driver.open(this.config.target);
    } catch (error) {
      this.failure('open-error', now, null, error);
      return false;
    }
    this.stats.synsSent += 1;
    const slot: Slot = {
      entry,
      openedAt: now,
      jitter: Math.min(0.999, Math.max(0, this.deps.random())),
      synAcks: 0,
      firstSynAckAt: now,
      lastSynAckAt: now,
      dropsAt,
      prev: undefined,
      next: undefined,
    };
    this.pending.set(entry.id, slot);
    this.deps.owners.set(entry.id, this);
    this.emitFor('syn-sent', { id: entry.id, purpose });
    return true;
  }

  private evict(slot: Slot, reason: EvictReason, now: number): void {
    this.unlink(slot);
    this.deps.owners.delete(slot.entry.id);
    this.safeRelease(slot.entry);
    this.stats.evicted[reason] += 1;
    this.emitFor('entry-evicted', { id: slot.entry.id, reason, ageMs: now - slot.openedAt });
  }

  private safeRelease(entry: HalfOpen): void {
    try {
      this.deps.driver.release(entry);
    } catch {
      // release() is best effort (a RST and a closed fd); a failure must not stop the pool.
      this.stats.failures.releaseErrors += 1;
    }
  }

  /** Ready list in insertion order, which is openedAt order (SYN-ACKs can overtake: insertReady sorts). */
  private insertReady(slot: Slot): void {
    let after = this.tail;
    while (after !== undefined && after.openedAt > slot.openedAt) after = after.prev;
    slot.prev = after;
    slot.next = after === undefined ? this.head : after.next;
    if (slot.next !== undefined) slot.next.prev = slot;
    else this.tail = slot;
    if (after !== undefined) after.next = slot;
    else this.head = slot;
    this.ready.set(slot.entry.id, slot);
  }

  private unlink(slot: Slot): void {
    if (this.ready.get(slot.entry.id) !== slot) return;
    this.ready.delete(slot.entry.id);
    if (slot.prev !== undefined) slot.prev.next = slot.next;
    else this.head = slot.next;
    if (slot.next !== undefined) slot.next.prev = slot.prev;
    else this.tail = slot.prev;
    slot.prev = slot.next = undefined;
  }

  private readyList(): Slot[] {
    const out: Slot[] = [];
    for (let s = this.head; s !== undefined; s = s.next) out.push(s);
    return out;
  }

  // ---- signals -------------------------------------------------------------

  private failure(reason: SynFailure, now: number, id: number | null, error: unknown): void {
    const f = this.stats.failures;
    if (reason === 'timeout') f.timeouts += 1;
    else if (reason === 'refused') f.refused += 1;
    else if (reason === 'answer-dropped') f.answerDropped += 1;
    else if (reason === 'isolated-timeout') f.isolatedTimeouts += 1;
    else f.openErrors += 1;
    this.emitFor('syn-failed', { reason, id, error });
    if (reason !== 'answer-dropped' && reason !== 'isolated-timeout') this.stateChanged(this.backoff.onFailure(now));
  }

  private anyTimedOut(now: number): boolean {
    for (const slot of this.pending.values()) if (now - slot.openedAt >= this.config.synAckTimeoutMs) return true;
    return false;
  }

  private pollDriver(): void {
    try {
      this.deps.driver.poll();
    } catch {
      // Best effort: without it a late-read SYN-ACK counts as a timeout, as before.
    }
  }

  /** The driver's drop counter, or undefined if it cannot be read (then nothing is excused). */
  private readDrops(): number | undefined {
    try {
      return this.deps.driver.channelDrops();
    } catch {
      return undefined;
    }
  }

  /** Did the channel drop packets since the slot's SYN (or last SYN-ACK)? */
  private dropsSince(slot: Slot): boolean {
    if (slot.dropsAt === undefined) return false;
    const current = this.readDrops();
    return current !== undefined && current !== slot.dropsAt;
  }

  private stateChanged(change: StateChange | undefined): void {
    if (change === undefined) return;
    const now = this.deps.clock.now();
    this.emitFor('upstream-state', {
      from: change.from,
      to: change.to,
      consecutiveFailures: this.backoff.consecutiveFailures,
      nextAttemptInMs: change.to === 'ok' ? 0 : Math.max(0, this.backoff.nextAttemptAt - now),
    });
  }

  private learn(lifetimeMs: number, now: number): void {
    const change = this.learner.observe(lifetimeMs, now);
    if (change !== undefined) this.ttlChanged(change);
  }

  private ttlChanged(change: TtlChange): void {
    this.deps.emit('ttl-learned', { upstream: this.key, ...change });
  }

  private emitFor<K extends Exclude<keyof PoolEventsWithUpstream, 'ttl-learned'>>(
    name: K,
    payload: Omit<PoolEventsWithUpstream[K], 'upstream'>,
  ): void {
    (this.deps.emit as (n: string, e: unknown) => void)(name, { upstream: this.key, ...payload });
  }
}

type PoolEventsWithUpstream = { [K in keyof PoolEvents]: PoolEvents[K][0] };

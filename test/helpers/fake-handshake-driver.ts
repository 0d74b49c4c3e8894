import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import { EntryStateError } from '../../src/errors.js';
import type { HandshakeDriver, HandshakeDriverEvents } from '../../src/handshake/driver.js';
import { formatEndpoint, type Endpoint } from '../../src/handshake/endpoint.js';
import type { HalfOpen } from '../../src/handshake/half-open.js';
import type { Clock } from '../../src/pool/clock.js';

/** Offsets after the first SYN-ACK at which a Linux server retransmits it (tcp_synack_retries=5). */
export const LINUX_SYNACK_RETRANSMITS_MS: readonly number[] = [1_000, 3_000, 7_000, 15_000, 31_000];

/** How the fake upstream answers a SYN, when it answers by itself. */
export interface FakeUpstreamBehaviour {
  /** 'answer': SYN-ACK after rttMs; 'refuse': RST after rttMs; 'silent': nothing. */
  mode: 'answer' | 'refuse' | 'silent';
  rttMs: number;
  /** How many of LINUX_SYNACK_RETRANSMITS_MS to send (0..5); fewer = a server under pressure or a SYN cookie. */
  retransmits: number;
}

/**
 * A HandshakeDriver without a kernel, for unit tests: records every call,
 * lets the test deliver SYN-ACKs and RSTs (by hand or automatically through
 * the injected clock), and can be told to throw.
 */
export class FakeHandshakeDriver extends EventEmitter<HandshakeDriverEvents> implements HandshakeDriver {
  /** Every open() call, including those that threw: [time, target]. */
  readonly openCalls: { at: number; target: Endpoint }[] = [];
  readonly opened: HalfOpen[] = [];
  readonly released: HalfOpen[] = [];
  readonly handedOff: HalfOpen[] = [];
  /** Thrown by open() when set (a function may decide per target). */
  openError: Error | ((target: Endpoint) => Error | undefined) | undefined;
  /** Thrown by handoff() when set. */
  handoffError: Error | undefined;
  /** Automatic answers; `undefined` = the test answers by hand. Per target key when a map entry exists. */
  behaviour: FakeUpstreamBehaviour | undefined;
  readonly behaviourByTarget = new Map<string, FakeUpstreamBehaviour>();
  closed = false;
  /** What channelDrops() returns: raise it to simulate answers lost on our side (a full receive buffer). */
  drops = 0;
  private nextId = 1;
  /** Entries the fake server no longer holds (restart, pruning): no more retransmits. */
  private readonly forgotten = new Set<number>();

  constructor(private readonly clock: Clock) {
    super();
  }

  open(target: Endpoint): HalfOpen {
    const now = this.clock.now();
    this.openCalls.push({ at: now, target });
    const error = typeof this.openError === 'function' ? this.openError(target) : this.openError;
    if (error !== undefined) throw error;
    const id = this.nextId++;
    const entry: HalfOpen = {
      id,
      target,
      local: { address: '10.0.0.1', port: 40_000 + (id % 20_000) },
      syn: { isn: (id * 2_654_435_761) >>> 0, tsVal: Math.floor(now), wscale: 7, mss: 1460, window: 65535 },
      sentAt: now,
      state: 'syn-sent',
      synAck: undefined,
      synAckAt: undefined,
      lastSynAckAt: undefined,
      synAckCount: 0,
    };
    this.opened.push(entry);
    const b = this.behaviourByTarget.get(formatEndpoint(target)) ?? this.behaviour;
    if (b !== undefined && b.mode !== 'silent') {
      this.clock.setTimeout(() => {
        if (entry.state !== 'syn-sent') return;
        if (b.mode === 'refuse') return this.reset(entry);
        this.synAck(entry, b.rttMs);
        for (const offset of LINUX_SYNACK_RETRANSMITS_MS.slice(0, b.retransmits)) {
          this.clock.setTimeout(() => this.retransmit(entry), offset);
        }
      }, b.rttMs);
    }
    return entry;
  }

  /** Delivers the first SYN-ACK of a pending entry. */
  synAck(entry: HalfOpen, rttMs = 1): void {
    if (entry.state !== 'syn-sent') return;
    const now = this.clock.now();
    entry.state = 'established';
    entry.synAck = { serverIsn: 1, window: 65535, mss: 1460, wscale: 7, sackOk: true, tsOk: true, tsVal: 1 };
    entry.synAckAt = now;
    entry.lastSynAckAt = now;
    entry.synAckCount = 1;
    this.emit('synack', entry, { retransmit: false, rttMs });
  }

  /** Delivers a SYN-ACK retransmit for an established entry (none once the server forgot it). */
  retransmit(entry: HalfOpen): void {
    if (entry.state !== 'established' || this.forgotten.has(entry.id)) return;
    entry.lastSynAckAt = this.clock.now();
    entry.synAckCount += 1;
    this.emit('synack', entry, { retransmit: true, rttMs: 0 });
  }

  /** The fake server forgets an entry silently (a restart): its scheduled retransmits stop. */
  forget(entry: HalfOpen): void {
    this.forgotten.add(entry.id);
  }

  /** Delivers a RST from the upstream (refused in syn-sent, forgotten when established). */
  reset(entry: HalfOpen): void {
    if (entry.state === 'released' || entry.state === 'handed-off') return;
    this.emit('reset', entry);
  }

  handoff(entry: HalfOpen): Socket {
    if (this.handoffError !== undefined) throw this.handoffError;
    if (entry.state !== 'established') throw new EntryStateError(formatEndpoint(entry.target), entry.state, 'established');
    entry.state = 'handed-off';
    this.handedOff.push(entry);
    return new Socket();
  }

  /** handoff() as a descriptor: a made-up number (nothing here is a real socket); `held` records which were held. */
  readonly held: HalfOpen[] = [];
  handoffFd(entry: HalfOpen, hold = false): number {
    this.handoff(entry);
    if (hold) this.held.push(entry);
    return 10_000 + entry.id;
  }

  release(entry: HalfOpen): void {
    if (entry.state === 'released' || entry.state === 'handed-off') return;
    entry.state = 'released';
    this.released.push(entry);
  }

  channelDrops(): number {
    return this.drops >>> 0;
  }

  /** SYN-ACKs that "arrived" but are not read until poll() (a busy event loop). */
  readonly unread: HalfOpen[] = [];
  pollCalls = 0;

  poll(): void {
    this.pollCalls++;
    for (const entry of this.unread.splice(0)) this.synAck(entry);
  }

  close(): void {
    this.closed = true;
    for (const e of this.opened) this.release(e);
  }

  /** Entries neither released nor handed off. */
  live(): HalfOpen[] {
    return this.opened.filter((e) => e.state === 'syn-sent' || e.state === 'established');
  }
}

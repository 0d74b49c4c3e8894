import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { closeFd } from '../../native/socket-ops.js';
import { EntryStateError, TargetNotAllowedError } from '../errors.js';
import { encodeRst, encodeSyn, TCP_FLAGS, type DecodedSegment } from '../packet/index.js';
import type { HandshakeDriver, HandshakeDriverEvents } from './driver.js';
import { endpointKey, formatEndpoint, type Endpoint } from './endpoint.js';
import type { HalfOpen, SynAckInfo } from './half-open.js';
import { resolveLocalRoute, type LocalRoute } from './local-route.js';
import { PortReservation } from './port-reservation.js';
import { randomIsnTag, taggedIsn } from './isn-tag.js';
import { finishRepair, prepareRepairSocket } from './repair.js';
import { RepairedSocket } from './repaired-socket.js';
import { SynChannel } from './syn-channel.js';
import { tsClockNow } from './ts-clock.js';

export interface HandshakerOptions {
  /** The only endpoints that may ever be sent a SYN; more can be added with allow(). */
  targets?: readonly Endpoint[];
  /** The (unscaled) window our SYN carries. Default 64240, as Linux sends. */
  synWindow?: number;
  /** The window scale our SYN offers. Default 7, as Linux picks for its default buffers. */
  wscale?: number;
  /**
   * Do the repair steps that touch only a CLOSE socket (socket, TCP_REPAIR,
   * bind, queue sequences, MSS) when the SYN-ACK arrives, so a handoff runs
   * only the rest. Costs one more fd per ready entry. Default true.
   */
  prepareOnSynAck?: boolean;
  /** The tag every ISN carries (isn-tag.ts); random by default, so each handshaker filters only its own answers. */
  isnTag?: number;
}

export interface HandshakerStats {
  opened: number;
  synAcks: number;
  retransmits: number;
  refused: number;
  handedOff: number;
  released: number;
  /** Segments from a target that matched no entry, or did not fit its state. */
  unmatched: number;
  malformed: number;
}

interface Slot {
  entry: HalfOpen;
  reservation: PortReservation;
  repairFd: number;
}

/** RFC 9293: the MSS to assume when a SYN-ACK carries none. */
const DEFAULT_MSS = 536;
const MAX_WSCALE = 14;

/**
 * The real HandshakeDriver: raw SYNs out, SYN-ACK and RST in, ports held by
 * drop-all listeners, TCP_REPAIR for the handoff.
 */
export class Handshaker extends EventEmitter<HandshakeDriverEvents> implements HandshakeDriver {
  readonly stats: HandshakerStats = {
    opened: 0, synAcks: 0, retransmits: 0, refused: 0, handedOff: 0, released: 0, unmatched: 0, malformed: 0,
  };
  readonly #channel: SynChannel;
  readonly #allowed = new Map<string, Endpoint>();
  readonly #routes = new Map<string, LocalRoute>();
  /** By our local endpoint, which is what an inbound segment is addressed to. */
  readonly #slots = new Map<string, Slot>();
  readonly #synWindow: number;
  readonly #wscale: number;
  readonly #prepare: boolean;
  #nextId = 1;
  #isnPool = Buffer.alloc(0);
  #isnOffset = 0;
  #closed = false;

  private constructor(channel: SynChannel, options: HandshakerOptions) {
    super();
    this.#channel = channel;
    this.#synWindow = options.synWindow ?? 64240;
    this.#wscale = options.wscale ?? 7;
    this.#prepare = options.prepareOnSynAck ?? true;
    for (const t of options.targets ?? []) this.#allowed.set(endpointKey(t), t);
    channel.on('segment', (s) => this.#onSegment(s));
    channel.on('malformed', (reason) => {
      this.stats.malformed++;
      this.emit('malformed', reason);
    });
    channel.on('error', (err) => this.emit('channelError', err));
  }

  /** Opens the raw channel. Throws CapabilityError without CAP_NET_RAW. */
  static create(options: HandshakerOptions = {}): Handshaker {
    const targets = options.targets ?? [];
    return new Handshaker(SynChannel.open(targets, options.isnTag ?? randomIsnTag()), options);
  }

  get channelStats() {
    return this.#channel.stats;
  }

  /** The tag in every ISN this handshaker sends (ISN+1's top bits). */
  get isnTag(): number {
    return this.#channel.isnTag;
  }

  channelDrops(): number {
    return this.#channel.drops();
  }

  poll(): void {
    this.#channel.poll();
  }

  /** Adds a target to the allowlist (and to the kernel filter). */
  allow(target: Endpoint): void {
    const key = endpointKey(target);
    if (this.#allowed.has(key)) return;
    this.#allowed.set(key, target);
    this.#channel.setTargets([...this.#allowed.values()]);
  }

  /**
   * Removes a target from the allowlist and the kernel filter (its name no
   * longer resolves to it); its live entries are released with RSTs, and a
   * later open() to it throws TargetNotAllowedError.
   */
  disallow(target: Endpoint): void {
    const key = endpointKey(target);
    if (!this.#allowed.delete(key)) return;
    for (const slot of [...this.#slots.values()]) {
      if (endpointKey(slot.entry.target) === key) this.release(slot.entry);
    }
    this.#routes.delete(key);
    if (!this.#closed) this.#channel.setTargets([...this.#allowed.values()]);
  }

  /** Entries not yet handed off or released. */
  get liveEntries(): number {
    return this.#slots.size;
  }

  open(target: Endpoint): HalfOpen {
    if (this.#closed) throw new EntryStateError(formatEndpoint(target), 'closed', 'an open handshaker');
    const key = endpointKey(target);
    if (!this.#allowed.has(key)) throw new TargetNotAllowedError(formatEndpoint(target));
    let route = this.#routes.get(key);
    if (!route) {
      route = resolveLocalRoute(target);
      this.#routes.set(key, route);
    }
    const reservation = PortReservation.reserve(route.sourceAddress);
    const entry: HalfOpen = {
      id: this.#nextId++,
      target,
      local: { address: reservation.address, port: reservation.port },
      syn: { isn: this.#randomIsn(), tsVal: tsClockNow(), wscale: this.#wscale, mss: route.mss, window: this.#synWindow },
      sentAt: performance.now(),
      state: 'syn-sent',
      synAck: undefined,
      synAckAt: undefined,
      lastSynAckAt: undefined,
      synAckCount: 0,
    };
    this.#slots.set(endpointKey(entry.local), { entry, reservation, repairFd: -1 });
    this.#channel.send(
      encodeSyn({
        srcAddr: entry.local.address,
        dstAddr: target.address,
        srcPort: entry.local.port,
        dstPort: target.port,
        isn: entry.syn.isn,
        tsVal: entry.syn.tsVal,
        mss: entry.syn.mss,
        wscale: entry.syn.wscale,
        window: entry.syn.window,
      }),
      target.address,
    );
    this.stats.opened++;
    return entry;
  }

  handoff(entry: HalfOpen): Socket {
    const slot = this.#slots.get(endpointKey(entry.local));
    if (entry.state !== 'established' || !slot || slot.entry !== entry) {
      throw new EntryStateError(formatEndpoint(entry.target), entry.state, 'established');
    }
    let fd = slot.repairFd;
    slot.repairFd = -1;
    try {
      if (fd < 0) fd = prepareRepairSocket(entry);
      finishRepair(fd, entry);
    } catch (err) {
      if (fd >= 0) closeFd(fd); // still in repair mode: close sends nothing
      this.release(entry);
      throw err;
    }
    // The repaired socket is in the established hash now and wins the lookup;
    // the reservation has done its job.
    this.#slots.delete(endpointKey(entry.local));
    slot.reservation.release();
    entry.state = 'handed-off';
    this.stats.handedOff++;
    return new RepairedSocket(fd, entry.target, entry.id);
  }

  release(entry: HalfOpen): void {
    const slot = this.#slots.get(endpointKey(entry.local));
    if (!slot || slot.entry !== entry) return;
    // A RST with seq = our ISN+1 lets the server drop its request socket now
    // instead of retransmitting SYN-ACKs for a minute.
    this.#sendRst(entry);
    this.#drop(slot);
    this.stats.released++;
  }

  /** Forgets an entry: its prepared repair socket (closing it in repair mode sends nothing) and its port. */
  #drop(slot: Slot): void {
    this.#slots.delete(endpointKey(slot.entry.local));
    if (slot.repairFd >= 0) closeFd(slot.repairFd);
    slot.reservation.release();
    slot.entry.state = 'released';
  }

  close(): void {
    if (this.#closed) return;
    for (const slot of [...this.#slots.values()]) this.release(slot.entry);
    this.#closed = true;
    this.#channel.close();
  }

  #sendRst(entry: HalfOpen): void {
    this.#channel.send(
      encodeRst({
        srcAddr: entry.local.address,
        dstAddr: entry.target.address,
        srcPort: entry.local.port,
        dstPort: entry.target.port,
        seq: (entry.syn.isn + 1) >>> 0,
      }),
      entry.target.address,
    );
  }

  #onSegment(seg: DecodedSegment): void {
    const slot = this.#slots.get(`${seg.dstAddr}:${seg.dstPort}`);
    const entry = slot?.entry;
    if (!slot || !entry || seg.srcAddr !== entry.target.address || seg.srcPort !== entry.target.port) {
      this.stats.unmatched++;
      return;
    }
    const ourNext = (entry.syn.isn + 1) >>> 0;
    if (seg.flags & TCP_FLAGS.RST) {
      // Only a RST that proves it saw our SYN (RFC 5961 spirit): RST+ACK with
      // the exact ack while we wait. A RST without ACK answers an ACK-bearing
      // segment, and the pool sends none before the handoff (after it, the
      // repaired socket gets its own RSTs): the kernel filter drops those.
      if (entry.state !== 'syn-sent' || (seg.flags & TCP_FLAGS.ACK) === 0 || seg.ack !== ourNext) {
        this.stats.unmatched++;
        return;
      }
      this.stats.refused++;
      this.#drop(slot);
      this.emit('reset', entry);
      return;
    }
    if ((seg.flags & (TCP_FLAGS.SYN | TCP_FLAGS.ACK)) !== (TCP_FLAGS.SYN | TCP_FLAGS.ACK) || seg.ack !== ourNext) {
      this.stats.unmatched++;
      return;
    }
    const now = performance.now();
    if (entry.state === 'established') {
      if (entry.synAck?.serverIsn !== seg.seq) {
        this.stats.unmatched++;
        return;
      }
      entry.synAckCount++;
      entry.lastSynAckAt = now;
      this.stats.retransmits++;
      this.emit('synack', entry, { retransmit: true, rttMs: now - entry.sentAt });
      return;
    }
    entry.synAck = synAckInfo(seg);
    entry.state = 'established';
    entry.synAckAt = now;
    entry.lastSynAckAt = now;
    entry.synAckCount = 1;
    this.stats.synAcks++;
    if (this.#prepare) {
      try {
        slot.repairFd = prepareRepairSocket(entry);
      } catch (err) {
        // The handoff will try again and report the error where it matters.
        this.emit('channelError', err as Error);
      }
    }
    this.emit('synack', entry, { retransmit: false, rttMs: now - entry.sentAt });
  }

  /** Random below the channel's tag: the kernel filter recognises answers to it by their ack (ISN+1). */
  #randomIsn(): number {
    if (this.#isnOffset + 4 > this.#isnPool.length) {
      this.#isnPool = randomBytes(4096);
      this.#isnOffset = 0;
    }
    const random = this.#isnPool.readUInt32LE(this.#isnOffset);
    this.#isnOffset += 4;
    return taggedIsn(this.#channel.isnTag, random);
  }
}

function synAckInfo(seg: DecodedSegment): SynAckInfo {
  const o = seg.options;
  return {
    serverIsn: seg.seq,
    window: seg.window,
    mss: o.mss ?? DEFAULT_MSS,
    wscale: o.wscale === undefined ? null : Math.min(o.wscale, MAX_WSCALE),
    sackOk: o.sackPermitted === true,
    tsOk: o.timestamp !== undefined,
    tsVal: o.timestamp?.val ?? 0,
  };
}

import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { closeFd } from '../../native/socket-ops.js';
import { EntryStateError, TargetNotAllowedError } from '../errors.js';
import { encodeRst, encodeSyn, TCP_FLAGS, type DecodedSegment } from '../packet/index.js';
import type { HandshakeDriver, HandshakeDriverEvents } from './driver.js';
import { endpointFamily, endpointKey, formatEndpoint, parseEndpoint, type AddressFamily, type Endpoint } from './endpoint.js';
import type { HalfOpen, SynAckInfo } from './half-open.js';
import { holdSocket } from './held-socket.js';
import { resolveLocalRoute, type LocalRoute } from './local-route.js';
import { PortReservation } from './port-reservation.js';
import { randomIsnTag, taggedIsn } from './isn-tag.js';
import { finishRepair, prepareRepairSocket } from './repair.js';
import { RepairedSocket } from './repaired-socket.js';
import { SynChannel, type SynChannelStats } from './syn-channel.js';
import { tsClockNow } from './ts-clock.js';

export interface HandshakerOptions {
  /** The only endpoints that may ever be sent a SYN (IPv4 or IPv6); more can be added with allow(), removed with disallow(). */
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
 * drop-all listeners, TCP_REPAIR for the handoff. One raw channel per address
 * family, opened when the first target of that family is allowed; all share
 * one ISN tag.
 */
export class Handshaker extends EventEmitter<HandshakeDriverEvents> implements HandshakeDriver {
  readonly stats: HandshakerStats = {
    opened: 0, synAcks: 0, retransmits: 0, refused: 0, handedOff: 0, released: 0, unmatched: 0, malformed: 0,
  };
  readonly #channels = new Map<AddressFamily, SynChannel>();
  readonly #isnTag: number;
  readonly #allowed = new Map<string, Endpoint>();
  readonly #routes = new Map<string, LocalRoute>();
  /**
   * By (target, our local port). An IPv6 channel never learns our address
   * from a packet, but the key needs none: every entry to one target binds
   * the source address of that target's (cached) route, so the kernel never
   * gives two live entries to the same target the same port.
   */
  readonly #slots = new Map<string, Slot>();
  readonly #synWindow: number;
  readonly #wscale: number;
  readonly #prepare: boolean;
  #nextId = 1;
  #isnPool = Buffer.alloc(0);
  #isnOffset = 0;
  #closed = false;

  private constructor(isnTag: number, options: HandshakerOptions) {
    super();
    this.#isnTag = isnTag;
    this.#synWindow = options.synWindow ?? 64240;
    this.#wscale = options.wscale ?? 7;
    this.#prepare = options.prepareOnSynAck ?? true;
    for (const t of options.targets ?? []) {
      const c = canonical(t);
      this.#allowed.set(endpointKey(c), c);
    }
  }

  /**
   * Opens the raw channel of each family among the targets (IPv4 when there
   * are none, as before IPv6 existed). Throws CapabilityError without CAP_NET_RAW.
   */
  static create(options: HandshakerOptions = {}): Handshaker {
    const hs = new Handshaker(options.isnTag ?? randomIsnTag(), options);
    const families = new Set((options.targets ?? []).map(endpointFamily));
    if (families.size === 0) families.add(4);
    try {
      for (const f of families) hs.#channelFor(f);
    } catch (err) {
      hs.close();
      throw err;
    }
    return hs;
  }

  /** The family's channel, opened (with the family's targets in its filter) on first use. */
  #channelFor(family: AddressFamily): SynChannel {
    let channel = this.#channels.get(family);
    if (channel) return channel;
    channel = SynChannel.open(this.#targetsOf(family), this.#isnTag, family);
    channel.on('segment', (s) => this.#onSegment(s));
    channel.on('malformed', (reason) => {
      this.stats.malformed++;
      this.emit('malformed', reason);
    });
    channel.on('error', (err) => this.emit('channelError', err));
    this.#channels.set(family, channel);
    return channel;
  }

  #targetsOf(family: AddressFamily): Endpoint[] {
    return [...this.#allowed.values()].filter((t) => endpointFamily(t) === family);
  }

  /** The channels' counters, summed over the families. */
  get channelStats(): SynChannelStats {
    const sum: SynChannelStats = { received: 0, sent: 0, sendErrors: 0, malformed: {} };
    for (const c of this.#channels.values()) {
      sum.received += c.stats.received;
      sum.sent += c.stats.sent;
      sum.sendErrors += c.stats.sendErrors;
      for (const [reason, n] of Object.entries(c.stats.malformed) as Array<[keyof SynChannelStats['malformed'], number]>) {
        sum.malformed[reason] = (sum.malformed[reason] ?? 0) + n;
      }
    }
    return sum;
  }

  /** The tag in every ISN this handshaker sends (ISN+1's top bits). */
  get isnTag(): number {
    return this.#isnTag;
  }

  /** Summed over the channels, wrapping at 2^32 like each (only differences between readings mean anything). */
  channelDrops(): number {
    let drops = 0;
    for (const c of this.#channels.values()) drops = (drops + c.drops()) >>> 0;
    return drops;
  }

  poll(): void {
    for (const c of this.#channels.values()) c.poll();
  }

  /** Adds a target to the allowlist (and to its family's kernel filter, opening that family's channel if needed). */
  allow(given: Endpoint): void {
    const target = canonical(given);
    const key = endpointKey(target);
    if (this.#allowed.has(key)) return;
    if (this.#closed) throw new EntryStateError(formatEndpoint(target), 'closed', 'an open handshaker');
    const family = endpointFamily(target);
    const opened = this.#channels.get(family);
    this.#allowed.set(key, target);
    try {
      if (opened) opened.setTargets(this.#targetsOf(family));
      else this.#channelFor(family);
    } catch (err) {
      this.#allowed.delete(key);
      throw err;
    }
  }

  /**
   * Removes a target: from the allowlist and its kernel filter, and releases
   * its live entries (ready or pending) with a RST each, so the server frees
   * them at once. A later open() throws TargetNotAllowedError. The entries are
   * not reported as 'reset' (the server did nothing): whoever holds them (a
   * pool) should drop its pool for the target too. Idempotent.
   */
  disallow(given: Endpoint): void {
    const target = canonical(given);
    const key = endpointKey(target);
    if (!this.#allowed.delete(key)) return;
    this.#routes.delete(key);
    for (const slot of [...this.#slots.values()]) {
      if (endpointKey(slot.entry.target) === key) this.release(slot.entry);
    }
    const family = endpointFamily(target);
    // Filter last: the RSTs above go out through the channel, and nothing answers a RST.
    this.#channels.get(family)?.setTargets(this.#targetsOf(family));
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
    this.#slots.set(slotKey(target, entry.local.port), { entry, reservation, repairFd: -1 });
    this.#channelFor(endpointFamily(target)).send(
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
    return new RepairedSocket(this.handoffFd(entry), entry.target, entry.id);
  }

  /**
   * handoff() without the net.Socket: the ESTABLISHED descriptor, the caller's
   * to close. The keeper passes it to another process by SCM_RIGHTS, where
   * wrapping it here (a libuv handle opened and closed again) would only cost time.
   */
  handoffFd(entry: HalfOpen, hold = false): number {
    const slot = this.#slots.get(slotKey(entry.target, entry.local.port));
    if (entry.state !== 'established' || !slot || slot.entry !== entry) {
      throw new EntryStateError(formatEndpoint(entry.target), entry.state, 'established');
    }
    let fd = slot.repairFd;
    slot.repairFd = -1;
    try {
      if (fd < 0) fd = prepareRepairSocket(entry);
      finishRepair(fd, entry, hold ? holdSocket : undefined);
    } catch (err) {
      if (fd >= 0) closeFd(fd); // still in repair mode: close sends nothing
      this.release(entry);
      throw err;
    }
    // The repaired socket is in the established hash now and wins the lookup;
    // the reservation has done its job.
    this.#slots.delete(slotKey(entry.target, entry.local.port));
    slot.reservation.release();
    entry.state = 'handed-off';
    this.stats.handedOff++;
    return fd;
  }

  release(entry: HalfOpen): void {
    const slot = this.#slots.get(slotKey(entry.target, entry.local.port));
    if (!slot || slot.entry !== entry) return;
    // A RST with seq = our ISN+1 lets the server drop its request socket now
    // instead of retransmitting SYN-ACKs for a minute.
    this.#sendRst(entry);
    this.#drop(slot);
    this.stats.released++;
  }

  /** Forgets an entry: its prepared repair socket (closing it in repair mode sends nothing) and its port. */
  #drop(slot: Slot): void {
    this.#slots.delete(slotKey(slot.entry.target, slot.entry.local.port));
    if (slot.repairFd >= 0) closeFd(slot.repairFd);
    slot.reservation.release();
    slot.entry.state = 'released';
  }

  close(): void {
    if (this.#closed) return;
    for (const slot of [...this.#slots.values()]) this.release(slot.entry);
    this.#closed = true;
    for (const c of this.#channels.values()) c.close();
  }

  #sendRst(entry: HalfOpen): void {
    this.#channels.get(endpointFamily(entry.target))?.send(
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
    // The source decides the target (the key's address and port); our address is checked where the family's channel reports it (IPv4).
    const slot = this.#slots.get(slotKey({ address: seg.srcAddr, port: seg.srcPort }, seg.dstPort));
    const entry = slot?.entry;
    if (!slot || !entry || (seg.dstAddr !== '' && seg.dstAddr !== entry.local.address)) {
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
    return taggedIsn(this.#isnTag, random);
  }
}

/**
 * The allowlist holds canonical endpoints (open() and the kernel's reports use
 * that spelling); IPv4 text is taken as given, as before IPv6.
 */
function canonical(t: Endpoint): Endpoint {
  return endpointFamily(t) === 6 ? parseEndpoint(t.address, t.port) : t;
}

function slotKey(target: Endpoint, localPort: number): string {
  return `${endpointKey(target)}/${localPort}`;
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

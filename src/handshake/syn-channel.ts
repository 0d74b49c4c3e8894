import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { RawSocket } from 'raw-socket';
import { loadBpfProgram, type BpfProgram } from '../../native/bpf.js';
import { SK_MEMINFO_DROPS, SK_MEMINFO_VARS, SO_ATTACH_FILTER, SO_MEMINFO, SO_RCVBUF, SOL_SOCKET } from '../../native/constants.js';
import { CapabilityError, SynpoolError } from '../errors.js';
import { decodeBareTcp, decodeIpv4Tcp, type DecodedSegment, type DecodeFailure, type DecodeResult } from '../packet/index.js';
import { synChannelProgram, synChannelProgramV6 } from './bpf-programs.js';
import { isnTagPattern } from './isn-tag.js';
import type { AddressFamily, Endpoint } from './endpoint.js';
import { drainInBatches, sendNow } from './raw-socket-io.js';

const require = createRequire(import.meta.url);

export interface SynChannelEvents {
  segment: [segment: DecodedSegment];
  malformed: [reason: DecodeFailure];
  error: [error: Error];
}

export interface SynChannelStats {
  received: number;
  sent: number;
  sendErrors: number;
  malformed: Partial<Record<DecodeFailure, number>>;
}

/** Bursts of SYN-ACKs (a pool filling) must not overflow the raw socket's queue. */
const RECEIVE_BUFFER_BYTES = 1 << 20;
/** poll() reads at most this many batches (DRAIN_BATCH packets each). */
const POLL_BATCHES = 8;

/**
 * The raw IPPROTO_TCP socket: sends our SYNs and RSTs (the kernel adds the IP
 * header) and receives a copy of the answers to them (SYN-ACK, RST+ACK) from
 * the targets, filtered in the kernel by source and by the channel's ISN tag
 * (isn-tag.ts), so proxied traffic and the answers to plain connects never
 * wake JavaScript. What the kernel still had to drop (a full receive buffer)
 * is counted in drops(), so that a lost answer is never mistaken for a
 * silent upstream.
 *
 * One channel serves one address family. An AF_INET6 raw socket differs in
 * what it receives: the bare TCP segment (no IP header), the sender's address
 * only from recvfrom, ours not at all; its filter reads the source through
 * SKF_NET_OFF (bpf-programs.ts).
 */
export class SynChannel extends EventEmitter<SynChannelEvents> {
  readonly stats: SynChannelStats = { received: 0, sent: 0, sendErrors: 0, malformed: {} };
  /** Every SYN sent through this channel must carry it (in ISN+1): the filter admits only answers that do. */
  readonly isnTag: number;
  readonly family: AddressFamily;
  #socket: RawSocket;
  #program: BpfProgram | undefined;
  #closed = false;
  #meminfo = Buffer.alloc(SK_MEMINFO_VARS * 4);
  #drain: (() => boolean) | undefined;
  #discarding = false;

  private constructor(socket: RawSocket, isnTag: number, family: AddressFamily) {
    super();
    this.#socket = socket;
    this.isnTag = isnTag;
    this.family = family;
    const onPacket = (buf: Buffer, source: string): void => this.#onMessage(buf, source);
    const onError = (err: Error): void => {
      this.emit('error', new SynpoolError('SYNPOOL_ERR_SYSCALL', `raw recv: ${err.message}`, { cause: err }));
    };
    this.#drain = drainInBatches(socket, onPacket, onError);
    if (!this.#drain) socket.on('message', onPacket);
    socket.on('error', (err) => this.emit('error', new SynpoolError('SYNPOOL_ERR_SYSCALL', `raw socket: ${err.message}`, { cause: err })));
  }

  /** Opens the channel; throws CapabilityError without CAP_NET_RAW. */
  static open(targets: readonly Endpoint[], isnTag: number, family: AddressFamily = 4): SynChannel {
    isnTagPattern(isnTag); // a bad tag throws here, before there is a socket to leak
    const raw = require('raw-socket') as typeof import('raw-socket');
    let socket: RawSocket;
    try {
      socket = raw.createSocket({
        protocol: raw.Protocol.TCP,
        addressFamily: family === 6 ? raw.AddressFamily.IPv6 : raw.AddressFamily.IPv4,
        bufferSize: 256,
      });
      socket.setOption(SOL_SOCKET, SO_RCVBUF, RECEIVE_BUFFER_BYTES);
    } catch (err) {
      if (/not permitted|EPERM|EACCES/i.test(String((err as Error).message))) {
        throw new CapabilityError('CAP_NET_RAW', 'the raw SYN socket', err);
      }
      throw err;
    }
    const channel = new SynChannel(socket, isnTag, family);
    channel.setTargets(targets);
    channel.#discardQueued();
    return channel;
  }

  /** Replaces the kernel filter so that only these sources reach us. */
  setTargets(targets: readonly Endpoint[]): void {
    const program = loadBpfProgram(this.family === 6 ? synChannelProgramV6(targets, this.isnTag) : synChannelProgram(targets, this.isnTag));
    this.#socket.setOption(SOL_SOCKET, SO_ATTACH_FILTER, program.fprog, program.fprog.length);
    // The kernel copied the program; the old one can go.
    this.#program?.free();
    this.#program = program;
  }

  /** Sends a TCP segment (header + options, checksum filled in) to `address`. */
  send(segment: Buffer, address: string): void {
    if (this.#closed) return;
    sendNow(this.#socket, segment, address, (err) => {
      if (err) {
        this.stats.sendErrors++;
        this.emit('error', new SynpoolError('SYNPOOL_ERR_SYSCALL', `raw send to ${address}: ${err.message}`, { cause: err }));
      } else {
        this.stats.sent++;
      }
    });
  }

  /**
   * Reads what the kernel has queued for us now, synchronously (a bounded
   * number of batches), emitting 'segment' for each. Timers run before I/O
   * callbacks in an event-loop iteration, so without this a SYN-ACK that
   * arrived during a long iteration would be read only after its SYN's
   * timeout had been counted.
   */
  poll(): void {
    if (this.#closed || !this.#drain) return;
    for (let i = 0; i < POLL_BATCHES && !this.#drain(); i++);
  }

  /**
   * Packets the kernel dropped on the way to this socket since it opened
   * (sk_drops via SO_MEMINFO: a full receive buffer), a wrapping uint32:
   * two readings differ when something was lost between them. Packets the
   * filter rejects are not counted (they were not wanted).
   */
  drops(): number {
    if (this.#closed) return 0;
    this.#socket.getOption(SOL_SOCKET, SO_MEMINFO, this.#meminfo, this.#meminfo.length);
    return this.#meminfo.readUInt32LE(SK_MEMINFO_DROPS * 4);
  }

  /**
   * raw-socket creates the socket on its first setOption, before any filter
   * can be attached: whatever TCP traffic the host had in those microseconds
   * was queued unfiltered (seen on a busy namespace: a stray segment read as
   * a channel packet). No SYN has gone out yet, so nothing queued can be an
   * answer: read it and throw it away.
   */
  #discardQueued(): void {
    if (!this.#drain) return;
    this.#discarding = true;
    try {
      for (let i = 0; i < POLL_BATCHES && !this.#drain(); i++);
    } finally {
      this.#discarding = false;
    }
  }

  #onMessage(packet: Buffer, source: string): void {
    if (this.#discarding) return;
    this.stats.received++;
    const result: DecodeResult = this.family === 6 ? decodeBareTcp(packet, { srcAddr: source }) : decodeIpv4Tcp(packet);
    if (!result.ok) {
      this.stats.malformed[result.reason] = (this.stats.malformed[result.reason] ?? 0) + 1;
      this.emit('malformed', result.reason);
      return;
    }
    this.emit('segment', result.segment);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
    this.#program?.free();
    this.#program = undefined;
  }
}

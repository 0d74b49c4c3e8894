import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { RawSocket } from 'raw-socket';
import { loadBpfProgram, type BpfProgram } from '../../native/bpf.js';
import { SK_MEMINFO_DROPS, SK_MEMINFO_VARS, SO_ATTACH_FILTER, SO_MEMINFO, SO_RCVBUF, SOL_SOCKET } from '../../native/constants.js';
import { CapabilityError, SynpoolError } from '../errors.js';
import { decodeIpv4Tcp, type DecodedSegment, type DecodeFailure } from '../packet/index.js';
import { synChannelProgram } from './bpf-programs.js';
import { isnTagPattern } from './isn-tag.js';
import type { Endpoint } from './endpoint.js';
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
 */
export class SynChannel extends EventEmitter<SynChannelEvents> {
  readonly stats: SynChannelStats = { received: 0, sent: 0, sendErrors: 0, malformed: {} };
  /** Every SYN sent through this channel must carry it (in ISN+1): the filter admits only answers that do. */
  readonly isnTag: number;
  #socket: RawSocket;
  #program: BpfProgram | undefined;
  #closed = false;
  #meminfo = Buffer.alloc(SK_MEMINFO_VARS * 4);
  #drain: (() => boolean) | undefined;

  private constructor(socket: RawSocket, isnTag: number) {
    super();
    this.#socket = socket;
    this.isnTag = isnTag;
    const onPacket = (buf: Buffer): void => this.#onMessage(buf);
    const onError = (err: Error): void => {
      this.emit('error', new SynpoolError('SYNPOOL_ERR_SYSCALL', `raw recv: ${err.message}`, { cause: err }));
    };
    this.#drain = drainInBatches(socket, onPacket, onError);
    if (!this.#drain) socket.on('message', onPacket);
    socket.on('error', (err) => this.emit('error', new SynpoolError('SYNPOOL_ERR_SYSCALL', `raw socket: ${err.message}`, { cause: err })));
  }

  /** Opens the channel; throws CapabilityError without CAP_NET_RAW. */
  static open(targets: readonly Endpoint[], isnTag: number): SynChannel {
    isnTagPattern(isnTag); // a bad tag throws here, before there is a socket to leak
    const raw = require('raw-socket') as typeof import('raw-socket');
    let socket: RawSocket;
    try {
      socket = raw.createSocket({ protocol: raw.Protocol.TCP, bufferSize: 256 });
      socket.setOption(SOL_SOCKET, SO_RCVBUF, RECEIVE_BUFFER_BYTES);
    } catch (err) {
      if (/not permitted|EPERM|EACCES/i.test(String((err as Error).message))) {
        throw new CapabilityError('CAP_NET_RAW', 'the raw SYN socket', err);
      }
      throw err;
    }
    const channel = new SynChannel(socket, isnTag);
    channel.setTargets(targets);
    return channel;
  }

  /** Replaces the kernel filter so that only these sources reach us. */
  setTargets(targets: readonly Endpoint[]): void {
    const program = loadBpfProgram(synChannelProgram(targets, this.isnTag));
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

  #onMessage(packet: Buffer): void {
    this.stats.received++;
    const result = decodeIpv4Tcp(packet);
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

import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { RawSocket } from 'raw-socket';
import { loadBpfProgram, type BpfProgram } from '../../native/bpf.js';
import { SO_ATTACH_FILTER, SO_RCVBUF, SOL_SOCKET } from '../../native/constants.js';
import { CapabilityError, SynpoolError } from '../errors.js';
import { decodeIpv4Tcp, type DecodedSegment, type DecodeFailure } from '../packet/index.js';
import { synChannelProgram } from './bpf-programs.js';
import type { Endpoint } from './endpoint.js';

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

/**
 * The raw IPPROTO_TCP socket: sends our SYNs and RSTs (the kernel adds the IP
 * header) and receives a copy of inbound SYN-ACK and RST segments from the
 * targets, filtered in the kernel so proxied traffic never wakes JavaScript.
 */
export class SynChannel extends EventEmitter<SynChannelEvents> {
  readonly stats: SynChannelStats = { received: 0, sent: 0, sendErrors: 0, malformed: {} };
  #socket: RawSocket;
  #program: BpfProgram | undefined;
  #closed = false;

  private constructor(socket: RawSocket) {
    super();
    this.#socket = socket;
    socket.on('message', (buf) => this.#onMessage(buf));
    socket.on('error', (err) => this.emit('error', new SynpoolError('SYNPOOL_ERR_SYSCALL', `raw socket: ${err.message}`, { cause: err })));
  }

  /** Opens the channel; throws CapabilityError without CAP_NET_RAW. */
  static open(targets: readonly Endpoint[]): SynChannel {
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
    const channel = new SynChannel(socket);
    channel.setTargets(targets);
    return channel;
  }

  /** Replaces the kernel filter so that only these sources reach us. */
  setTargets(targets: readonly Endpoint[]): void {
    const program = loadBpfProgram(synChannelProgram(targets));
    this.#socket.setOption(SOL_SOCKET, SO_ATTACH_FILTER, program.fprog, program.fprog.length);
    // The kernel copied the program; the old one can go.
    this.#program?.free();
    this.#program = program;
  }

  /** Sends a TCP segment (header + options, checksum filled in) to `address`. */
  send(segment: Buffer, address: string): void {
    if (this.#closed) return;
    this.#socket.send(segment, 0, segment.length, address, (err) => {
      if (err) {
        this.stats.sendErrors++;
        this.emit('error', new SynpoolError('SYNPOOL_ERR_SYSCALL', `raw send to ${address}: ${err.message}`, { cause: err }));
      } else {
        this.stats.sent++;
      }
    });
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

// Kernel struct layouts: the koffi definition beside the TypeScript view of
// each, so test/unit/native-abi.test.ts can compare both with the C headers.
// The hot path writes fields into preallocated Buffers at these offsets
// instead of marshalling objects.
import { koffiModule } from './libc.js';

/** struct sockaddr_in (<netinet/in.h>): family in host order, port and address in network order. */
export interface SockaddrIn {
  family: number;
  port: number;
  address: string;
}
export const SOCKADDR_IN_SIZE = 16;

/**
 * struct sockaddr_in6 (<netinet/in.h>): family in host order, port in network
 * order, flowinfo, 16 address bytes, scope id (always 0 here: link-local
 * upstreams, the only ones that need it, are refused at the edge).
 */
export interface SockaddrIn6 {
  family: number;
  port: number;
  /** What inet_ntop writes; not necessarily RFC 5952 (callers canonicalise). */
  address: string;
}
export const SOCKADDR_IN6_SIZE = 28;
export const SOCKADDR_IN6_OFFSETS = { sin6_family: 0, sin6_port: 2, sin6_flowinfo: 4, sin6_addr: 8, sin6_scope_id: 24 } as const;
/** The larger of the two: one scratch buffer serves both families. */
export const SOCKADDR_MAX_SIZE = SOCKADDR_IN6_SIZE;

/** struct sock_filter (<linux/filter.h>): one classic-BPF instruction. */
export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}
export const SOCK_FILTER_SIZE = 8;
/** struct sock_fprog: u16 len, then (after padding) a pointer to the instructions. */
export const SOCK_FPROG_SIZE = 16;
export const SOCK_FPROG_FILTER_OFFSET = 8;

/** struct tcp_repair_opt (<linux/tcp.h>) */
export interface TcpRepairOpt {
  opt_code: number;
  opt_val: number;
}
export const TCP_REPAIR_OPT_SIZE = 8;

/** struct tcp_repair_window (<linux/tcp.h>): all sequence numbers unsigned 32-bit. */
export interface TcpRepairWindow {
  snd_wl1: number;
  snd_wnd: number;
  max_window: number;
  rcv_wnd: number;
  rcv_wup: number;
}
export const TCP_REPAIR_WINDOW_SIZE = 20;
export const TCP_REPAIR_WINDOW_OFFSETS = { snd_wl1: 0, snd_wnd: 4, max_window: 8, rcv_wnd: 12, rcv_wup: 16 } as const;

/** The fields of struct tcp_info (<linux/tcp.h>) that synpool reads, at their ABI offsets. */
export interface TcpInfo {
  state: number;
  options: number;
  sndWscale: number;
  rcvWscale: number;
  rtoUs: number;
  sndMss: number;
  rcvMss: number;
  unacked: number;
  rttUs: number;
  sndCwnd: number;
  advmss: number;
  totalRetrans: number;
  bytesAcked: bigint;
  bytesReceived: bigint;
  segsOut: number;
  segsIn: number;
}
export const TCP_INFO_OFFSETS = {
  tcpi_state: 0,
  tcpi_options: 5,
  tcpi_wscale: 6,
  tcpi_rto: 8,
  tcpi_snd_mss: 16,
  tcpi_rcv_mss: 20,
  tcpi_unacked: 24,
  tcpi_rtt: 68,
  tcpi_snd_cwnd: 80,
  tcpi_advmss: 84,
  tcpi_total_retrans: 100,
  tcpi_bytes_acked: 120,
  tcpi_bytes_received: 128,
  tcpi_segs_out: 136,
  tcpi_segs_in: 140,
} as const;
/** Enough of struct tcp_info for every field above; the kernel copies min(len, its size). */
export const TCP_INFO_READ_SIZE = 144;

let types: ReturnType<typeof defineTypes> | undefined;

function defineTypes() {
  const k = koffiModule();
  const in_addr = k.struct('synpool_in_addr', { s_addr: 'uint32_t' });
  return {
    sockaddr_in: k.struct('synpool_sockaddr_in', {
      sin_family: 'uint16_t',
      sin_port: 'uint16_t',
      sin_addr: in_addr,
      sin_zero: k.array('uint8_t', 8),
    }),
    sockaddr_in6: k.struct('synpool_sockaddr_in6', {
      sin6_family: 'uint16_t',
      sin6_port: 'uint16_t',
      sin6_flowinfo: 'uint32_t',
      sin6_addr: k.array('uint8_t', 16),
      sin6_scope_id: 'uint32_t',
    }),
    sock_filter: k.struct('synpool_sock_filter', { code: 'uint16_t', jt: 'uint8_t', jf: 'uint8_t', k: 'uint32_t' }),
    sock_fprog: k.struct('synpool_sock_fprog', { len: 'uint16_t', filter: 'void *' }),
    tcp_repair_opt: k.struct('synpool_tcp_repair_opt', { opt_code: 'uint32_t', opt_val: 'uint32_t' }),
    tcp_repair_window: k.struct('synpool_tcp_repair_window', {
      snd_wl1: 'uint32_t',
      snd_wnd: 'uint32_t',
      max_window: 'uint32_t',
      rcv_wnd: 'uint32_t',
      rcv_wup: 'uint32_t',
    }),
  };
}

/** The koffi type objects, for ABI checks (sizeof / offsetof). */
export function structTypes() {
  types ??= defineTypes();
  return types;
}

export function encodeSockaddrIn(address: string, port: number, out: Buffer = Buffer.alloc(SOCKADDR_IN_SIZE)): Buffer {
  out.fill(0, 0, SOCKADDR_IN_SIZE);
  out.writeUInt16LE(2, 0); // AF_INET, host order (little-endian on every Linux target we run)
  out.writeUInt16BE(port, 2);
  const parts = address.split('.');
  for (let i = 0; i < 4; i++) out[4 + i] = Number(parts[i]);
  return out;
}

export function decodeSockaddrIn(buf: Buffer): SockaddrIn {
  return {
    family: buf.readUInt16LE(0),
    port: buf.readUInt16BE(2),
    address: `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`,
  };
}

/** `address16` is the 16 address bytes (inet_pton's output). */
export function encodeSockaddrIn6(address16: Uint8Array, port: number, out: Buffer = Buffer.alloc(SOCKADDR_IN6_SIZE)): Buffer {
  const o = SOCKADDR_IN6_OFFSETS;
  out.fill(0, 0, SOCKADDR_IN6_SIZE);
  out.writeUInt16LE(10, o.sin6_family); // AF_INET6, host order
  out.writeUInt16BE(port, o.sin6_port);
  out.set(address16.subarray(0, 16), o.sin6_addr);
  return out;
}

export function decodeTcpInfo(buf: Buffer): TcpInfo {
  const o = TCP_INFO_OFFSETS;
  const wscale = buf.readUInt8(o.tcpi_wscale);
  return {
    state: buf.readUInt8(o.tcpi_state),
    options: buf.readUInt8(o.tcpi_options),
    // tcpi_snd_wscale:4, tcpi_rcv_wscale:4 — bitfields, low nibble first on little-endian
    sndWscale: wscale & 0x0f,
    rcvWscale: wscale >> 4,
    rtoUs: buf.readUInt32LE(o.tcpi_rto),
    sndMss: buf.readUInt32LE(o.tcpi_snd_mss),
    rcvMss: buf.readUInt32LE(o.tcpi_rcv_mss),
    unacked: buf.readUInt32LE(o.tcpi_unacked),
    rttUs: buf.readUInt32LE(o.tcpi_rtt),
    sndCwnd: buf.readUInt32LE(o.tcpi_snd_cwnd),
    advmss: buf.readUInt32LE(o.tcpi_advmss),
    totalRetrans: buf.readUInt32LE(o.tcpi_total_retrans),
    bytesAcked: buf.readBigUInt64LE(o.tcpi_bytes_acked),
    bytesReceived: buf.readBigUInt64LE(o.tcpi_bytes_received),
    segsOut: buf.readUInt32LE(o.tcpi_segs_out),
    segsIn: buf.readUInt32LE(o.tcpi_segs_in),
  };
}

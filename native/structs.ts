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

/** struct iovec (<sys/uio.h>): base pointer, length. */
export const IOVEC_SIZE = 16;
export const IOVEC_OFFSETS = { iov_base: 0, iov_len: 8 } as const;

/** struct msghdr (<sys/socket.h>), x86-64/arm64 layout: pointers and size_t are 8 bytes. */
export const MSGHDR_SIZE = 56;
export const MSGHDR_OFFSETS = {
  msg_name: 0,
  msg_namelen: 8,
  msg_iov: 16,
  msg_iovlen: 24,
  msg_control: 32,
  msg_controllen: 40,
  msg_flags: 48,
} as const;

/** struct cmsghdr: size_t cmsg_len, int level, int type, then the data (aligned to size_t). */
export const CMSGHDR_SIZE = 16;
export const CMSGHDR_OFFSETS = { cmsg_len: 0, cmsg_level: 8, cmsg_type: 12 } as const;
/** CMSG_LEN(n): the header and n bytes of data. */
export function cmsgLen(dataBytes: number): number {
  return CMSGHDR_SIZE + dataBytes;
}
/** CMSG_SPACE(n): CMSG_LEN rounded up to size_t, what one control message occupies. */
export function cmsgSpace(dataBytes: number): number {
  return CMSGHDR_SIZE + ((dataBytes + 7) & ~7);
}

/** struct sockaddr_un (<sys/un.h>): family, then a NUL-terminated path of at most 107 bytes. */
export const SOCKADDR_UN_SIZE = 110;
export const SOCKADDR_UN_PATH_OFFSET = 2;

/** sockaddr_un for a filesystem path; RangeError when the path does not fit (108 bytes with its NUL). */
export function encodeSockaddrUn(path: string, out: Buffer = Buffer.alloc(SOCKADDR_UN_SIZE)): { addr: Buffer; len: number } {
  const bytes = Buffer.from(path, 'utf8');
  if (bytes.length === 0 || bytes.length > SOCKADDR_UN_SIZE - SOCKADDR_UN_PATH_OFFSET - 1 || bytes.includes(0)) {
    throw new RangeError(`a Unix socket path must be 1 to ${SOCKADDR_UN_SIZE - SOCKADDR_UN_PATH_OFFSET - 1} bytes without NUL: ${path}`);
  }
  out.fill(0, 0, SOCKADDR_UN_SIZE);
  out.writeUInt16LE(1, 0); // AF_UNIX, host order
  bytes.copy(out, SOCKADDR_UN_PATH_OFFSET);
  return { addr: out, len: SOCKADDR_UN_PATH_OFFSET + bytes.length + 1 };
}

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
    iovec: k.struct('synpool_iovec', { iov_base: 'void *', iov_len: 'size_t' }),
    msghdr: k.struct('synpool_msghdr', {
      msg_name: 'void *',
      msg_namelen: 'uint32_t',
      msg_iov: 'void *',
      msg_iovlen: 'size_t',
      msg_control: 'void *',
      msg_controllen: 'size_t',
      msg_flags: 'int',
    }),
    cmsghdr: k.struct('synpool_cmsghdr', { cmsg_len: 'size_t', cmsg_level: 'int', cmsg_type: 'int' }),
    sockaddr_un: k.struct('synpool_sockaddr_un', { sun_family: 'uint16_t', sun_path: k.array('char', 108) }),
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

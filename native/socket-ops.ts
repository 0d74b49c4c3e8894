// Thin, checked wrappers over the libc socket calls, with scratch buffers
// reused across calls (the event loop is single-threaded, and none of these
// calls re-enters JavaScript).
import { check, getLibc } from './libc.js';
import { AF_INET, AF_INET6, AF_UNIX, SOCK_CLOEXEC, SOCK_STREAM, SO_LINGER, SO_SNDTIMEO, SOL_SOCKET, SOL_TCP, TCP_INFO } from './constants.js';
import { SyscallError } from './syscall-error.js';
import {
  decodeSockaddrIn, decodeTcpInfo, encodeSockaddrIn, encodeSockaddrUn, encodeSockaddrIn6, SOCKADDR_IN_SIZE, SOCKADDR_IN6_OFFSETS, SOCKADDR_IN6_SIZE,
  SOCKADDR_MAX_SIZE, TCP_INFO_READ_SIZE, type SockaddrIn, type SockaddrIn6, type TcpInfo,
} from './structs.js';

const intBuf = Buffer.alloc(4);
const lenBuf = Buffer.alloc(4);
const addrBuf = Buffer.alloc(SOCKADDR_MAX_SIZE);
const in6Buf = Buffer.alloc(16);
/** INET6_ADDRSTRLEN */
const textBuf = Buffer.alloc(46);
const infoBuf = Buffer.alloc(TCP_INFO_READ_SIZE);

/** setsockopt with a 4-byte int; `unsigned` writes values ≥ 2^31 (sequence numbers) without a sign. */
export function setIntOption(fd: number, level: number, name: number, value: number, what: string): void {
  if (value < 0) intBuf.writeInt32LE(value, 0);
  else intBuf.writeUInt32LE(value >>> 0, 0);
  check(getLibc().setsockopt(fd, level, name, intBuf, 4), what);
}

export function setBufferOption(fd: number, level: number, name: number, value: Buffer, what: string): void {
  check(getLibc().setsockopt(fd, level, name, value, value.length), what);
}

/** getsockopt into `out`; returns the length the kernel wrote. */
export function getBufferOption(fd: number, level: number, name: number, out: Buffer, what: string): number {
  lenBuf.writeUInt32LE(out.length, 0);
  check(getLibc().getsockopt(fd, level, name, out, lenBuf), what);
  return lenBuf.readUInt32LE(0);
}

export function getIntOption(fd: number, level: number, name: number, what: string): number {
  getBufferOption(fd, level, name, intBuf, what);
  return intBuf.readInt32LE(0);
}

export function bindIn(fd: number, address: string, port: number, what = 'bind'): void {
  check(getLibc().bind(fd, encodeSockaddrIn(address, port, addrBuf), SOCKADDR_IN_SIZE), what);
}

export function connectIn(fd: number, address: string, port: number, what = 'connect'): void {
  check(getLibc().connect(fd, encodeSockaddrIn(address, port, addrBuf), SOCKADDR_IN_SIZE), what);
}

export function sockName(fd: number): SockaddrIn {
  lenBuf.writeUInt32LE(SOCKADDR_IN_SIZE, 0);
  check(getLibc().getsockname(fd, addrBuf, lenBuf), 'getsockname');
  return decodeSockaddrIn(addrBuf);
}

/** The 16 bytes of IPv6 text, by libc's own parser (what bind/connect will mean by it). */
function in6Bytes(address: string, what: string): Buffer {
  if (getLibc().inet_pton(AF_INET6, address, in6Buf) !== 1) throw new SyscallError(`${what}: inet_pton(${address})`, 22, 'EINVAL');
  return in6Buf;
}

export function bindIn6(fd: number, address: string, port: number, what = 'bind'): void {
  check(getLibc().bind(fd, encodeSockaddrIn6(in6Bytes(address, what), port, addrBuf), SOCKADDR_IN6_SIZE), what);
}

export function connectIn6(fd: number, address: string, port: number, what = 'connect'): void {
  check(getLibc().connect(fd, encodeSockaddrIn6(in6Bytes(address, what), port, addrBuf), SOCKADDR_IN6_SIZE), what);
}

/** getsockname of an AF_INET6 socket; the address as inet_ntop writes it (canonicalise before comparing). */
export function sockName6(fd: number): SockaddrIn6 {
  lenBuf.writeUInt32LE(SOCKADDR_IN6_SIZE, 0);
  check(getLibc().getsockname(fd, addrBuf, lenBuf), 'getsockname');
  const o = SOCKADDR_IN6_OFFSETS;
  addrBuf.copy(in6Buf, 0, o.sin6_addr, o.sin6_addr + 16);
  textBuf.fill(0);
  if (getLibc().inet_ntop(AF_INET6, in6Buf, textBuf, textBuf.length) === null) throw new SyscallError('inet_ntop', 28, 'ENOSPC');
  return { family: addrBuf.readUInt16LE(o.sin6_family), port: addrBuf.readUInt16BE(o.sin6_port), address: textBuf.toString('latin1', 0, textBuf.indexOf(0)) };
}

/** The address family of IP text: only IPv6 contains a colon. */
export function familyOf(address: string): typeof AF_INET | typeof AF_INET6 {
  return address.includes(':') ? AF_INET6 : AF_INET;
}

/** bind(), sockaddr_in or sockaddr_in6 by the address's family. */
export function bindIp(fd: number, address: string, port: number, what = 'bind'): void {
  if (familyOf(address) === AF_INET6) bindIn6(fd, address, port, what);
  else bindIn(fd, address, port, what);
}

/** connect(), sockaddr_in or sockaddr_in6 by the address's family. */
export function connectIp(fd: number, address: string, port: number, what = 'connect'): void {
  if (familyOf(address) === AF_INET6) connectIn6(fd, address, port, what);
  else connectIn(fd, address, port, what);
}

/** getsockname() of a socket of the given family. */
export function sockNameOf(fd: number, family: typeof AF_INET | typeof AF_INET6): SockaddrIn | SockaddrIn6 {
  return family === AF_INET6 ? sockName6(fd) : sockName(fd);
}

export function tcpInfo(fd: number): TcpInfo {
  infoBuf.fill(0);
  getBufferOption(fd, SOL_TCP, TCP_INFO, infoBuf, 'getsockopt(TCP_INFO)');
  return decodeTcpInfo(infoBuf);
}

export function closeFd(fd: number): void {
  check(getLibc().close(fd), 'close');
}

const abortLinger = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]); // struct linger { l_onoff = 1, l_linger = 0 }

/** The socket's last close() will abort: a connected TCP socket then sends a RST (seq = snd_nxt) instead of a FIN. */
export function abortOnClose(fd: number): void {
  setBufferOption(fd, SOL_SOCKET, SO_LINGER, abortLinger, 'setsockopt(SO_LINGER)');
}

/** close() that aborts (abortOnClose); the fd is closed even if the option could not be set. */
export function abortCloseFd(fd: number): void {
  try {
    abortOnClose(fd);
  } finally {
    closeFd(fd);
  }
}

export function openSocket(domain: number, type: number, protocol: number, what = 'socket'): number {
  return check(getLibc().socket(domain, type, protocol), what);
}

/**
 * A blocking AF_UNIX stream socket connected to `path` (close-on-exec). connect() on a
 * Unix socket only blocks while the listener's backlog is full; SO_SNDTIMEO bounds that
 * wait to `timeoutMs` (then EAGAIN). Throws SyscallError (ENOENT, ECONNREFUSED…); the
 * socket is closed again on failure.
 */
export function connectUnixStream(path: string, timeoutMs: number): number {
  const { addr, len } = encodeSockaddrUn(path);
  const fd = openSocket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, 'socket(AF_UNIX)');
  try {
    const tv = Buffer.alloc(16); // struct timeval: tv_sec, tv_usec (two longs)
    tv.writeBigInt64LE(BigInt(Math.floor(timeoutMs / 1000)), 0);
    tv.writeBigInt64LE(BigInt(Math.round((timeoutMs % 1000) * 1000)), 8);
    setBufferOption(fd, SOL_SOCKET, SO_SNDTIMEO, tv, 'setsockopt(SO_SNDTIMEO)');
    check(getLibc().connect(fd, addr, len), `connect(${path})`);
    return fd;
  } catch (err) {
    getLibc().close(fd);
    throw err;
  }
}

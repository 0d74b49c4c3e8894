// Thin, checked wrappers over the libc socket calls, with scratch buffers
// reused across calls (the event loop is single-threaded, and none of these
// calls re-enters JavaScript).
import { check, getLibc } from './libc.js';
import { SOL_TCP, TCP_INFO } from './constants.js';
import { decodeSockaddrIn, decodeTcpInfo, encodeSockaddrIn, SOCKADDR_IN_SIZE, TCP_INFO_READ_SIZE, type SockaddrIn, type TcpInfo } from './structs.js';

const intBuf = Buffer.alloc(4);
const lenBuf = Buffer.alloc(4);
const addrBuf = Buffer.alloc(SOCKADDR_IN_SIZE);
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

export function tcpInfo(fd: number): TcpInfo {
  infoBuf.fill(0);
  getBufferOption(fd, SOL_TCP, TCP_INFO, infoBuf, 'getsockopt(TCP_INFO)');
  return decodeTcpInfo(infoBuf);
}

export function closeFd(fd: number): void {
  check(getLibc().close(fd), 'close');
}

export function openSocket(domain: number, type: number, protocol: number, what = 'socket'): number {
  return check(getLibc().socket(domain, type, protocol), what);
}

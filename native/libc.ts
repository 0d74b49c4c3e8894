// The one koffi symbol table for the libc calls synpool makes. Loaded on first
// use, so importing this module on a machine without the library (or without
// the capabilities) has no side effect.
import { createRequire } from 'node:module';
import { SyscallError } from './syscall-error.js';
import { errnoName } from './errno.js';

type Koffi = typeof import('koffi');

// Buffers are passed as `void *`: koffi hands their memory to C for the call,
// which keeps the hot path free of struct marshalling.
export interface Libc {
  /** int socket(int domain, int type, int protocol) */
  socket(domain: number, type: number, protocol: number): number;
  /** int bind(int sockfd, const struct sockaddr *addr, socklen_t addrlen) */
  bind(fd: number, addr: Buffer, addrlen: number): number;
  /** int listen(int sockfd, int backlog) */
  listen(fd: number, backlog: number): number;
  /** int connect(int sockfd, const struct sockaddr *addr, socklen_t addrlen) */
  connect(fd: number, addr: Buffer, addrlen: number): number;
  /** int setsockopt(int sockfd, int level, int optname, const void *optval, socklen_t optlen) */
  setsockopt(fd: number, level: number, optname: number, optval: Buffer, optlen: number): number;
  /** int getsockopt(int sockfd, int level, int optname, void *optval, socklen_t *optlen) */
  getsockopt(fd: number, level: number, optname: number, optval: Buffer, optlen: Buffer): number;
  /** int getsockname(int sockfd, struct sockaddr *addr, socklen_t *addrlen) */
  getsockname(fd: number, addr: Buffer, addrlen: Buffer): number;
  /** int close(int fd) */
  close(fd: number): number;
  /** ssize_t send(int sockfd, const void *buf, size_t len, int flags) */
  send(fd: number, buf: Buffer, len: number, flags: number): number;
  /** ssize_t sendmsg(int sockfd, const struct msghdr *msg, int flags): `msg` is C memory (koffi.alloc). */
  sendmsg(fd: number, msg: unknown, flags: number): number;
  /**
   * ssize_t recvmsg(int sockfd, struct msghdr *msg, int flags): `msg` is C memory. Also
   * callable as `.async(...)` on libuv's threadpool (a blocking read off the event loop).
   */
  recvmsg: ((fd: number, msg: unknown, flags: number) => number) & {
    async(fd: number, msg: unknown, flags: number, cb: (err: unknown, rc: number) => void): void;
  };
  /** int shutdown(int sockfd, int how): wakes a recvmsg blocked on another thread. */
  shutdown(fd: number, how: number): number;
  /** int inet_pton(int af, const char *src, void *dst): 1 on success, 0 for text that is not an address */
  inet_pton(af: number, src: string, dst: Buffer): number;
  /** const char *inet_ntop(int af, const void *src, char *dst, socklen_t size): NULL on failure */
  inet_ntop(af: number, src: Buffer, dst: Buffer, size: number): unknown;
}

const require = createRequire(import.meta.url);
let koffi: Koffi | undefined;
let libc: Libc | undefined;

export function koffiModule(): Koffi {
  koffi ??= require('koffi') as Koffi;
  return koffi;
}

export function getLibc(): Libc {
  if (libc) return libc;
  const k = koffiModule();
  const lib = k.load('libc.so.6');
  libc = {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    bind: lib.func('int bind(int sockfd, void *addr, uint32_t addrlen)'),
    listen: lib.func('int listen(int sockfd, int backlog)'),
    connect: lib.func('int connect(int sockfd, void *addr, uint32_t addrlen)'),
    setsockopt: lib.func('int setsockopt(int sockfd, int level, int optname, void *optval, uint32_t optlen)'),
    getsockopt: lib.func('int getsockopt(int sockfd, int level, int optname, void *optval, void *optlen)'),
    getsockname: lib.func('int getsockname(int sockfd, void *addr, void *addrlen)'),
    close: lib.func('int close(int fd)'),
    send: lib.func('intptr_t send(int sockfd, void *buf, uintptr_t len, int flags)'),
    sendmsg: lib.func('intptr_t sendmsg(int sockfd, void *msg, int flags)'),
    recvmsg: lib.func('intptr_t recvmsg(int sockfd, void *msg, int flags)'),
    shutdown: lib.func('int shutdown(int sockfd, int how)'),
    inet_pton: lib.func('int inet_pton(int af, const char *src, void *dst)'),
    inet_ntop: lib.func('void *inet_ntop(int af, void *src, void *dst, uint32_t size)'),
  } as Libc;
  return libc;
}

/** The errno of the last failed libc call on this thread. */
export function lastErrno(): number {
  return koffiModule().errno();
}

/**
 * Turns a libc return code into a value or a typed error naming the call,
 * errno and its code. `what` is the call as a reader would search for it,
 * e.g. "setsockopt(TCP_REPAIR)".
 */
export function check(rc: number, what: string): number {
  if (rc < 0) {
    const errno = lastErrno();
    throw new SyscallError(what, errno, errnoName(errno));
  }
  return rc;
}

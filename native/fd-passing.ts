// Passing file descriptors over AF_UNIX sockets: sendmsg/recvmsg with an
// SCM_RIGHTS control message. The msghdr, its iovec, the control buffer and
// the data live in C memory (koffi.alloc) because the kernel follows the
// pointers inside msghdr, and because a recvmsg may run on libuv's threadpool
// (`.async`), where a JS Buffer could move or be collected under it.
import { check, getLibc, koffiModule, lastErrno } from './libc.js';
import { MSG_CTRUNC, MSG_DONTWAIT, SCM_RIGHTS, SOL_SOCKET } from './constants.js';
import { EAGAIN, errnoName } from './errno.js';
import { SyscallError } from './syscall-error.js';
import { CMSGHDR_OFFSETS, CMSGHDR_SIZE, cmsgLen, cmsgSpace, IOVEC_OFFSETS, IOVEC_SIZE, MSGHDR_OFFSETS, MSGHDR_SIZE } from './structs.js';

/** What one recvmsg returned. `bytes.length === 0` is end of stream. */
export interface Received {
  readonly bytes: Buffer;
  /** Descriptors that arrived with these bytes, in order; the caller owns (and must close) them. */
  readonly fds: number[];
  /** MSG_CTRUNC: more descriptors were sent than fitted; the kernel closed the rest. */
  readonly truncated: boolean;
}

/** One msghdr + iovec + control + data block in C memory, laid out back to back. */
class MsgBlock {
  readonly ptr: unknown;
  readonly mem: Buffer;
  readonly controlOffset: number;
  readonly controlCapacity: number;
  readonly dataOffset: number;
  readonly dataCapacity: number;
  #freed = false;

  constructor(dataCapacity: number, maxFds: number) {
    const k = koffiModule();
    this.controlOffset = MSGHDR_SIZE + IOVEC_SIZE; // 72: already 8-aligned, as cmsghdr needs
    this.controlCapacity = cmsgSpace(4 * maxFds);
    this.dataOffset = this.controlOffset + this.controlCapacity;
    this.dataCapacity = dataCapacity;
    const size = this.dataOffset + dataCapacity;
    this.ptr = k.alloc('uint8_t', size);
    this.mem = Buffer.from(k.view(this.ptr as never, size) as ArrayBuffer);
    this.mem.fill(0);
    const base = BigInt(k.address(this.ptr as never));
    const m = MSGHDR_OFFSETS;
    const iov = MSGHDR_SIZE;
    this.mem.writeBigUInt64LE(base + BigInt(iov), m.msg_iov);
    this.mem.writeBigUInt64LE(1n, m.msg_iovlen);
    this.mem.writeBigUInt64LE(base + BigInt(this.dataOffset), iov + IOVEC_OFFSETS.iov_base);
    this.#controlBase = base + BigInt(this.controlOffset);
  }

  readonly #controlBase: bigint;

  /** Points msghdr at `dataLen` bytes of data and `controlLen` bytes of control (0: none). */
  arm(dataLen: number, controlLen: number): void {
    const m = MSGHDR_OFFSETS;
    this.mem.writeBigUInt64LE(BigInt(dataLen), MSGHDR_SIZE + IOVEC_OFFSETS.iov_len);
    this.mem.writeBigUInt64LE(controlLen === 0 ? 0n : this.#controlBase, m.msg_control);
    this.mem.writeBigUInt64LE(BigInt(controlLen), m.msg_controllen);
    this.mem.writeInt32LE(0, m.msg_flags);
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    koffiModule().free(this.ptr as never);
  }
}

// sendmsg runs only on the event loop's thread and never re-enters JavaScript: one block serves every call.
let sendBlock: MsgBlock | undefined;

/**
 * sendmsg() of `data` on the AF_UNIX socket `sock`, with `fd` (if given) in an
 * SCM_RIGHTS control message, so it arrives with the first byte of `data`.
 * Returns the bytes sent (a stream socket may take fewer than all); throws a
 * SyscallError naming errno (EAGAIN on a full send buffer with MSG_DONTWAIT,
 * EPIPE when the peer is gone). The caller still owns `fd`: the receiver gets
 * its own reference.
 */
export function sendWithFd(sock: number, data: Buffer, fd: number | undefined, flags: number): number {
  if (sendBlock === undefined || sendBlock.dataCapacity < data.length) {
    sendBlock?.free();
    sendBlock = new MsgBlock(Math.max(8192, data.length), 1);
  }
  const b = sendBlock;
  data.copy(b.mem, b.dataOffset);
  if (fd === undefined) {
    b.arm(data.length, 0);
  } else {
    const c = b.controlOffset;
    b.mem.fill(0, c, c + b.controlCapacity);
    b.mem.writeBigUInt64LE(BigInt(cmsgLen(4)), c + CMSGHDR_OFFSETS.cmsg_len);
    b.mem.writeInt32LE(SOL_SOCKET, c + CMSGHDR_OFFSETS.cmsg_level);
    b.mem.writeInt32LE(SCM_RIGHTS, c + CMSGHDR_OFFSETS.cmsg_type);
    b.mem.writeInt32LE(fd, c + CMSGHDR_SIZE);
    b.arm(data.length, cmsgSpace(4));
  }
  return check(getLibc().sendmsg(sock, b.ptr, flags), 'sendmsg');
}

/**
 * recvmsg() into C memory that it owns, collecting SCM_RIGHTS descriptors.
 * One receiver per reading loop: a block must not be shared by two calls in
 * flight. free() it when the loop ends.
 */
export class FdReceiver {
  readonly #block: MsgBlock;

  /** `dataCapacity` bytes per call; room for `maxFds` descriptors per call (more arrive truncated). */
  constructor(dataCapacity = 65_536, maxFds = 16) {
    this.#block = new MsgBlock(dataCapacity, maxFds);
  }

  /** Blocking or not as the socket is (pass MSG_DONTWAIT to never block); throws SyscallError. */
  recv(sock: number, flags: number): Received {
    this.#block.arm(this.#block.dataCapacity, this.#block.controlCapacity);
    const rc = getLibc().recvmsg(sock, this.#block.ptr, flags);
    if (rc < 0) {
      const errno = lastErrno();
      throw new SyscallError('recvmsg', errno, errnoName(errno));
    }
    return this.#collect(rc);
  }

  /**
   * Non-blocking recvmsg(): what is in now, or undefined when nothing is (EAGAIN, without
   * building an error: a burst's drain meets it once per request). Other failures throw.
   */
  recvNow(sock: number, flags: number): Received | undefined {
    this.#block.arm(this.#block.dataCapacity, this.#block.controlCapacity);
    const rc = getLibc().recvmsg(sock, this.#block.ptr, flags | MSG_DONTWAIT);
    if (rc < 0) {
      const errno = lastErrno();
      if (errno === EAGAIN) return undefined;
      throw new SyscallError('recvmsg', errno, errnoName(errno));
    }
    return this.#collect(rc);
  }

  /**
   * recvmsg() on libuv's threadpool: a blocking socket waits there, off the event
   * loop, and `cb` runs on the loop. A failure carries no reliable errno (it was
   * set on another thread): it is reported as a SyscallError with errno 0.
   */
  recvAsync(sock: number, flags: number, cb: (err: SyscallError | undefined, received: Received | undefined) => void): void {
    this.#block.arm(this.#block.dataCapacity, this.#block.controlCapacity);
    getLibc().recvmsg.async(sock, this.#block.ptr, flags, (err, rc) => {
      if (err !== null && err !== undefined) return cb(new SyscallError(`recvmsg (async): ${String(err)}`, 0, 'EUNKNOWN'), undefined);
      if (rc < 0) return cb(new SyscallError('recvmsg (async)', 0, 'EUNKNOWN'), undefined);
      cb(undefined, this.#collect(rc));
    });
  }

  free(): void {
    this.#block.free();
  }

  #collect(n: number): Received {
    const b = this.#block;
    const bytes = Buffer.from(b.mem.subarray(b.dataOffset, b.dataOffset + n));
    const fds: number[] = [];
    // The kernel rewrites msg_controllen to the bytes of control data it wrote.
    const controlLen = Number(b.mem.readBigUInt64LE(MSGHDR_OFFSETS.msg_controllen));
    const flags = b.mem.readInt32LE(MSGHDR_OFFSETS.msg_flags);
    for (let o = 0; o + CMSGHDR_SIZE <= controlLen; ) {
      const at = b.controlOffset + o;
      const len = Number(b.mem.readBigUInt64LE(at + CMSGHDR_OFFSETS.cmsg_len));
      if (len < CMSGHDR_SIZE) break;
      const level = b.mem.readInt32LE(at + CMSGHDR_OFFSETS.cmsg_level);
      const type = b.mem.readInt32LE(at + CMSGHDR_OFFSETS.cmsg_type);
      if (level === SOL_SOCKET && type === SCM_RIGHTS) {
        for (let i = 0; i < Math.floor((len - CMSGHDR_SIZE) / 4); i++) fds.push(b.mem.readInt32LE(at + CMSGHDR_SIZE + 4 * i));
      }
      o += cmsgSpace(len - CMSGHDR_SIZE);
    }
    return { bytes, fds, truncated: (flags & MSG_CTRUNC) !== 0 };
  }
}

/** send() of bytes without descriptors; returns the bytes sent; throws SyscallError (EAGAIN, EPIPE…). */
export function sendBytes(sock: number, data: Buffer, flags: number): number {
  return check(getLibc().send(sock, data, data.length, flags), 'send');
}

/** shutdown(): wakes a recvmsg blocked on the threadpool (it returns 0) before the fd is closed. */
export function shutdownSocket(sock: number, how: number): void {
  check(getLibc().shutdown(sock, how), 'shutdown');
}

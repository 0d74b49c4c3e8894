// SCM_RIGHTS through the real kernel: a socketpair, a loopback TCP connection
// whose fd crosses it, and the received fd used as a socket.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AF_UNIX, MSG_CMSG_CLOEXEC, MSG_DONTWAIT, MSG_NOSIGNAL, SHUT_RDWR, SOCK_CLOEXEC, SOCK_STREAM } from '../../native/constants.js';
import { FdReceiver, sendBytes, sendWithFd, shutdownSocket } from '../../native/fd-passing.js';
import { getLibc, koffiModule } from '../../native/libc.js';
import { closeFd, connectUnixStream } from '../../native/socket-ops.js';
import { SyscallError } from '../../src/errors.js';

// socketpair() is test-only: production's symbol table holds only the calls production makes.
function socketpair(): [number, number] {
  const k = koffiModule();
  const fn = k.load('libc.so.6').func('int socketpair(int domain, int type, int protocol, _Out_ int *sv)');
  const sv = [0, 0];
  const out = Buffer.alloc(8);
  if (fn(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) !== 0) throw new Error(`socketpair failed: errno ${k.errno()}`);
  sv[0] = out.readInt32LE(0);
  sv[1] = out.readInt32LE(4);
  return [sv[0]!, sv[1]!];
}

let server: net.Server;
let port: number;
const accepted: net.Socket[] = [];
const toClose: number[] = [];
const sockets: net.Socket[] = [];

beforeAll(async () => {
  server = net.createServer((s) => {
    accepted.push(s);
    s.on('error', () => {});
    s.on('data', (d) => s.write(`echo:${d.toString()}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});
afterAll(() => {
  server.close();
  for (const s of accepted) s.destroy();
});
afterEach(() => {
  for (const fd of toClose.splice(0)) getLibc().close(fd);
  for (const s of sockets.splice(0)) s.destroy();
});

async function tcpClient(): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  await once(s, 'connect');
  sockets.push(s);
  return s;
}

function fdOf(s: net.Socket): number {
  return (s as unknown as { _handle: { fd: number } })._handle.fd;
}

describe('sendWithFd / FdReceiver over a socketpair', () => {
  it('a TCP socket crosses with its message and works on the other side', async () => {
    const [a, b] = socketpair();
    toClose.push(a, b);
    const original = await tcpClient();
    const sent = sendWithFd(a, Buffer.from('{"fd":true}\n'), fdOf(original), MSG_DONTWAIT | MSG_NOSIGNAL);
    expect(sent).toBe(12);
    // The sender's copy closes: the receiver's reference keeps the connection open (no FIN).
    original.destroy();
    const rx = new FdReceiver(4096, 4);
    const got = rx.recv(b, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    rx.free();
    expect(got.bytes.toString()).toBe('{"fd":true}\n');
    expect(got.fds).toHaveLength(1);
    expect(got.truncated).toBe(false);
    const received = new net.Socket({ fd: got.fds[0]!, readable: true, writable: true });
    sockets.push(received);
    received.write('ping');
    const [reply] = (await once(received, 'data')) as [Buffer];
    expect(reply.toString()).toBe('echo:ping');
  });

  it('recvAsync waits on the threadpool and returns bytes and the fd; bytes without an fd carry none', async () => {
    const [a, b] = socketpair();
    toClose.push(a, b);
    const rx = new FdReceiver();
    const first = new Promise<{ bytes: string; fds: number[] }>((resolve, reject) =>
      rx.recvAsync(b, MSG_CMSG_CLOEXEC, (err, r) => (err ? reject(err) : resolve({ bytes: r!.bytes.toString(), fds: r!.fds }))),
    );
    await new Promise((r) => setTimeout(r, 20)); // the call is blocked in the kernel by now
    const client = await tcpClient();
    sendWithFd(a, Buffer.from('one\n'), fdOf(client), MSG_NOSIGNAL);
    const one = await first;
    expect(one.bytes).toBe('one\n');
    expect(one.fds).toHaveLength(1);
    toClose.push(...one.fds);
    sendBytes(a, Buffer.from('two\n'), MSG_NOSIGNAL);
    const two = rx.recv(b, MSG_DONTWAIT);
    expect(two.bytes.toString()).toBe('two\n');
    expect(two.fds).toEqual([]);
    rx.free();
  });

  it('two fd-bearing messages never share one recvmsg (the kernel stops at the first)', async () => {
    const [a, b] = socketpair();
    toClose.push(a, b);
    const c1 = await tcpClient();
    const c2 = await tcpClient();
    sendWithFd(a, Buffer.from('A\n'), fdOf(c1), MSG_NOSIGNAL);
    sendWithFd(a, Buffer.from('B\n'), fdOf(c2), MSG_NOSIGNAL);
    const rx = new FdReceiver();
    const r1 = rx.recv(b, MSG_DONTWAIT);
    const r2 = rx.recv(b, MSG_DONTWAIT);
    rx.free();
    toClose.push(...r1.fds, ...r2.fds);
    expect([r1.bytes.toString(), r1.fds.length, r2.bytes.toString(), r2.fds.length]).toEqual(['A\n', 1, 'B\n', 1]);
  });

  it('an empty non-blocking read is EAGAIN; shutdown() ends a blocked recvAsync with end of stream', async () => {
    const [a, b] = socketpair();
    toClose.push(a, b);
    const rx = new FdReceiver();
    expect(() => rx.recv(b, MSG_DONTWAIT)).toThrowError(expect.objectContaining({ errnoCode: 'EAGAIN' }) as Error);
    const done = new Promise<number>((resolve) => rx.recvAsync(b, 0, (_err, r) => resolve(r?.bytes.length ?? -1)));
    await new Promise((r) => setTimeout(r, 20));
    shutdownSocket(b, SHUT_RDWR);
    expect(await done).toBe(0);
    rx.free();
  });

  it('recvNow: undefined when nothing is in (no error built), the message and its fd when one is, and a closed fd throws', () => {
    const [a, b] = socketpair();
    toClose.push(a, b);
    const rx = new FdReceiver(4096, 4);
    expect(rx.recvNow(b, 0)).toBeUndefined();
    sendBytes(a, Buffer.from('one\n'), MSG_NOSIGNAL);
    expect(rx.recvNow(b, 0)?.bytes.toString()).toBe('one\n');
    expect(rx.recvNow(b, 0)).toBeUndefined();
    expect(() => rx.recvNow(-1, 0)).toThrowError(expect.objectContaining({ errnoCode: 'EBADF' }) as Error);
    rx.free();
  });

  it('sendmsg to a closed peer is EPIPE (MSG_NOSIGNAL: no signal)', () => {
    const [a, b] = socketpair();
    toClose.push(a);
    closeFd(b);
    let err: unknown;
    try {
      sendWithFd(a, Buffer.from('x'), undefined, MSG_NOSIGNAL | MSG_DONTWAIT);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SyscallError);
    expect((err as SyscallError).errnoCode).toBe('EPIPE');
  });
});

describe('connectUnixStream', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'synpool-fdp-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('connects to a listening path; a missing path is ENOENT; a too long path is a RangeError', async () => {
    const path = join(dir, 's.sock');
    const unix = net.createServer((c) => c.end('hi'));
    await new Promise<void>((r) => unix.listen(path, r));
    const fd = connectUnixStream(path, 100);
    toClose.push(fd);
    await new Promise((r) => setTimeout(r, 20));
    const rx = new FdReceiver();
    expect(rx.recv(fd, MSG_DONTWAIT).bytes.toString()).toBe('hi');
    rx.free();
    unix.close();
    expect(() => connectUnixStream(join(dir, 'missing.sock'), 100)).toThrowError(expect.objectContaining({ errnoCode: 'ENOENT' }) as Error);
    expect(() => connectUnixStream(`/${'x'.repeat(120)}`, 100)).toThrow(RangeError);
  });
});

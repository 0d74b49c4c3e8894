// The struct layouts in native/ against the kernel's own headers: a C program
// compiled here prints sizeof/offsetof, and both koffi's view and the offsets
// the hot path writes at must agree with it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as C from '../../native/constants.js';
import { assertCCompiler } from '../helpers/prerequisites.js';
import { koffiModule } from '../../native/libc.js';
import {
  CMSGHDR_OFFSETS, CMSGHDR_SIZE, cmsgLen, cmsgSpace, IOVEC_OFFSETS, IOVEC_SIZE, MSGHDR_OFFSETS, MSGHDR_SIZE, SOCKADDR_UN_PATH_OFFSET,
  SOCKADDR_UN_SIZE, SOCK_FILTER_SIZE, SOCK_FPROG_FILTER_OFFSET, SOCK_FPROG_SIZE, SOCKADDR_IN_SIZE, SOCKADDR_IN6_OFFSETS, SOCKADDR_IN6_SIZE, structTypes,
  TCP_INFO_OFFSETS, TCP_REPAIR_OPT_SIZE, TCP_REPAIR_WINDOW_OFFSETS, TCP_REPAIR_WINDOW_SIZE,
} from '../../native/structs.js';

const PROGRAM = `
#include <stdio.h>
#include <stddef.h>
#include <sched.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/uio.h>
#include <linux/filter.h>
#include <linux/tcp.h>
#include <linux/sock_diag.h>
#define S(t) printf("sizeof %s %zu\\n", #t, sizeof(struct t));
#define O(t, f) printf("offsetof %s.%s %zu\\n", #t, #f, offsetof(struct t, f));
#define K(c) printf("const %s %ld\\n", #c, (long)(c));
int main(void) {
  S(sockaddr_in) O(sockaddr_in, sin_family) O(sockaddr_in, sin_port) O(sockaddr_in, sin_addr)
  S(sockaddr_in6) O(sockaddr_in6, sin6_family) O(sockaddr_in6, sin6_port) O(sockaddr_in6, sin6_flowinfo)
  O(sockaddr_in6, sin6_addr) O(sockaddr_in6, sin6_scope_id)
  S(sock_filter) O(sock_filter, code) O(sock_filter, jt) O(sock_filter, jf) O(sock_filter, k)
  S(sock_fprog) O(sock_fprog, len) O(sock_fprog, filter)
  S(tcp_repair_opt) O(tcp_repair_opt, opt_code) O(tcp_repair_opt, opt_val)
  S(tcp_repair_window) O(tcp_repair_window, snd_wl1) O(tcp_repair_window, snd_wnd) O(tcp_repair_window, max_window)
  O(tcp_repair_window, rcv_wnd) O(tcp_repair_window, rcv_wup)
  O(tcp_info, tcpi_state) O(tcp_info, tcpi_options) O(tcp_info, tcpi_rto) O(tcp_info, tcpi_snd_mss) O(tcp_info, tcpi_rcv_mss)
  O(tcp_info, tcpi_unacked) O(tcp_info, tcpi_rtt) O(tcp_info, tcpi_snd_cwnd) O(tcp_info, tcpi_advmss)
  O(tcp_info, tcpi_total_retrans) O(tcp_info, tcpi_bytes_acked) O(tcp_info, tcpi_bytes_received)
  O(tcp_info, tcpi_segs_out) O(tcp_info, tcpi_segs_in)
  S(iovec) O(iovec, iov_base) O(iovec, iov_len)
  S(msghdr) O(msghdr, msg_name) O(msghdr, msg_namelen) O(msghdr, msg_iov) O(msghdr, msg_iovlen) O(msghdr, msg_control)
  O(msghdr, msg_controllen) O(msghdr, msg_flags)
  S(cmsghdr) O(cmsghdr, cmsg_len) O(cmsghdr, cmsg_level) O(cmsghdr, cmsg_type)
  S(sockaddr_un) O(sockaddr_un, sun_path)
  K(CMSG_LEN(4)) K(CMSG_SPACE(4)) K(CMSG_SPACE(64))
  printf("const CMSG_DATA_OFFSET %ld\\n", (long)CMSG_DATA((struct cmsghdr *)0));
  K(AF_UNIX) K(SO_SNDTIMEO) K(SCM_RIGHTS) K(MSG_DONTWAIT) K(MSG_CTRUNC) K(MSG_NOSIGNAL) K(MSG_CMSG_CLOEXEC) K(SHUT_RDWR)
  K(AF_INET6) K(IPPROTO_IP) K(IPPROTO_IPV6) K(IP_MTU) K(IPV6_MTU) K(SKF_NET_OFF)
  K(AF_INET) K(SOCK_STREAM) K(SOCK_DGRAM) K(SOCK_NONBLOCK) K(SOCK_CLOEXEC) K(SOL_SOCKET) K(SO_REUSEADDR) K(SO_RCVBUF)
  K(SO_ATTACH_FILTER) K(SO_MEMINFO) K(SK_MEMINFO_DROPS) K(SK_MEMINFO_VARS) K(IPPROTO_TCP) K(TCP_NODELAY) K(TCP_MAXSEG) K(TCP_INFO) K(TCP_REPAIR) K(TCP_REPAIR_QUEUE) K(TCP_QUEUE_SEQ)
  K(TCP_REPAIR_OPTIONS) K(TCP_TIMESTAMP) K(TCP_REPAIR_WINDOW) K(TCP_REPAIR_ON) K(TCP_REPAIR_OFF) K(TCP_REPAIR_OFF_NO_WP)
  K(TCP_RECV_QUEUE) K(TCP_SEND_QUEUE) K(CLONE_NEWNET) K(O_RDONLY) K(O_CLOEXEC)
  K(BPF_LD) K(BPF_LDX) K(BPF_ALU) K(BPF_JMP) K(BPF_RET) K(BPF_W) K(BPF_H) K(BPF_B) K(BPF_ABS) K(BPF_IND) K(BPF_MSH)
  K(BPF_AND) K(BPF_JEQ) K(BPF_JSET) K(BPF_K)
  return 0;
}
`;

let dir: string;
const abi = new Map<string, number>();

beforeAll(() => {
  // No compiler is a failure naming it, not a skip: this test is the only check of the layouts.
  assertCCompiler(['stdio.h', 'linux/tcp.h', 'linux/filter.h']);
  dir = mkdtempSync(join(tmpdir(), 'synpool-abi-'));
  writeFileSync(join(dir, 'abi.c'), PROGRAM);
  execFileSync('cc', ['-D_GNU_SOURCE', '-o', join(dir, 'abi'), join(dir, 'abi.c')]);
  for (const line of execFileSync(join(dir, 'abi'), { encoding: 'utf8' }).trim().split('\n')) {
    const [kind, name, value] = line.split(' ');
    abi.set(`${kind} ${name}`, Number(value));
  }
});
afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const get = (key: string): number => {
  const v = abi.get(key);
  if (v === undefined) throw new Error(`the C program printed no ${key}`);
  return v;
};

describe('struct layouts match <linux/tcp.h>, <linux/filter.h>, <netinet/in.h>', () => {
  it('koffi definitions', () => {
    const k = koffiModule();
    const t = structTypes();
    for (const [name, type] of Object.entries(t)) {
      expect(k.sizeof(type), `sizeof ${name}`).toBe(get(`sizeof ${name}`));
    }
    expect(k.offsetof(t.sockaddr_in, 'sin_port')).toBe(get('offsetof sockaddr_in.sin_port'));
    expect(k.offsetof(t.sockaddr_in, 'sin_addr')).toBe(get('offsetof sockaddr_in.sin_addr'));
    for (const f of Object.keys(SOCKADDR_IN6_OFFSETS)) expect(k.offsetof(t.sockaddr_in6, f)).toBe(get(`offsetof sockaddr_in6.${f}`));
    for (const f of ['code', 'jt', 'jf', 'k']) expect(k.offsetof(t.sock_filter, f)).toBe(get(`offsetof sock_filter.${f}`));
    expect(k.offsetof(t.sock_fprog, 'filter')).toBe(get('offsetof sock_fprog.filter'));
    for (const f of ['opt_code', 'opt_val']) expect(k.offsetof(t.tcp_repair_opt, f)).toBe(get(`offsetof tcp_repair_opt.${f}`));
    for (const f of Object.keys(TCP_REPAIR_WINDOW_OFFSETS)) {
      expect(k.offsetof(t.tcp_repair_window, f)).toBe(get(`offsetof tcp_repair_window.${f}`));
    }
    for (const f of Object.keys(MSGHDR_OFFSETS)) expect(k.offsetof(t.msghdr, f)).toBe(get(`offsetof msghdr.${f}`));
    for (const f of Object.keys(IOVEC_OFFSETS)) expect(k.offsetof(t.iovec, f)).toBe(get(`offsetof iovec.${f}`));
    for (const f of Object.keys(CMSGHDR_OFFSETS)) expect(k.offsetof(t.cmsghdr, f)).toBe(get(`offsetof cmsghdr.${f}`));
  });

  it('the fd-passing layouts (msghdr, iovec, cmsghdr, CMSG_* macros, sockaddr_un)', () => {
    expect(MSGHDR_SIZE).toBe(get('sizeof msghdr'));
    for (const [f, off] of Object.entries(MSGHDR_OFFSETS)) expect(off, f).toBe(get(`offsetof msghdr.${f}`));
    expect(IOVEC_SIZE).toBe(get('sizeof iovec'));
    for (const [f, off] of Object.entries(IOVEC_OFFSETS)) expect(off, f).toBe(get(`offsetof iovec.${f}`));
    expect(CMSGHDR_SIZE).toBe(get('sizeof cmsghdr'));
    for (const [f, off] of Object.entries(CMSGHDR_OFFSETS)) expect(off, f).toBe(get(`offsetof cmsghdr.${f}`));
    expect(cmsgLen(4)).toBe(get('const CMSG_LEN(4)'));
    expect(cmsgSpace(4)).toBe(get('const CMSG_SPACE(4)'));
    expect(cmsgSpace(4 * 16)).toBe(get('const CMSG_SPACE(64)'));
    expect(CMSGHDR_SIZE).toBe(get('const CMSG_DATA_OFFSET'));
    expect(SOCKADDR_UN_SIZE).toBe(get('sizeof sockaddr_un'));
    expect(SOCKADDR_UN_PATH_OFFSET).toBe(get('offsetof sockaddr_un.sun_path'));
  });

  it('the sizes and offsets the hot path writes at', () => {
    expect(SOCKADDR_IN_SIZE).toBe(get('sizeof sockaddr_in'));
    expect(SOCKADDR_IN6_SIZE).toBe(get('sizeof sockaddr_in6'));
    for (const [f, off] of Object.entries(SOCKADDR_IN6_OFFSETS)) expect(off, f).toBe(get(`offsetof sockaddr_in6.${f}`));
    expect(SOCK_FILTER_SIZE).toBe(get('sizeof sock_filter'));
    expect(SOCK_FPROG_SIZE).toBe(get('sizeof sock_fprog'));
    expect(SOCK_FPROG_FILTER_OFFSET).toBe(get('offsetof sock_fprog.filter'));
    expect(TCP_REPAIR_OPT_SIZE).toBe(get('sizeof tcp_repair_opt'));
    expect(TCP_REPAIR_WINDOW_SIZE).toBe(get('sizeof tcp_repair_window'));
    for (const [f, off] of Object.entries(TCP_REPAIR_WINDOW_OFFSETS)) expect(off, f).toBe(get(`offsetof tcp_repair_window.${f}`));
    for (const [f, off] of Object.entries(TCP_INFO_OFFSETS)) {
      if (f === 'tcpi_wscale') continue; // a bitfield pair: offsetof cannot name it; it sits between tcpi_options and tcpi_rto
      expect(off, f).toBe(get(`offsetof tcp_info.${f}`));
    }
    expect(TCP_INFO_OFFSETS.tcpi_wscale).toBe(get('offsetof tcp_info.tcpi_options') + 1);
  });
});

describe('constants match the headers', () => {
  const cases: Array<[string, number]> = [
    ['AF_INET6', C.AF_INET6], ['IPPROTO_IP', C.IPPROTO_IP], ['IPPROTO_IPV6', C.IPPROTO_IPV6], ['IP_MTU', C.IP_MTU],
    ['IPV6_MTU', C.IPV6_MTU], ['SKF_NET_OFF', C.SKF_NET_OFF],
    ['AF_INET', C.AF_INET], ['SOCK_STREAM', C.SOCK_STREAM], ['SOCK_DGRAM', C.SOCK_DGRAM], ['SOCK_NONBLOCK', C.SOCK_NONBLOCK],
    ['SOCK_CLOEXEC', C.SOCK_CLOEXEC], ['SOL_SOCKET', C.SOL_SOCKET], ['SO_REUSEADDR', C.SO_REUSEADDR], ['SO_RCVBUF', C.SO_RCVBUF],
    ['SO_ATTACH_FILTER', C.SO_ATTACH_FILTER], ['SO_MEMINFO', C.SO_MEMINFO], ['SK_MEMINFO_DROPS', C.SK_MEMINFO_DROPS],
    ['SK_MEMINFO_VARS', C.SK_MEMINFO_VARS], ['IPPROTO_TCP', C.IPPROTO_TCP], ['TCP_NODELAY', C.TCP_NODELAY], ['TCP_MAXSEG', C.TCP_MAXSEG],
    ['TCP_INFO', C.TCP_INFO], ['TCP_REPAIR', C.TCP_REPAIR], ['TCP_REPAIR_QUEUE', C.TCP_REPAIR_QUEUE], ['TCP_QUEUE_SEQ', C.TCP_QUEUE_SEQ],
    ['TCP_REPAIR_OPTIONS', C.TCP_REPAIR_OPTIONS], ['TCP_TIMESTAMP', C.TCP_TIMESTAMP], ['TCP_REPAIR_WINDOW', C.TCP_REPAIR_WINDOW],
    ['TCP_REPAIR_ON', C.TCP_REPAIR_ON], ['TCP_REPAIR_OFF', C.TCP_REPAIR_OFF], ['TCP_REPAIR_OFF_NO_WP', C.TCP_REPAIR_OFF_NO_WP],
    ['TCP_RECV_QUEUE', C.TCP_RECV_QUEUE], ['TCP_SEND_QUEUE', C.TCP_SEND_QUEUE], ['CLONE_NEWNET', C.CLONE_NEWNET],
    ['O_RDONLY', C.O_RDONLY], ['O_CLOEXEC', C.O_CLOEXEC],
    ['AF_UNIX', C.AF_UNIX], ['SO_SNDTIMEO', C.SO_SNDTIMEO], ['SCM_RIGHTS', C.SCM_RIGHTS], ['MSG_DONTWAIT', C.MSG_DONTWAIT],
    ['MSG_CTRUNC', C.MSG_CTRUNC], ['MSG_NOSIGNAL', C.MSG_NOSIGNAL], ['MSG_CMSG_CLOEXEC', C.MSG_CMSG_CLOEXEC], ['SHUT_RDWR', C.SHUT_RDWR],
    ['BPF_LD', C.BPF.LD], ['BPF_LDX', C.BPF.LDX], ['BPF_ALU', C.BPF.ALU], ['BPF_JMP', C.BPF.JMP], ['BPF_RET', C.BPF.RET],
    ['BPF_W', C.BPF.W], ['BPF_H', C.BPF.H], ['BPF_B', C.BPF.B], ['BPF_ABS', C.BPF.ABS], ['BPF_IND', C.BPF.IND],
    ['BPF_MSH', C.BPF.MSH], ['BPF_AND', C.BPF.AND], ['BPF_JEQ', C.BPF.JEQ], ['BPF_JSET', C.BPF.JSET], ['BPF_K', C.BPF.K],
  ];
  it.each(cases)('%s', (name, value) => expect(value).toBe(get(`const ${name}`)));
  // <netinet/tcp.h> (SOL_TCP) cannot be included beside <linux/tcp.h>; tcp(7) defines it as IPPROTO_TCP.
  it('SOL_TCP', () => expect(C.SOL_TCP).toBe(get('const IPPROTO_TCP')));
});

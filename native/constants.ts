// Linux ABI constants, grouped by the header that defines them.

/** <sys/socket.h>, <bits/socket_type.h> */
export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_RCVBUF = 8;
/** struct linger as the value; { l_onoff: 1, l_linger: 0 } makes close() abort the connection with a RST. */
export const SO_LINGER = 13;
export const AF_UNIX = 1;
/** struct timeval as the value: bounds a blocking connect() on an AF_UNIX socket whose listener's backlog is full. */
export const SO_SNDTIMEO = 21;
/** cmsg_type of a control message carrying file descriptors. */
export const SCM_RIGHTS = 1;
export const MSG_DONTWAIT = 0x40;
/** Control data did not fit: the kernel closed the descriptors that did not fit. */
export const MSG_CTRUNC = 0x08;
export const MSG_NOSIGNAL = 0x4000;
/** Received descriptors get FD_CLOEXEC (no leak into a child process). */
export const MSG_CMSG_CLOEXEC = 0x40000000;
export const SHUT_RDWR = 2;

/** <asm-generic/socket.h> */
export const SO_ATTACH_FILTER = 26;
/** Removes the socket's filter; any process holding the socket may (unless the filter was locked). */
export const SO_DETACH_FILTER = 27;
/** Attaches a loaded eBPF socket filter by its program fd: a reference, not a copy and a compile as SO_ATTACH_FILTER. */
export const SO_ATTACH_BPF = 50;
/** getsockopt: u32[SK_MEMINFO_VARS] of the socket's memory use; [SK_MEMINFO_DROPS] is sk_drops. */
export const SO_MEMINFO = 55;

/** <linux/sock_diag.h> */
export const SK_MEMINFO_DROPS = 8;
export const SK_MEMINFO_VARS = 9;

/** <netinet/in.h> */
export const IPPROTO_IP = 0;
export const IPPROTO_TCP = 6;
export const IPPROTO_IPV6 = 41;
/** <linux/in.h>, <linux/in6.h>: the path MTU of a connected socket. */
export const IP_MTU = 14;
export const IPV6_MTU = 24;
export const SOL_TCP = 6;

/** <linux/tcp.h> */
export const TCP_NODELAY = 1;
export const TCP_MAXSEG = 2;
export const TCP_INFO = 11;
export const TCP_REPAIR = 19;
export const TCP_REPAIR_QUEUE = 20;
export const TCP_QUEUE_SEQ = 21;
export const TCP_REPAIR_OPTIONS = 22;
export const TCP_TIMESTAMP = 24;
export const TCP_REPAIR_WINDOW = 29;
export const TCP_REPAIR_ON = 1;
export const TCP_REPAIR_OFF = 0;
/** Leave repair mode without sending a window probe (kernel >= 4.17). See the handoff notes: TCP_REPAIR_OFF stalls the first request. */
export const TCP_REPAIR_OFF_NO_WP = -1;
export const TCP_RECV_QUEUE = 1;
export const TCP_SEND_QUEUE = 2;
/** TCP option kinds, as TCP_REPAIR_OPTIONS takes them (<net/tcp.h>). */
export const TCPOPT_MSS = 2;
export const TCPOPT_WINDOW = 3;
export const TCPOPT_SACK_PERM = 4;
export const TCPOPT_TIMESTAMP = 8;

/** <linux/tcp_states.h>: the values of tcpi_state. */
export const TCP_ESTABLISHED = 1;
export const TCP_CLOSE = 7;
export const TCP_LISTEN = 10;

/** <sched.h> */
export const CLONE_NEWNET = 0x40000000;

/** <fcntl.h> */
export const O_RDONLY = 0;
export const O_CLOEXEC = 0o2000000;

/**
 * <linux/filter.h>: a classic-BPF load at SKF_NET_OFF + n reads byte n of the
 * network header, wherever the packet the filter sees starts (an AF_INET6 raw
 * socket's starts at the TCP header).
 */
export const SKF_NET_OFF = -0x100000;

/** <linux/filter.h>: classic BPF opcodes. */
export const BPF = {
  LD: 0x00,
  LDX: 0x01,
  ALU: 0x04,
  JMP: 0x05,
  RET: 0x06,
  W: 0x00,
  H: 0x08,
  B: 0x10,
  ABS: 0x20,
  IND: 0x40,
  MSH: 0xa0,
  AND: 0x50,
  JEQ: 0x10,
  JSET: 0x40,
  K: 0x00,
} as const;

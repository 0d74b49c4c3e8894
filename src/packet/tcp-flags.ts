/** Bits of the TCP header's flags byte (offset 13). The NS bit in byte 12 is experimental (RFC 3540, historic) and not modelled. */
export const TCP_FLAGS = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;

export type TcpFlagName = keyof typeof TCP_FLAGS;

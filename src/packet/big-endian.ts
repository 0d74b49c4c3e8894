// Readers over plain byte indexing rather than a DataView: decoding runs per
// received SYN-ACK/RST, and a DataView per packet is an avoidable allocation.
// Callers bounds-check first; these never read past what they were told.

export function readU16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

export function readU32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

// Leading zeros are refused: inet_aton reads "010" as octal 8, so accepting it
// would let the same string mean different hosts here and in libc.
const DOTTED_QUAD = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;

/** Parses a dotted-quad IPv4 address into its unsigned 32-bit value (network order as a number). Throws RangeError on anything else. */
export function parseIpv4Address(address: string): number {
  const m = DOTTED_QUAD.exec(address);
  if (m === null) throw new RangeError(`not a dotted-quad IPv4 address: ${JSON.stringify(address)}`);
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) throw new RangeError(`IPv4 address octet out of range: ${JSON.stringify(address)}`);
    value = value * 256 + octet;
  }
  return value;
}

/** Formats four bytes at `offset` as a dotted quad. */
export function formatIpv4Address(bytes: Uint8Array, offset: number): string {
  return `${bytes[offset]!}.${bytes[offset + 1]!}.${bytes[offset + 2]!}.${bytes[offset + 3]!}`;
}

// A minimal reader for the classic pcap file format (what `tcpdump -w` writes):
// the global header, then records of (timestamp, captured length, original
// length, bytes). Microsecond and nanosecond files, either byte order. Only
// the link types tcpdump gives for the interfaces this benchmark captures on
// are unwrapped to their IPv4 packet: Linux cooked v1/v2 (`-i any`),
// Ethernet, raw IP.
export interface PcapFrame {
  /** Capture time, µs since the epoch (fractional for nanosecond files). */
  tUs: number;
  /** The IPv4 packet, or undefined when the frame carries something else. */
  ip: Uint8Array | undefined;
  /** Bytes on the wire; more than the captured bytes when the snap length cut the frame. */
  originalLength: number;
}

export class PcapFormatError extends Error {
  override name = 'PcapFormatError';
}

const MAGIC_MICRO = 0xa1b2c3d4;
const MAGIC_NANO = 0xa1b23c4d;
const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
const ETHERTYPE_IPV4 = 0x0800;

/** DLT numbers → where the ethertype sits and where the network header starts. */
const LINK_LAYOUTS: Record<number, { etherTypeAt: number | undefined; headerLength: number }> = {
  1: { etherTypeAt: 12, headerLength: 14 }, // Ethernet
  101: { etherTypeAt: undefined, headerLength: 0 }, // raw IP (LINKTYPE_RAW)
  113: { etherTypeAt: 14, headerLength: 16 }, // Linux cooked v1 (SLL)
  276: { etherTypeAt: 0, headerLength: 20 }, // Linux cooked v2 (SLL2), tcpdump's default for -i any
};

export function readPcap(file: Uint8Array): PcapFrame[] {
  if (file.length < GLOBAL_HEADER) throw new PcapFormatError(`pcap file too short (${file.length} bytes)`);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let little: boolean;
  let nano: boolean;
  const le = view.getUint32(0, true);
  const be = view.getUint32(0, false);
  if (le === MAGIC_MICRO || le === MAGIC_NANO) [little, nano] = [true, le === MAGIC_NANO];
  else if (be === MAGIC_MICRO || be === MAGIC_NANO) [little, nano] = [false, be === MAGIC_NANO];
  else throw new PcapFormatError(`not a pcap file (magic 0x${le.toString(16)}; pcapng is not supported: write with tcpdump -w)`);
  const linkType = view.getUint32(20, little) & 0x0fffffff;
  const layout = LINK_LAYOUTS[linkType];
  if (!layout) throw new PcapFormatError(`unsupported link type ${linkType} (supported: ${Object.keys(LINK_LAYOUTS).join(', ')})`);

  const frames: PcapFrame[] = [];
  let off = GLOBAL_HEADER;
  // A record cut short by a killed writer ends the list; everything before it is good.
  while (off + RECORD_HEADER <= file.length) {
    const sec = view.getUint32(off, little);
    const frac = view.getUint32(off + 4, little);
    const capLen = view.getUint32(off + 8, little);
    const origLen = view.getUint32(off + 12, little);
    const start = off + RECORD_HEADER;
    if (start + capLen > file.length) break;
    const bytes = file.subarray(start, start + capLen);
    off = start + capLen;
    frames.push({ tUs: sec * 1e6 + (nano ? frac / 1e3 : frac), ip: ipv4Of(bytes, layout), originalLength: origLen });
  }
  return frames;
}

function ipv4Of(bytes: Uint8Array, layout: { etherTypeAt: number | undefined; headerLength: number }): Uint8Array | undefined {
  if (bytes.length <= layout.headerLength) return undefined;
  if (layout.etherTypeAt !== undefined) {
    const etherType = (bytes[layout.etherTypeAt]! << 8) | bytes[layout.etherTypeAt + 1]!;
    if (etherType !== ETHERTYPE_IPV4) return undefined;
  }
  const ip = bytes.subarray(layout.headerLength);
  return ip[0]! >> 4 === 4 ? ip : undefined;
}

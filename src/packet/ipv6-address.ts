// IPv6 text ⇄ 16 bytes. The formatter follows RFC 5952 (lowercase, no leading
// zeros, the longest run of two or more zero groups compressed, the first on a
// tie, never a dotted-quad tail), so one address always has one spelling: the
// handshake layer keys its state by address strings, and those must match
// whatever the kernel or a user wrote.

/** Parses an IPv6 address (no brackets, no zone id; a dotted-quad tail is accepted) into 16 bytes. Throws RangeError. */
export function parseIpv6Address(text: string): Uint8Array {
  const bad = (): never => {
    throw new RangeError(`not an IPv6 address: ${JSON.stringify(text)}`);
  };
  if (text.length < 2 || text.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(text)) bad();
  const halves = text.split('::');
  if (halves.length > 2) bad();
  const groups = (part: string, isLast: boolean): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    pieces.forEach((p, i) => {
      if (isLast && i === pieces.length - 1 && p.includes('.')) {
        const q = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(p);
        if (q === null) bad();
        const o = q!.slice(1).map(Number);
        if (o.some((x) => x > 255)) bad();
        out.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
        return;
      }
      if (!/^[0-9A-Fa-f]{1,4}$/.test(p)) bad();
      out.push(parseInt(p, 16));
    });
    return out;
  };
  let words: number[];
  if (halves.length === 2) {
    const head = groups(halves[0]!, false);
    const tail = groups(halves[1]!, true);
    // "::" stands for at least one zero group.
    if (head.length + tail.length > 7) bad();
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    words = groups(text, true);
    if (words.length !== 8) bad();
  }
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  return bytes;
}

/** The address as four big-endian 32-bit words (what a BPF word load or a CIDR mask compares). Throws RangeError. */
export function ipv6Words(text: string): [number, number, number, number] {
  const b = parseIpv6Address(text);
  const v = new DataView(b.buffer, b.byteOffset, 16);
  return [v.getUint32(0), v.getUint32(4), v.getUint32(8), v.getUint32(12)];
}

/** Formats the 16 bytes at `offset` as RFC 5952 text. */
export function formatIpv6Address(bytes: Uint8Array, offset = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!);
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never compressed (RFC 5952 §4.2.2)
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/** The RFC 5952 spelling of an IPv6 address. Throws RangeError. */
export function canonicalIpv6(text: string): string {
  return formatIpv6Address(parseIpv6Address(text));
}

// The drops column of /proc/PID/net/raw: what the kernel threw away because a
// raw socket's receive buffer was full, for every raw socket in PID's network
// namespace. Read from outside the proxy, so it measures old and new builds alike.
import { readFileSync } from 'node:fs';

/** Sum of the drops column (the last one); undefined when the file cannot be read. */
export function rawSocketDrops(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/net/raw`, 'utf8');
  } catch {
    return undefined;
  }
  return parseRawDrops(text);
}

/** Pure: the drops column summed over the socket lines of a /proc/net/raw text. */
export function parseRawDrops(text: string): number {
  let sum = 0;
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 13) continue;
    const drops = Number(cols[cols.length - 1]);
    if (Number.isFinite(drops)) sum += drops;
  }
  return sum;
}

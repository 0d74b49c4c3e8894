import type { IncomingMessage, ServerResponse } from 'node:http';
import { pairsFromObject, removeHopByHop } from './headers.js';

/** What became of an upstream 1xx (other than 101, which only an upgrade gets). */
export type InterimOutcome = 'forwarded' | 'dropped';

/**
 * Relays an upstream interim response to the client where node:http can write one
 * (RFC 9110 §15.2: a proxy forwards 1xx it did not ask for). node:http writes 102
 * (writeProcessing) and 103 (writeEarlyHints) only; 100 is dropped because node:http
 * has already answered a client's `Expect: 100-continue` itself (and the upstream
 * never sees Expect). HTTP/1.0 clients get no 1xx (RFC 9110 §15.2), nor does a
 * response whose final head is already out.
 */
export function forwardInterim(
  req: IncomingMessage,
  res: ServerResponse,
  statusCode: number,
  headers: Record<string, string | string[] | undefined>,
): InterimOutcome {
  if (res.headersSent || res.writableEnded) return 'dropped';
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor < 1) return 'dropped';
  if (statusCode === 102) {
    res.writeProcessing();
    return 'forwarded';
  }
  if (statusCode === 103) {
    const hints: Record<string, string | string[]> = {};
    for (const [name, value] of removeHopByHop(pairsFromObject(headers))) {
      const key = name.toLowerCase();
      const prior = hints[key];
      hints[key] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior]), value];
    }
    // node:http writes nothing for hints without a Link, which is all 103 is for.
    if (hints.link === undefined) return 'dropped';
    try {
      res.writeEarlyHints(hints);
    } catch {
      return 'dropped'; // a Link value node:http refuses (invalid characters)
    }
    return 'forwarded';
  }
  return 'dropped';
}

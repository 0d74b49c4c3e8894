import { HandshakeRefusedError, HandshakeTimeoutError } from '../errors.js';
import type { HandshakeDriver } from './driver.js';
import { formatEndpoint } from './endpoint.js';
import type { HalfOpen } from './half-open.js';

interface Waiter {
  resolve(rttMs: number): void;
  reject(err: Error): void;
}

// One listener pair per driver, however many entries are awaited at once.
const waiters = new WeakMap<HandshakeDriver, Map<HalfOpen, Waiter>>();

function waitersOf(driver: HandshakeDriver): Map<HalfOpen, Waiter> {
  let map = waiters.get(driver);
  if (map) return map;
  const m = new Map<HalfOpen, Waiter>();
  driver.on('synack', (entry, info) => {
    if (!info.retransmit) m.get(entry)?.resolve(info.rttMs);
  });
  driver.on('reset', (entry) => m.get(entry)?.reject(new HandshakeRefusedError(formatEndpoint(entry.target))));
  waiters.set(driver, m);
  map = m;
  return map;
}

/**
 * Resolves with the SYN-ACK round trip once `entry` is established; rejects
 * with HandshakeRefusedError on a RST and HandshakeTimeoutError (entry
 * released) when no SYN-ACK comes in time.
 */
export function awaitEstablished(driver: HandshakeDriver, entry: HalfOpen, timeoutMs: number): Promise<number> {
  if (entry.state === 'established' && entry.synAckAt !== undefined) return Promise.resolve(entry.synAckAt - entry.sentAt);
  const map = waitersOf(driver);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      map.delete(entry);
      driver.release(entry);
      reject(new HandshakeTimeoutError(formatEndpoint(entry.target), timeoutMs));
    }, timeoutMs);
    map.set(entry, {
      resolve(rttMs) {
        clearTimeout(timer);
        map.delete(entry);
        resolve(rttMs);
      },
      reject(err) {
        clearTimeout(timer);
        map.delete(entry);
        reject(err);
      },
    });
  });
}

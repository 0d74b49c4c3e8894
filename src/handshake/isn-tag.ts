// The mark every SYN of one channel carries, so that the kernel filter can
// tell answers to the pool's SYNs from answers to the host's own connects
// (which the raw socket would otherwise receive too: a copy of every inbound
// TCP segment). The mark sits where every answer echoes it: the
// acknowledgement number, ISN+1. Pure: the BPF program and the handshaker
// both use it.
import { randomInt } from 'node:crypto';

/** Top bits of ISN+1 that carry the tag: 12 leave 20 random bits per ISN, and a foreign SYN-ACK passes once in 4096. */
export const ISN_TAG_BITS = 12;
export const ISN_TAG_SHIFT = 32 - ISN_TAG_BITS;
/** Mask of the tag bits in an acknowledgement number. */
export const ISN_TAG_MASK = ((2 ** ISN_TAG_BITS - 1) << ISN_TAG_SHIFT) >>> 0;
export const MAX_ISN_TAG = 2 ** ISN_TAG_BITS - 1;
const LOW_MASK = 2 ** ISN_TAG_SHIFT - 1;

/** A random tag; each channel draws its own, so two pools (or processes) filter only their own answers. */
export function randomIsnTag(): number {
  return randomInt(0, MAX_ISN_TAG + 1);
}

/** What the tag bits of an answer's acknowledgement number must equal. */
export function isnTagPattern(tag: number): number {
  if (!Number.isInteger(tag) || tag < 0 || tag > MAX_ISN_TAG) throw new RangeError(`an ISN tag is an integer in 0…${MAX_ISN_TAG}, got ${tag}`);
  return (tag << ISN_TAG_SHIFT) >>> 0;
}

/**
 * The ISN to send: ISN+1 = tag in the top bits, `random` (any uint32; only its
 * low 32 − ISN_TAG_BITS bits are used) below. The ISN itself may carry a
 * different top (when the low bits of ISN+1 are 0), which is why the tag is
 * defined on ISN+1.
 */
export function taggedIsn(tag: number, random: number): number {
  return ((isnTagPattern(tag) | (random & LOW_MASK)) - 1) >>> 0;
}

/** True when `ack` (an answer's acknowledgement number) carries `tag`. */
export function ackCarriesTag(ack: number, tag: number): boolean {
  return ((ack & ISN_TAG_MASK) >>> 0) === isnTagPattern(tag);
}

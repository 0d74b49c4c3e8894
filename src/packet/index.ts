export { TCP_FLAGS, type TcpFlagName } from './tcp-flags.js';
export {
  TCP_OPTION_KIND,
  MAX_WSCALE,
  encodeTcpOptions,
  decodeTcpOptions,
  parseTcpOptionsRange,
  type TcpOptions,
  type TcpOptionsDecodeResult,
} from './tcp-options.js';
export { internetChecksum, tcpChecksum, tcpChecksumIpv4, tcpChecksumIpv6 } from './checksum.js';
export { parseIpv4Address, formatIpv4Address } from './ipv4-address.js';
export {
  encodeTcpSegment,
  TCP_HEADER_LENGTH,
  MAX_TCP_HEADER_LENGTH,
  MAX_TCP_SEGMENT_LENGTH,
  type SegmentSpec,
} from './encode-segment.js';
export { encodeSyn, type SynSpec } from './syn.js';
export { encodeRst } from './rst.js';
export {
  decodeIpv4Tcp,
  decodeBareTcp,
  type DecodeFailure,
  type DecodedSegment,
  type DecodeResult,
  type DecodeOptions,
} from './decode-segment.js';
export { parseIpv6Address, formatIpv6Address, canonicalIpv6 } from './ipv6-address.js';

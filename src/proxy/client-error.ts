/** The answer to a malformed client request (node:http `clientError`), before the connection is closed. */
export interface ClientErrorAnswer {
  status: number;
  text: string;
}

const BY_CODE: Record<string, ClientErrorAnswer> = {
  HPE_HEADER_OVERFLOW: { status: 431, text: 'Request Header Fields Too Large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, text: 'Request Timeout' },
};

const BAD_REQUEST: ClientErrorAnswer = { status: 400, text: 'Bad Request' };
const NOT_IMPLEMENTED: ClientErrorAnswer = { status: 501, text: 'Not Implemented' };

/** Transfer codings registered with IANA: a request that uses one we cannot frame gets 400, any other 501. */
const KNOWN_CODINGS = new Set(['chunked', 'compress', 'deflate', 'gzip', 'trailers', 'x-compress', 'x-gzip']);

/** The codings named by the Transfer-Encoding fields of a request head (latin1 bytes as node:http saw them). */
export function transferCodings(rawPacket: Buffer | undefined): string[] {
  if (rawPacket === undefined) return [];
  const head = rawPacket.toString('latin1');
  const end = head.indexOf('\r\n\r\n');
  const codings: string[] = [];
  for (const line of (end === -1 ? head : head.slice(0, end)).split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0 || line.slice(0, colon).trim().toLowerCase() !== 'transfer-encoding') continue;
    for (const c of line.slice(colon + 1).split(',')) {
      const coding = (c.split(';')[0] ?? '').trim().toLowerCase();
      if (coding !== '') codings.push(coding);
    }
  }
  return codings;
}

/**
 * Status for a parser error. RFC 9112 §6.1: a transfer coding the server does not
 * understand → 501; chunked missing or not last (the body length is unknowable), a bad
 * chunk size or any other framing error → 400. Either way the connection is closed:
 * where the next request would start is unknown.
 */
export function clientErrorAnswer(err: NodeJS.ErrnoException & { rawPacket?: Buffer }): ClientErrorAnswer {
  const code = err.code ?? 'UNKNOWN';
  const known = BY_CODE[code];
  if (known !== undefined) return known;
  if (code === 'HPE_INVALID_TRANSFER_ENCODING' && transferCodings(err.rawPacket).some((c) => !KNOWN_CODINGS.has(c))) return NOT_IMPLEMENTED;
  return BAD_REQUEST;
}

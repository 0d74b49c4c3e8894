// The pure parts of HTTPS upstreams: the status of a TLS failure, the session cache's bound.
import { describe, expect, it } from 'vitest';
import { retryReason } from '../../src/proxy/retry-policy.js';
import { TlsSessionCache } from '../../src/proxy/tls-session-cache.js';
import { upstreamErrorResponse } from '../../src/proxy/upstream-error.js';

const coded = (code: string): Error => Object.assign(new Error(code), { code });

describe('TLS failures → status', () => {
  it.each(['ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN'])(
    '%s → 502 upstream certificate rejected, the code kept for the log, never retried',
    (code) => {
      expect(upstreamErrorResponse(coded(code))).toEqual({ status: 502, message: 'upstream certificate rejected', code });
      // Even on a connection, for an idempotent method: a certificate does not get better on a second try.
      for (const origin of [undefined, 'pool', 'plain'] as const) {
        expect(retryReason(coded(code), { method: 'GET', attempt: 1, responded: false, bodyReplayable: true, origin })).toBeUndefined();
      }
    },
  );

  it('another TLS error → 502 upstream TLS handshake failed; plain errors keep their mapping', () => {
    expect(upstreamErrorResponse(coded('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION'))).toMatchObject({ status: 502, message: 'upstream TLS handshake failed' });
    expect(upstreamErrorResponse(coded('ECONNRESET'))).toMatchObject({ status: 502, message: 'upstream connection failed' });
    expect(upstreamErrorResponse(coded('ECONNREFUSED'))).toMatchObject({ status: 502, message: 'upstream refused the connection' });
  });
});

describe('TlsSessionCache', () => {
  it('keeps the latest session per origin and drops the least recently used beyond its bound', () => {
    const cache = new TlsSessionCache(2);
    cache.set('a:443', Buffer.from('a1'));
    cache.set('a:443', Buffer.from('a2'));
    cache.set('b:443', Buffer.from('b1'));
    expect(cache.get('a:443')?.toString()).toBe('a2');
    cache.set('c:443', Buffer.from('c1'));
    expect(cache.size).toBe(2);
    expect(cache.get('b:443')).toBeUndefined();
    expect(cache.get('a:443')?.toString()).toBe('a2');
    expect(cache.get('c:443')?.toString()).toBe('c1');
  });
});

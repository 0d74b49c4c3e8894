import { readFileSync } from 'node:fs';
import tls, { type SecureContext } from 'node:tls';
import { TlsSessionCache } from './tls-session-cache.js';

/** How a dispatcher talks TLS to https:// origins (the library's and the proxy's knob). */
export interface UpstreamTlsOptions {
  /**
   * The name sent as SNI and checked against the certificate. Default: undici's servername
   * for the request, else the origin's host (an IPv4 literal is checked against the
   * certificate's IP addresses and sends no SNI).
   */
  servername?: string;
  /** Extra trusted CA certificates (PEM), on top of Node's default roots and NODE_EXTRA_CA_CERTS. */
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** Verify the certificate chain and name. Default true. */
  rejectUnauthorized?: boolean;
  /** Where sessions are kept for resumption; default: one cache per dispatcher. */
  sessions?: TlsSessionCache;
}

/** Resolved once per dispatcher: one secure context for every connection. */
export interface UpstreamTls {
  readonly servername: string | undefined;
  readonly rejectUnauthorized: boolean;
  readonly secureContext: SecureContext;
  readonly sessions: TlsSessionCache;
}

/** HTTP/1.1 only: the proxy speaks HTTP/1.1 upstream (undici's Client). */
export const ALPN_PROTOCOLS = ['http/1.1'];

/**
 * Node replaces its default roots when `ca` is given, and NODE_EXTRA_CA_CERTS with them:
 * so an extra CA is added to both, never instead of them.
 */
function trustedCas(extra: UpstreamTlsOptions['ca']): (string | Buffer)[] | undefined {
  if (extra === undefined) return undefined;
  const roots: (string | Buffer)[] = [...tls.rootCertificates];
  const envFile = process.env.NODE_EXTRA_CA_CERTS;
  if (envFile !== undefined && envFile !== '') {
    try {
      roots.push(readFileSync(envFile, 'utf8'));
    } catch {
      // Node itself warns about an unreadable NODE_EXTRA_CA_CERTS at start; nothing to add.
    }
  }
  return roots.concat(Array.isArray(extra) ? extra : [extra as string | Buffer]);
}

export function resolveUpstreamTls(options: UpstreamTlsOptions = {}): UpstreamTls {
  return Object.freeze({
    servername: options.servername,
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    // TLS ≥ 1.2: anything older is broken, and a pooled socket gains nothing from it.
    secureContext: tls.createSecureContext({ ca: trustedCas(options.ca), minVersion: 'TLSv1.2' }),
    sessions: options.sessions ?? new TlsSessionCache(),
  });
}

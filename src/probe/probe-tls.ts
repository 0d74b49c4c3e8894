import { once } from 'node:events';
import { isIP, type Socket } from 'node:net';
import tls, { type SecureContext, type TLSSocket } from 'node:tls';
import { ALPN_PROTOCOLS } from '../proxy/upstream-tls.js';

/** What the probe needs to talk TLS to an https:// URL, the way the proxy does. */
export interface ProbeTls {
  /** SNI and the checked name (an IPv4 literal: no SNI, checked against the certificate's IPs). */
  servername: string;
  /** Built once (probeTls): parsing Node's ~140 roots takes milliseconds that are no part of a handshake. */
  secureContext: SecureContext;
  rejectUnauthorized: boolean;
}

/** `ca`: extra trusted CAs (PEM), on top of Node's defaults. */
export function probeTls(servername: string, ca: string | undefined, rejectUnauthorized: boolean): ProbeTls {
  const secureContext = tls.createSecureContext({ minVersion: 'TLSv1.2', ...(ca === undefined ? {} : { ca: [...tls.rootCertificates, ca] }) });
  return { servername, secureContext, rejectUnauthorized };
}

/**
 * TLS over a connected socket; resolves with the TLS socket and the handshake time (ms) from
 * the first ClientHello byte to a verified server. No session is reused: each probe run times a
 * full handshake, what a first request to an upstream pays.
 */
export async function timedTlsHandshake(socket: Socket, o: ProbeTls): Promise<{ socket: TLSSocket; tlsMs: number }> {
  const start = performance.now();
  const secure = tls.connect({
    socket,
    host: o.servername,
    servername: isIP(o.servername) === 0 ? o.servername : undefined,
    ALPNProtocols: ALPN_PROTOCOLS,
    secureContext: o.secureContext,
    rejectUnauthorized: o.rejectUnauthorized,
  });
  try {
    await once(secure, 'secureConnect');
  } catch (err) {
    secure.destroy();
    socket.destroy();
    throw err;
  }
  return { socket: secure, tlsMs: performance.now() - start };
}

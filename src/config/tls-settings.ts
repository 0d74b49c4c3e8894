import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';

/** The `tls` section: how an https:// upstream is verified. Applies only to https upstreams. */
export interface TlsSettings {
  /** A PEM file of extra trusted CAs, added to Node's default roots and NODE_EXTRA_CA_CERTS; null: none. */
  ca: string | null;
  /** The name sent as SNI and checked against the certificate; null: the upstream URL's host. */
  servername: string | null;
  /** Verify the upstream's certificate chain and name. false needs to be said explicitly and logs a warning at start. */
  verify: boolean;
}

export const TLS_DEFAULTS: Readonly<TlsSettings> = Object.freeze({ ca: null, servername: null, verify: true });

const FIELDS = Object.keys(TLS_DEFAULTS) as (keyof TlsSettings)[];

// A DNS name as SNI carries it: letters, digits, hyphens, dots; no IP literal (RFC 6066 §3 forbids one in SNI).
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

function show(value: unknown): string {
  return value === undefined ? 'undefined' : `${JSON.stringify(value)} (${value === null ? 'null' : typeof value})`;
}

/** Validates the merged `tls` object; throws ConfigError naming `tls.<field>`. */
export function resolveTlsSettings(input: Record<string, unknown>, path = 'tls'): TlsSettings {
  for (const field of Object.keys(input)) {
    if (!(FIELDS as string[]).includes(field)) throw new ConfigError(`${path}.${field}`, `unknown field; allowed: ${FIELDS.join(', ')}`);
  }
  const out: TlsSettings = { ...TLS_DEFAULTS };
  const ca = input.ca ?? null;
  if (ca !== null && (typeof ca !== 'string' || ca === '')) throw new ConfigError(`${path}.ca`, `got ${show(ca)}; allowed: a path to a PEM file of CA certificates, or null`);
  out.ca = ca;
  const servername = input.servername ?? null;
  if (servername !== null && (typeof servername !== 'string' || !HOSTNAME.test(servername) || isIP(servername) !== 0)) {
    throw new ConfigError(`${path}.servername`, `got ${show(servername)}; allowed: a DNS name (not an IP address), or null for the upstream URL's host`);
  }
  out.servername = servername;
  const verify = input.verify ?? TLS_DEFAULTS.verify;
  if (typeof verify !== 'boolean') throw new ConfigError(`${path}.verify`, `got ${show(verify)}; allowed: true or false`);
  out.verify = verify;
  return out;
}

import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import type { UpstreamTlsOptions } from '../proxy/upstream-tls.js';
import type { UpstreamTarget } from './load-config.js';
import type { TlsSettings } from './tls-settings.js';

/** The validated `tls` section + the resolved upstream → the agent's TLS options; reads tls.ca once. */
export function upstreamTlsOptions(settings: Readonly<TlsSettings>, upstream?: Pick<UpstreamTarget, 'servername'>): UpstreamTlsOptions {
  const options: UpstreamTlsOptions = { rejectUnauthorized: settings.verify };
  // The origin's host is the resolved address; the name to present and check is the configured one.
  // Without an upstream (several servers) each request carries its server's name (ProxyExchange).
  const servername = settings.servername ?? upstream?.servername;
  if (servername !== undefined) options.servername = servername;
  if (settings.ca !== null) options.ca = readCaFile(settings.ca);
  return options;
}

function readCaFile(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('tls.ca', `cannot read ${JSON.stringify(path)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError('tls.ca', `${JSON.stringify(path)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return pem;
}

import { isIPv4 } from 'node:net';
import { InvalidArgumentError } from '../errors.js';

/** An IPv4 address and TCP port. */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export function formatEndpoint(e: Endpoint): string {
  return `${e.address}:${e.port}`;
}

/** Checks an endpoint once at the edge; IPv4 only for now. */
export function parseEndpoint(address: string, port: number): Endpoint {
  if (!isIPv4(address)) throw new InvalidArgumentError(`${address} is not an IPv4 address (synpool accelerates IPv4 only)`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(`port ${port} is not in 1..65535`);
  return { address, port };
}

export function endpointKey(e: Endpoint): string {
  return `${e.address}:${e.port}`;
}

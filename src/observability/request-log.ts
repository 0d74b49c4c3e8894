import type { Logger } from 'pino';
import type { AcceleratedAgent } from '../proxy/accelerated-agent.js';
import type { ClientErrorRecord, ProxyServer, RequestRecord } from '../proxy/proxy-server.js';
import type { UpgradeRecord } from '../proxy/upgrade-exchange.js';
import { isTlsUpstream } from './tls-label.js';

/**
 * One log line per request (upstream, method, path, status, durationMs, connection…),
 * one per malformed client request, one per upgrade (when its tunnel closes), and one
 * per fallback/retry at debug level.
 * Returns a function that unsubscribes.
 */
export function attachRequestLog(logger: Logger, proxy: ProxyServer, agent?: AcceleratedAgent): () => void {
  const onRequest = (r: RequestRecord): void => {
    // At warn and above only 5xx lines are written: no line object for the others.
    if (r.status < 500 && !logger.isLevelEnabled('info')) return;
    const line = { ...r, tls: isTlsUpstream(r), durationMs: Math.round(r.durationMs * 1000) / 1000 };
    if (r.status >= 500) logger.warn(line, 'request');
    else logger.info(line, 'request');
  };
  const onClientError = (e: ClientErrorRecord): void => logger.info({ clientError: e.code, status: e.status }, 'malformed request');
  const onUpgrade = (u: UpgradeRecord): void => {
    logger.info({ ...u, durationMs: Math.round(u.durationMs * 1000) / 1000 }, 'upgrade');
  };
  proxy.on('request', onRequest);
  proxy.on('client-error', onClientError);
  proxy.on('upgrade', onUpgrade);
  const onFallback = (e: unknown): void => logger.debug({ fallback: e }, 'fallback');
  const onRetry = (e: unknown): void => logger.debug({ retry: e }, 'retry');
  agent?.events.on('fallback', onFallback);
  agent?.events.on('retry', onRetry);
  return () => {
    proxy.off('request', onRequest);
    proxy.off('client-error', onClientError);
    proxy.off('upgrade', onUpgrade);
    agent?.events.off('fallback', onFallback);
    agent?.events.off('retry', onRetry);
  };
}

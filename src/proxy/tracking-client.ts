import type { Socket } from 'node:net';
import { Client, type Dispatcher } from 'undici';
import type { Endpoint } from '../handshake/endpoint.js';
import { connectionInfo } from './connection-registry.js';
import type { ConnectionOrigin } from './connection-source.js';
import { expectResponse } from './continue-filter.js';

/**
 * Dispatch options may carry this symbol-keyed callback; the client calls it when the
 * request is written, naming where its connection came from.
 */
export const kConnectionObserver: unique symbol = Symbol('synpool.connectionObserver');

export type ConnectionObserver = (origin: ConnectionOrigin, target: Endpoint | undefined) => void;

/** The socket a client currently writes to; set by its connector when a connection is handed over. */
export interface ClientSocketState {
  socket: Socket | undefined;
}

/** The old-style handler undici's Client calls (its dispatcher base unwraps new-style handlers before). */
type InternalHandler = Dispatcher.DispatchHandler & {
  onConnect?: (abort: (err?: Error) => void, context?: unknown) => void;
  onResponseStarted?: () => void;
  onHeaders?: (statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string) => boolean;
};

const noop = (): void => undefined;

/**
 * An undici Client (one connection at a time) that learns, per request, whether the
 * request went out on a pooled, a plain or a reused connection. undici calls the
 * handler's onConnect synchronously while writing the request on the client's current
 * socket, which is the one its connector handed over last. The same moment arms the
 * 100-Continue filter for that request's response (continue-filter.ts).
 */
export class TrackingClient extends Client {
  readonly #state: ClientSocketState;

  constructor(origin: string | URL, options: Client.Options, state: ClientSocketState) {
    super(origin, options);
    this.#state = state;
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const observer = (opts as { [kConnectionObserver]?: ConnectionObserver })[kConnectionObserver];
    const state = this.#state;
    const target = handler as InternalHandler;
    const wrapped = new Proxy(target, {
      get(t, prop) {
        if (prop === 'onConnect') {
          return (abort: (err?: Error) => void, context?: unknown) => {
            const socket = state.socket;
            if (socket !== undefined) {
              // An interim 100 removed from the stream still counts as a response byte (no
              // replay) and is reported like any other 1xx.
              expectResponse(socket, {
                started: () => t.onResponseStarted?.(),
                interim: (statusCode, statusText, rawHeaders) => void t.onHeaders?.(statusCode, rawHeaders, noop, statusText),
              });
            }
            if (observer !== undefined) {
              const info = socket === undefined ? undefined : connectionInfo(socket);
              let origin: ConnectionOrigin = 'plain';
              if (info !== undefined) {
                origin = info.served > 0 ? 'reused' : info.origin;
                info.served += 1;
              }
              observer(origin, info?.target);
            }
            return t.onConnect?.(abort, context);
          };
        }
        const value = Reflect.get(t, prop, t) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
      },
    });
    return super.dispatch(opts, wrapped);
  }
}

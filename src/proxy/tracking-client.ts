import type { Socket } from 'node:net';
import { Client, type Dispatcher } from 'undici';

/**
 * Dispatch options may carry a TrackedRequest under this symbol; the client it is queued
 * on hands it its socket state, which the request reads when it is written.
 */
export const kTrackedRequest: unique symbol = Symbol('synpool.trackedRequest');

/** The socket a client currently writes to; set by its connector when a connection is handed over. */
export interface ClientSocketState {
  socket: Socket | undefined;
}

/** A request that wants to know which connection it goes out on (the agent's Exchange). */
export interface TrackedRequest {
  /** Set when the request is queued on a client; read in onRequestStart. */
  clientState: ClientSocketState | undefined;
}

/**
 * An undici Client (one connection at a time) that tells a tracked request which
 * client it was queued on. undici calls the handler's onRequestStart synchronously
 * while writing the request on the client's current socket, which is the one its
 * connector handed over last: the request reads `clientState.socket` then, and the
 * connection registry says where that socket came from. No per-request wrapper.
 */
export class TrackingClient extends Client {
  readonly #state: ClientSocketState;

  constructor(origin: string | URL, options: Client.Options, state: ClientSocketState) {
    super(origin, options);
    this.#state = state;
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const tracked = (opts as { [kTrackedRequest]?: TrackedRequest })[kTrackedRequest];
    if (tracked !== undefined) tracked.clientState = this.#state;
    return super.dispatch(opts, handler);
  }
}

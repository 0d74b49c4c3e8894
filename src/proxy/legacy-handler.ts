import type { Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import type { ConnectionOrigin } from './connection-source.js';

/** The callbacks of an undici handler written before undici 7 (fetch() and request() still use them). */
export interface LegacyDispatchHandler {
  onConnect?(abort: (err?: Error) => void, context?: unknown): void;
  onResponseStarted?(): void;
  onHeaders?(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean;
  onUpgrade?(statusCode: number, rawHeaders: Buffer[], socket: Socket): void;
  onData?(chunk: Buffer): boolean;
  onComplete?(trailers: Buffer[] | null): void;
  onError?(err: Error): void;
  onConnection?(connection: ConnectionOrigin, attempt: number): void;
}

function rawOf(headers: Record<string, string | string[] | undefined>): Buffer[] {
  const raw: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) raw.push(Buffer.from(name, 'latin1'), Buffer.from(v, 'latin1'));
    else raw.push(Buffer.from(name, 'latin1'), Buffer.from(value, 'latin1'));
  }
  return raw;
}

/**
 * A legacy handler seen through the undici 7 callbacks, the way undici's own
 * WrapHandler (lib/handler/wrap-handler.js, not exported) does it, so that the
 * agent's Exchange has one kind of handler to forward to.
 */
export class LegacyHandler implements Dispatcher.DispatchHandler {
  readonly #handler: LegacyDispatchHandler;

  constructor(handler: LegacyDispatchHandler) {
    this.#handler = handler;
  }

  /** `handler` itself when it already has the undici 7 callbacks. */
  static wrap(handler: Dispatcher.DispatchHandler | LegacyDispatchHandler): Dispatcher.DispatchHandler & { onConnection?(c: ConnectionOrigin, attempt: number): void } {
    return typeof (handler as Dispatcher.DispatchHandler).onRequestStart === 'function'
      ? (handler as Dispatcher.DispatchHandler)
      : new LegacyHandler(handler as LegacyDispatchHandler);
  }

  onConnection(connection: ConnectionOrigin, attempt: number): void {
    this.#handler.onConnection?.(connection, attempt);
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    // undici turns an abort without a reason into its RequestAbortedError.
    this.#handler.onConnect?.((reason?: Error) => controller.abort(reason as Error), context);
  }

  onResponseStarted(): void {
    this.#handler.onResponseStarted?.();
  }

  onRequestUpgrade(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, socket: Socket): void {
    this.#handler.onUpgrade?.(statusCode, rawOf(headers), socket);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    if (this.#handler.onHeaders?.(statusCode, rawOf(headers), () => controller.resume(), statusMessage ?? '') === false) controller.pause();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#handler.onData?.(chunk) === false) controller.pause();
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: Record<string, string | string[] | undefined>): void {
    this.#handler.onComplete?.(rawOf(trailers));
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.#handler.onError === undefined) throw err;
    this.#handler.onError(err);
  }
}

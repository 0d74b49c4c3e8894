import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';

/** Why a tunnel ended: the side that closed first, the idle timer, an error, or the proxy shutting down. */
export type TunnelEnd = 'client' | 'upstream' | 'idle-timeout' | 'client-error' | 'upstream-error' | 'shutdown';

export interface TunnelResult {
  closedBy: TunnelEnd;
  bytesFromClient: number;
  bytesToClient: number;
  /** Error code when closedBy is *-error. */
  error?: string;
}

/**
 * Bytes both ways between an upgraded client connection and its upstream socket.
 * A FIN from one side is passed on as a FIN to the other (half-close; the other
 * direction keeps flowing until its own FIN); an error or a reset on either side
 * destroys both; no byte either way for `idleTimeoutMs` closes both. Emits `close`
 * once, when both sockets are gone.
 */
export class Tunnel extends EventEmitter<{ close: [TunnelResult] }> {
  #closedBy: TunnelEnd | undefined;
  #error: string | undefined;
  #bytesFromClient = 0;
  #bytesToClient = 0;
  #open = 2;

  constructor(
    private readonly client: Socket,
    private readonly upstream: Socket,
    private readonly idleTimeoutMs: number,
  ) {
    super();
  }

  /** `head`: bytes the client sent after its request head (already part of the new protocol). */
  start(head: Buffer): void {
    const { client, upstream } = this;
    // Keep one direction open after the other's FIN; each socket is closed by its own peer's FIN.
    client.allowHalfOpen = true;
    upstream.allowHalfOpen = true;
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    // Activity on the client socket is activity either way: every byte crosses it.
    client.setTimeout(this.idleTimeoutMs, () => this.#fail('idle-timeout'));
    client.on('data', (c: Buffer) => (this.#bytesFromClient += c.length));
    upstream.on('data', (c: Buffer) => (this.#bytesToClient += c.length));
    client.once('end', () => this.#note('client'));
    upstream.once('end', () => this.#note('upstream'));
    client.on('error', (err: NodeJS.ErrnoException) => this.#fail('client-error', err));
    upstream.on('error', (err: NodeJS.ErrnoException) => this.#fail('upstream-error', err));
    // A socket closes once both its directions are done: let the other finish its writes, then close.
    client.once('close', () => this.#closed(upstream));
    upstream.once('close', () => this.#closed(client));
    if (head.length > 0) {
      this.#bytesFromClient += head.length;
      upstream.write(head);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Ends both sides now (proxy shutdown). */
  shutdown(): void {
    this.#fail('shutdown');
  }

  #note(end: TunnelEnd, err?: NodeJS.ErrnoException): void {
    if (this.#closedBy !== undefined) return;
    this.#closedBy = end;
    if (err !== undefined) this.#error = err.code ?? err.message;
  }

  #fail(end: TunnelEnd, err?: NodeJS.ErrnoException): void {
    this.#note(end, err);
    // A broken side is passed on as a reset, so the other peer does not mistake it for a clean close.
    if (end === 'upstream-error') resetOrDestroy(this.client);
    else if (end === 'client-error') resetOrDestroy(this.upstream);
    this.client.destroy();
    this.upstream.destroy();
  }

  #closed(other: Socket): void {
    other.destroySoon();
    this.#open -= 1;
    if (this.#open > 0) return;
    this.client.setTimeout(0);
    const result: TunnelResult = {
      closedBy: this.#closedBy ?? 'upstream',
      bytesFromClient: this.#bytesFromClient,
      bytesToClient: this.#bytesToClient,
    };
    if (this.#error !== undefined) result.error = this.#error;
    this.emit('close', result);
  }
}

function resetOrDestroy(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy(); // not connected any more: nothing to reset
  }
}

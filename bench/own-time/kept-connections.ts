// The upstream connections the relay and lean floors keep open between requests:
// a stack, last kept first taken, so a quiet floor reuses one connection.
import net from 'node:net';

export class KeptConnections {
  readonly #idle: net.Socket[] = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** An idle kept connection, or a new one (connecting; writes before that are queued). */
  take(): net.Socket {
    const up = this.#idle.pop();
    if (up !== undefined) return up;
    const fresh = net.connect({ host: this.host, port: this.port, noDelay: true });
    // An idle connection's close or error takes it off the stack.
    fresh.on('error', () => fresh.destroy());
    fresh.on('close', () => {
      const i = this.#idle.indexOf(fresh);
      if (i >= 0) this.#idle.splice(i, 1);
    });
    return fresh;
  }

  /** Keeps `up` for the next request (its exchange is over and nothing is pending on it). */
  give(up: net.Socket): void {
    if (!up.destroyed) this.#idle.push(up);
  }

  destroyAll(): void {
    for (const s of this.#idle.splice(0)) s.destroy();
  }
}

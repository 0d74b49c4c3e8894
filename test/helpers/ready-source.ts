import net, { type Socket } from 'node:net';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import type { ConnectionSource } from '../../src/proxy/connection-source.js';

/** A ConnectionSource with healthy pre-connected sockets: a stand-in for a warm pool, on loopback. */
export class ReadySource implements ConnectionSource {
  readonly accelerated = true;
  readonly #ready: Socket[] = [];

  async warm(target: Endpoint, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const socket = net.connect(target.port, target.address);
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      this.#ready.push(socket);
    }
  }

  acquire(): Socket | undefined {
    return this.#ready.shift();
  }

  close(): void {
    for (const s of this.#ready.splice(0)) s.destroy();
  }
}

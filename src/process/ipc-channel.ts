// The child's end of the supervisor's IPC channel, typed.
import type { ChildMessage, ParentMessage } from './messages.js';

export function send(message: ChildMessage): void {
  // The supervisor may be gone (its channel closed): a child then shuts itself down on 'disconnect'.
  if (process.connected) process.send?.(message);
}

export function onMessage(handler: (message: ParentMessage) => void): void {
  process.on('message', (m) => handler(m as ParentMessage));
}

/**
 * The supervisor asks for the aggregate of every process's metrics on a worker's
 * behalf: one outstanding request per scrape, answered by id.
 */
export class ScrapeRequests {
  #next = 1;
  readonly #waiting = new Map<number, { resolve: (text: string) => void; timer: NodeJS.Timeout }>();

  request(timeoutMs: number): Promise<string> {
    const id = this.#next++;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`the supervisor did not answer a metrics scrape within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(id, { resolve, timer });
      send({ type: 'scrape', id });
    });
  }

  answer(id: number, text: string): void {
    const w = this.#waiting.get(id);
    if (w === undefined) return;
    this.#waiting.delete(id);
    clearTimeout(w.timer);
    w.resolve(text);
  }
}

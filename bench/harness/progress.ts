// Progress on stderr: a bar redrawn in place on a TTY, plain lines otherwise
// (CI logs, pipes). stdout stays clean for the tables.
import type { Writable } from 'node:stream';

const WIDTH = 28;
/** Redraws at most this often, ms. */
const REDRAW_MS = 100;

export class Progress {
  private done = 0;
  private label = '';
  private lastDraw = 0;
  private readonly tty: boolean;

  constructor(
    private total: number,
    private readonly out: Writable & { isTTY?: boolean; columns?: number } = process.stderr,
  ) {
    this.tty = out.isTTY === true;
  }

  /** A new phase: on a TTY it becomes the bar's label, otherwise one line. */
  phase(label: string): void {
    this.label = label;
    if (this.tty) this.draw(true);
    else this.out.write(`[${this.percent()}] ${label}\n`);
  }

  /** A note that must not be overwritten by the bar. */
  note(text: string): void {
    if (this.tty) this.out.write('\r\x1b[2K');
    this.out.write(`${text}\n`);
    if (this.tty) this.draw(true);
  }

  tick(n = 1): void {
    this.done = Math.min(this.total, this.done + n);
    if (this.tty) this.draw(false);
  }

  addToTotal(n: number): void {
    this.total += n;
  }

  finish(): void {
    this.done = this.total;
    if (this.tty) this.out.write('\r\x1b[2K');
  }

  private percent(): string {
    return `${this.total > 0 ? Math.floor((100 * this.done) / this.total) : 100}%`.padStart(4);
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    const filled = this.total > 0 ? Math.round((WIDTH * this.done) / this.total) : WIDTH;
    const bar = `${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}`;
    const line = `${bar} ${this.percent()} ${this.done}/${this.total} ${this.label}`;
    this.out.write(`\r\x1b[2K${line.slice(0, Math.max(20, (this.out.columns ?? 100) - 1))}`);
  }
}

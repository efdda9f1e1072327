/**
 * A progress bar for long phases, on stderr when it is a terminal (redrawn in place); elsewhere
 * (CI logs, pipes) nothing but the run's own lines, so logs stay readable.
 */
const WIDTH = 28;

export class Progress {
  private readonly tty = Boolean(process.stderr.isTTY);
  private lastDraw = 0;
  private active = false;

  /** Draws `label` with `done` of `total`; `detail` is shown after the percentage. */
  update(label: string, done: number, total: number, detail = ''): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && done < total) return;
    this.lastDraw = now;
    const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
    const filled = Math.round(fraction * WIDTH);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}`;
    const columns = process.stderr.columns ?? 100;
    const line = `  ${bar} ${String(Math.round(fraction * 100)).padStart(3)}%  ${label}${detail ? `  ${detail}` : ''}`;
    process.stderr.write(`\r\x1b[2K${line.slice(0, columns - 1)}`);
    this.active = true;
  }

  /** Shows a bar that fills over `seconds` while `work` runs. */
  async timed<T>(label: string, seconds: number, work: Promise<T>): Promise<T> {
    const start = Date.now();
    const timer = setInterval(() => this.update(label, (Date.now() - start) / 1000, seconds, `${((Date.now() - start) / 1000).toFixed(0)}/${seconds} s`), 200);
    try {
      return await work;
    } finally {
      clearInterval(timer);
      this.clear();
    }
  }

  clear(): void {
    if (this.tty && this.active) process.stderr.write('\r\x1b[2K');
    this.active = false;
  }
}

export const progress = new Progress();

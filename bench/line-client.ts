/**
 * A plain line-oriented TCP client for the bench's own few connections (start-up probing, the
 * first sign-in after start-up). The load generator has its own, faster receive path.
 */
import net, { type Socket } from 'node:net';

export const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

export class LineClient {
  private buffer = '';
  private readonly lines: { text: string; at: number }[] = [];
  private waiter: (() => void) | undefined;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      const at = nowUs();
      this.buffer += text;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) !== -1) {
        this.lines.push({ text: this.buffer.slice(0, nl).replace(/\r$/, ''), at });
        this.buffer = this.buffer.slice(nl + 1);
      }
      this.waiter?.();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
  }

  /** Connects once; rejects on refusal. */
  static connect(host: string, port: number): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, noDelay: true });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new LineClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Connects, retrying every `everyMs` until `timeoutMs` has passed. */
  static async connectWhenUp(host: string, port: number, timeoutMs: number, everyMs = 2): Promise<LineClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await LineClient.connect(host, port);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, everyMs));
      }
    }
  }

  send(line: string): number {
    this.socket.write(`${line}\n`);
    return nowUs();
  }

  /** Resolves with the first line (from those not yet taken) matching `test`, and its arrival time. */
  async waitFor(test: RegExp, timeoutMs = 30_000): Promise<{ text: string; at: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.lines.findIndex((l) => test.test(l.text));
      if (index !== -1) return this.lines.splice(0, index + 1)[index];
      if (this.closed) throw new Error(`connection closed while waiting for ${test}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${test}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

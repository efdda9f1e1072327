/**
 * Runs the client machine against real I/O: a TCP or TLS connection (src/io/tcp-transport.ts), the user's terminal (or piped
 * stdin), and timers (xstate's own clock runs the `after` delays: retry backoff, quit timeout).
 *
 * The machine decides; this file only moves bytes and turns Node callbacks into machine events:
 *
 *   connection  established → socket.connected     'data' → server.line (one per "\n", "\r" stripped)
 *   (TLS: established once the handshake is done and the certificate verified)
 *               'close'   → socket.failed {code} (never connected) | socket.closed {code?}
 *   readline    'line'    → user.line     'close' → user.eof (piped) | user.interrupt (terminal)
 *               'SIGINT'  → user.interrupt (Ctrl-C at a terminal in raw mode)
 *
 * Terminal mode (stdin and stdout both TTYs) draws a readline prompt; a server line arriving while
 * the user types is printed *above* the input, which is then redrawn. Password input is hidden by
 * giving readline a switchable output stream (`MutableTerminalOutput`): while muted, everything
 * readline writes — echoed keys, prompt redraws, cursor moves — is dropped, so not even the cursor
 * position betrays the password's length; the line is kept out of the history via readline's
 * documented 'history' event.
 *
 * Every line shown goes through `show`: terminal controls stripped first, then the server's UTC
 * stamp put in the user's zone, then (at a colour terminal) the client's own colours and the
 * `--bell` (src/machines/client-display.ts). The logins and rooms it names are learned for Tab
 * completion (src/machines/client-completion.ts); who we are comes from `login` or the server's
 * welcome, and is forgotten when a new connection starts.
 *
 * Reconnecting (`reconnect: true`) is the machine's decision; here it only means that a dropped
 * connection is followed by a new `connect`, and that a line submitted between sessions is handed
 * back (`restoreInput`): at a terminal it is put back on the input line, to send once signed in
 * again; piped input has no line to put it back on. What the user is half-way through typing
 * stays on readline's line throughout (server lines are printed above it).
 */
import { EventEmitter } from 'node:events';
import readline from 'node:readline';
import { Writable } from 'node:stream';
import { createActor } from 'xstate';
import { type ClientTransport, connectTcp } from '../io/tcp-transport.js';
import { stripTerminalControls } from '../machines/protocol.js';
import { SeenNames } from '../machines/client-completion.js';
import {
  colourLine,
  localizeStamp,
  localZone,
  mentionsSelf,
  UTC_ZONE,
  wantsColour,
  welcomedLogin,
  type ZoneOffset,
} from '../machines/client-display.js';
import {
  clientMachine,
  isRetryableCode,
  withJitter,
  type BackoffPolicy,
  type ClientEvent,
} from '../machines/client.js';

/** Connect with TLS. `verify: false` skips certificate checks (the CLI's --insecure). */
export type ClientTlsOptions = { verify: true; ca?: Buffer } | { verify: false };

export interface ClientSessionOptions {
  host: string;
  port: number;
  /** Speak TLS; plain TCP when omitted. */
  tls?: ClientTlsOptions;
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream & { isTTY?: boolean };
  /** Interactive terminal UI. Default: both `input` and `output` are TTYs. */
  terminal?: boolean;
  /** A connection attempt that takes longer than this fails with ETIMEDOUT. Default 5 s. */
  connectTimeoutMs?: number;
  backoff?: BackoffPolicy;
  quitTimeoutMs?: number;
  /** Source of jitter for the retry delay; defaults to `Math.random`. */
  random?: () => number;
  /** Reconnect when an established session drops (a server restart). Default false: the session ends. */
  reconnect?: boolean;
  /** Answer the server's login prompt with this, once per session (the CLI's --login). */
  login?: string;
  /** Show time stamps in UTC rather than local time (the CLI's --utc). */
  utc?: boolean;
  /** The zone time stamps are shown in; overrides `utc` (tests pass a fixed offset). */
  zone?: ZoneOffset;
  /** The clock that says what "today" is. Default: the system's. */
  now?: () => Date;
  /** Colours (sender, your login, mentions, dimmed notices). Default: output is a TTY and NO_COLOR is empty. */
  colour?: boolean;
  /** Ring the terminal bell when someone else's line mentions you (the CLI's --bell). */
  bell?: boolean;
}

export interface ClientSession {
  /** Resolves with the process exit code once the session has ended and released its handles. */
  readonly done: Promise<number>;
  /** Ctrl-C from outside (a SIGINT/SIGTERM handler): say /quit if connected, then leave. */
  interrupt(): void;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** A server "line" longer than this without a newline is shown in pieces rather than buffered forever. */
const MAX_LINE_CHARS = 64 * 1024;
const PROMPT = '> ';

export function startClientSession(options: ClientSessionOptions): ClientSession {
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const random = options.random ?? Math.random;
  const interactive = options.terminal ?? Boolean(options.input.isTTY && options.output.isTTY);

  const zone = options.zone ?? (options.utc ? UTC_ZONE : localZone);
  const now = options.now ?? (() => new Date());
  const colour = options.colour ?? wantsColour(options.output.isTTY, process.env['NO_COLOR']);
  const seen = new SeenNames();
  /** Who we are in this session: from --login, or the server's welcome; forgotten on reconnect. */
  let self: string | null = options.login ?? null;

  let finished = false;
  let socket: ClientTransport | null = null;

  const send = (event: ClientEvent): void => {
    if (!finished) actor.send(event);
  };

  const ui: ClientConsole = interactive
    ? new TerminalConsole(options.input as NodeJS.ReadStream, options.output as NodeJS.WriteStream, (line) =>
        seen.complete(line),
      )
    : new PlainConsole(options.input, options.output);
  ui.on('line', (text: string) => send({ type: 'user.line', text }));
  ui.on('eof', () => send({ type: 'user.eof' }));
  ui.on('interrupt', () => send({ type: 'user.interrupt' }));

  /**
   * A line as shown: without terminal controls (a server must not clear or recolour the user's
   * terminal), its stamp in the user's zone, then — only now — our own colours and bell.
   */
  function show(text: string): void {
    const line = localizeStamp(stripTerminalControls(text), now(), zone);
    self = welcomedLogin(line) ?? self;
    seen.learn(line);
    const bell = options.bell && mentionsSelf(line, self) ? '\x07' : '';
    ui.print(bell + (colour ? colourLine(line, self) : line));
  }

  function openSocket(host: string, port: number): void {
    dropSocket();
    self = options.login ?? null;
    const secure = options.tls;
    let established = false;
    let errorCode: string | undefined;
    let partial = '';
    const s = connectTcp({
      host,
      port,
      tls: secure,
      onEstablished: () => {
        established = true;
        s.setTimeout(0);
        if (current()) send({ type: 'socket.connected' });
      },
    });
    socket = s;
    const current = () => socket === s && !finished;

    s.setTimeout(connectTimeoutMs, () => {
      if (!established) s.destroy(withCode(new Error(`connect to ${host}:${port} timed out`), 'ETIMEDOUT'));
    });
    s.on('data', (chunk: string) => {
      if (!current()) return;
      partial += chunk;
      let newline: number;
      while ((newline = partial.indexOf('\n')) !== -1) {
        const line = partial.slice(0, newline);
        partial = partial.slice(newline + 1);
        send({ type: 'server.line', text: line.endsWith('\r') ? line.slice(0, -1) : line });
      }
      if (partial.length > MAX_LINE_CHARS) {
        send({ type: 'server.line', text: partial });
        partial = '';
      }
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'EUNKNOWN';
      // A TLS failure (untrusted certificate, wrong host name, not a TLS server) is final: say what it was.
      errorCode ??= secure && !isRetryableCode(code) ? describeTlsFailure(code, err.message) : code;
    });
    s.on('close', () => {
      if (!current()) return;
      socket = null;
      if (partial) send({ type: 'server.line', text: partial.replace(/\r$/, '') });
      if (!established) send({ type: 'socket.failed', code: errorCode ?? 'ECONNCLOSED' });
      else send(errorCode ? { type: 'socket.closed', code: errorCode } : { type: 'socket.closed' });
    });
  }

  /** Idempotent; the dropped socket's late events are ignored (`current()` is false). */
  function dropSocket(): void {
    const s = socket;
    socket = null;
    s?.destroy();
  }

  const actor = createActor(
    clientMachine.provide({
      actions: {
        connect: (_, { host, port }) => openSocket(host, port),
        disconnect: () => dropSocket(),
        writeLine: (_, { text }) => {
          if (socket && !socket.destroyed) socket.write(`${text}\n`);
        },
        print: (_, { text }) => show(text),
        setEchoHidden: (_, { hidden }) => ui.setHidden(hidden),
        showPrompt: () => ui.showPrompt(),
        restoreInput: (_, { text }) => ui.restoreInput(text),
      },
      delays: {
        retryDelay: ({ context }) => withJitter(context.retryDelay, random()),
      },
    }),
    {
      input: {
        host: options.host,
        port: options.port,
        ...(options.backoff ? { backoff: options.backoff } : {}),
        ...(options.quitTimeoutMs !== undefined ? { quitTimeoutMs: options.quitTimeoutMs } : {}),
        ...(options.reconnect !== undefined ? { reconnect: options.reconnect } : {}),
        ...(options.login !== undefined ? { login: options.login } : {}),
      },
    },
  );

  const done = new Promise<number>((resolve) => {
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      dropSocket();
      ui.close();
      resolve(code);
    };
    actor.subscribe({
      complete: () => finish(actor.getSnapshot().output?.exitCode ?? 0),
      error: (err) => {
        ui.print(`client error: ${err instanceof Error ? err.message : String(err)}`);
        finish(1);
      },
    });
  });

  actor.start();

  return {
    done,
    interrupt: () => send({ type: 'user.interrupt' }),
  };
}

function describeTlsFailure(code: string, message: string): string {
  const untrusted = /CERT|SIGNATURE|ISSUER|ALTNAME|SELF_SIGNED/.test(code);
  const hint = untrusted
    ? ": the server's certificate is not trusted — pass --ca <file> with the certificate (or CA) it uses"
    : /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|UNKNOWN_PROTOCOL/.test(code)
      ? ': the server does not seem to speak TLS (drop --tls?)'
      : '';
  return `${code} (${message})${hint}`;
}

function withCode(err: Error, code: string): NodeJS.ErrnoException {
  return Object.assign(err, { code });
}

// ───────────────────────────── the user's side ─────────────────────────────

/** Emits 'line' (text), 'eof', 'interrupt'. */
interface ClientConsole extends EventEmitter {
  print(text: string): void;
  setHidden(hidden: boolean): void;
  showPrompt(): void;
  /** Give back a line the user submitted that was not sent. */
  restoreInput(text: string): void;
  close(): void;
}

/** Piped stdin / non-TTY stdout: plain lines in, plain lines out, no prompt, nothing to hide. */
class PlainConsole extends EventEmitter implements ClientConsole {
  private readonly rl: readline.Interface;
  private closed = false;

  constructor(
    input: NodeJS.ReadableStream,
    private readonly output: NodeJS.WritableStream,
  ) {
    super();
    this.rl = readline.createInterface({ input, terminal: false, crlfDelay: Infinity });
    this.rl.on('line', (line) => this.emit('line', line));
    this.rl.on('close', () => {
      if (!this.closed) this.emit('eof');
    });
  }

  print(text: string): void {
    this.output.write(`${text}\n`);
  }

  setHidden(): void {}

  showPrompt(): void {}

  /** Piped input has no input line: the line is gone (the machine has said it was not sent). */
  restoreInput(): void {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.rl.close(); // pauses stdin, so it no longer keeps the process alive
  }
}

/**
 * What readline writes goes through here. While `muted`, every write is dropped — the echo of
 * typed keys, prompt redraws and the escape sequences that move the cursor alike — so nothing of a
 * password reaches the screen. Writes are forwarded synchronously (`write` is overridden rather
 * than `_write`), so muting takes effect exactly between two readline writes.
 */
export class MutableTerminalOutput extends Writable {
  muted = false;
  readonly isTTY = true;

  constructor(private readonly target: NodeJS.WriteStream) {
    super();
    target.on('resize', this.forwardResize);
  }

  get columns(): number {
    return this.target.columns;
  }

  get rows(): number {
    return this.target.rows;
  }

  override write(chunk: any, encoding?: any, callback?: any): boolean {
    if (!this.muted) return this.target.write(chunk, encoding, callback);
    const cb = typeof encoding === 'function' ? encoding : callback;
    if (typeof cb === 'function') process.nextTick(cb, null);
    return true;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.target.off('resize', this.forwardResize);
    callback(error);
  }

  private readonly forwardResize = () => this.emit('resize');
}

/** An interactive terminal: readline prompt, server lines printed above the input, hidden passwords. */
class TerminalConsole extends EventEmitter implements ClientConsole {
  private readonly rl: readline.Interface;
  private readonly muted: MutableTerminalOutput;
  private hidden = false;
  private closed = false;

  constructor(
    input: NodeJS.ReadStream,
    private readonly out: NodeJS.WriteStream,
    complete: (lineBeforeCursor: string) => [string[], string],
  ) {
    super();
    this.muted = new MutableTerminalOutput(out);
    this.rl = readline.createInterface({
      input,
      output: this.muted,
      terminal: true,
      historySize: 200,
      // Tab: commands, rooms, logins — never while a password is being typed.
      completer: (line: string): [string[], string] => (this.hidden ? [[], line] : complete(line)),
      prompt: '', // no prompt until the conversation starts; typeahead still echoes
    });
    this.rl.on('line', (line) => this.emit('line', line));
    // Documented for exactly this: drop the password from the history before it is stored.
    this.rl.on('history', (history: string[]) => {
      if (this.hidden) history.shift();
    });
    this.rl.on('SIGINT', () => this.emit('interrupt'));
    // Ctrl-D at a terminal closes readline: treat it as leaving, like Ctrl-C.
    this.rl.on('close', () => {
      if (!this.closed) this.emit('interrupt');
    });
  }

  /** Print a line above what the user is typing, then redraw the prompt and the partial input. */
  print(text: string): void {
    if (this.closed) {
      this.out.write(`${text}\n`);
      return;
    }
    if (this.hidden) {
      // Nothing of the hidden input is on screen: the cursor sits on an empty row.
      readline.cursorTo(this.out, 0);
      readline.clearLine(this.out, 0);
      this.out.write(`${text}\n`);
      return;
    }
    const rows = this.eraseInput();
    // Leave `rows` empty rows below the message: readline's redraw first moves the cursor up by
    // the row the cursor was on inside the input (it remembers it), then clears downwards.
    this.out.write(`${text}\n${'\n'.repeat(rows)}`);
    this.rl.prompt(true);
  }

  setHidden(hidden: boolean): void {
    if (hidden === this.hidden) return;
    if (hidden) {
      this.eraseInput();
      this.muted.muted = true;
      this.hidden = true;
      // Whatever was half-typed is not part of the password: drop it (end of line, then ^U).
      this.rl.write(null, { ctrl: true, name: 'e' });
      this.rl.write(null, { ctrl: true, name: 'u' });
    } else {
      // Normally called while the hidden line is being submitted (readline has already emptied
      // its buffer and its newline was swallowed, so the cursor is at the start of an empty row,
      // where the prompt is drawn again). When leaving mid-password (Ctrl-C), the buffer still
      // holds part of it: empty it while still muted, so the redraw cannot show it.
      this.rl.write(null, { ctrl: true, name: 'e' });
      this.rl.write(null, { ctrl: true, name: 'u' });
      this.hidden = false;
      this.muted.muted = false;
      this.rl.prompt();
    }
  }

  showPrompt(): void {
    this.rl.setPrompt(PROMPT);
    this.rl.prompt(true);
  }

  /** Put a submitted line back on the (empty) input line, cursor at its end, as if not yet sent. */
  restoreInput(text: string): void {
    if (this.closed || this.hidden) return;
    this.rl.write(text);
  }

  close(): void {
    if (this.closed) return;
    if (!this.hidden) this.eraseInput();
    else readline.cursorTo(this.out, 0);
    this.closed = true;
    this.muted.muted = false;
    this.rl.close(); // restores cooked mode, pauses stdin
    this.muted.destroy();
  }

  /** Clear the prompt and the input (which may wrap over several rows); returns the cursor's row in it. */
  private eraseInput(): number {
    const { rows } = this.rl.getCursorPos();
    if (rows > 0) readline.moveCursor(this.out, 0, -rows);
    readline.cursorTo(this.out, 0);
    readline.clearScreenDown(this.out);
    return rows;
  }
}

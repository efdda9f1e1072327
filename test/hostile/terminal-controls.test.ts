/**
 * Text that would drive a terminal: escape sequences (clear the screen, recolour, set the title),
 * C1 controls, bare CR, bidi overrides. Whatever a user sends, none of it reaches another user's
 * terminal, or the sender's, raw: it is stripped (never escaped) before it is stored or
 * delivered, stripped again when old history is replayed, and the terminal client strips it from
 * whatever a server sends.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startClientSession } from '../../src/actors/client-session.js';
import { loginNameProblem } from '../../src/machines/protocol.js';
import { makeDataDir, signIn, TestClient, useTestServers } from '../integration/harness.js';
import { bystanders, expectUnharmed, historyRecords } from './helpers.js';

const start = useTestServers();

/** Every character that must never arrive: C0 but TAB, DEL, C1, separators, bidi embeddings/overrides/isolates. */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000A-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;

const ESC = '\x1b';
/** Each attack, and what is left of it once stripped. */
const ATTACKS: Array<[string, string, string]> = [
  ['clear screen', `${ESC}[2J${ESC}[Hgone`, '[2J[Hgone'],
  ['recolour', `${ESC}[31mred${ESC}[0m`, '[31mred[0m'],
  ['OSC title, BEL-terminated', `${ESC}]0;pwned\x07title`, ']0;pwnedtitle'],
  ['OSC 8 hyperlink, ST-terminated', `${ESC}]8;;http://evil.example${ESC}\\link${ESC}]8;;${ESC}\\`, ']8;;http://evil.example\\link]8;;\\'],
  ['C1 CSI (U+009B) and NEL (U+0085)', '\u009b2J\u0085c1', '2Jc1'],
  ['right-to-left override and isolates', 'abc\u202Edef\u2066ghi\u2069\u202C', 'abcdefghi'],
  ['bidi marks are kept', 'a\u200Fb\u200Ec', 'a\u200Fb\u200Ec'],
  ['line separator', 'one\u2028two\u2029three', 'onetwothree'],
  ['DEL and backspaces', 'abc\x7f\x08\x08x', 'abcx'],
  ['TAB is kept', 'col1\tcol2', 'col1\tcol2'],
  ['bare CR (overwrites the line start)', 'innocent\rbob: fake', 'innocentbob: fake'],
  ['NUL', 'nu\0l', 'nul'],
];

describe('terminal controls in what users send', () => {
  it.each(ATTACKS)('strips them from chat text before storing and delivering it: %s', async (_, sent, shown) => {
    const t = await start();
    const b = await bystanders(t);

    b.alice.send(`msg ${sent}`);

    const line = await b.bob.expect(/ alice: msg /);
    expect(line).not.toMatch(RAW_CONTROL);
    expect(line.slice(line.indexOf(' alice: ') + 8)).toBe(`msg ${shown}`);
    expect(historyRecords(await t.readFile('history.csv')).at(-1)!.text).toBe(`msg ${shown}`);
    await expectUnharmed(t, b);
  });

  it('strips CRLF, a CR before it and invalid UTF-8 (lone surrogate half, overlong) to U+FFFD, never raw bytes', async () => {
    const t = await start();
    const b = await bystanders(t);
    let bytesToBob = Buffer.alloc(0);
    b.bob.socket.on('data', (chunk: string) => (bytesToBob = Buffer.concat([bytesToBob, Buffer.from(chunk)])));

    b.alice.write('crlf ends it\r\n');
    b.alice.write('two crs\r\r\n');
    b.alice.write(Buffer.concat([Buffer.from('surrogate '), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(' overlong '), Buffer.from([0xc0, 0x9b, 0xe0, 0x80, 0x9b]), Buffer.from('\n')]));

    expect(await b.bob.expect(/ alice: crlf/)).toMatch(/ alice: crlf ends it$/);
    expect(await b.bob.expect(/ alice: two crs/)).toMatch(/ alice: two crs$/);
    const decoded = await b.bob.expect(/ alice: surrogate/);
    expect(decoded).toMatch(/ alice: surrogate \uFFFD+ overlong \uFFFD+$/);
    // On the wire: only CR LF line ends, and no ESC, no C1 byte pair (C2 80–9F), no surrogate (ED A0–BF).
    const wire = bytesToBob.toString('latin1');
    expect(wire.replaceAll('\r\n', '')).not.toMatch(/[\x00-\x08\x0a-\x1f\x7f]/);
    expect(wire).not.toMatch(/\xc2[\x80-\x9f]|\xed[\xa0-\xbf]/);
    await expectUnharmed(t, b);
  });

  it('strips them from /msg text, and from the name echoed back when no such user is online', async () => {
    const t = await start();
    const b = await bystanders(t);

    b.alice.send(`/msg bob ${ESC}[2Jsecret ${ESC}]0;t\x07x\u202E`);
    b.alice.send(`/msg ${ESC}[2J\u009bnobody hi`);

    expect(await b.bob.expect(/\(private\) alice:/)).toMatch(/\(private\) alice: \[2Jsecret \]0;tx$/);
    expect(await b.alice.expect(/^\(private to bob\)/)).toBe('(private to bob) [2Jsecret ]0;tx');
    expect(await b.alice.expect(/^No user named/)).toBe('No user named [2Jnobody is registered.');
    for (const line of [...b.alice.lines, ...b.bob.lines]) expect(line).not.toMatch(RAW_CONTROL);
    await expectUnharmed(t, b);
  });

  it('refuses a login holding controls without echoing it, and echoes an unknown command only stripped', async () => {
    const t = await start();
    const b = await bystanders(t);
    const mallory = await TestClient.connect(t.port);
    await mallory.expect(/^Enter your login:/);

    mallory.send(`${ESC}[2Jmallory`, `mal\u202Elory`, 'mal\u009blory');
    const refusals = [await mallory.expect(/^A login/), await mallory.expect(/^A login/), await mallory.expect(/^A login/)];
    b.alice.send(`/${ESC}[31mred`);

    expect(refusals).toEqual(Array(3).fill(loginNameProblem('ma lory')));
    expect(await b.alice.expect(/^Unknown command/)).toBe('Unknown command /[31mred. Type /help for the list.');
    for (const line of [...mallory.lines, ...b.alice.lines, ...b.bob.lines]) expect(line).not.toMatch(RAW_CONTROL);
    await expectUnharmed(t, b);
  });

  it('strips them when replaying history rows written before they were stripped', async ({ onTestFinished }) => {
    const dataDir = await makeDataDir();
    onTestFinished(() => fs.rm(dataDir, { recursive: true, force: true }));
    // A history.csv as an older server (or a hand edit) left it: controls stored raw.
    await fs.writeFile(
      path.join(dataDir, 'history.csv'),
      `timestamp,login,text\n2024-05-01T12:00:00.000Z,old,"${ESC}[2J${ESC}]0;pwned\x07wiped"\n2024-05-01T12:00:01.000Z,old,"rtl \u202Eevil\u009b31m"\n`,
    );
    const t = await start({ dataDir });

    const carol = await signIn(t.port, 'carol', 'secret3');

    expect(carol.replay!.messages).toEqual(['[2024-05-01 12:00:00] old: [2J]0;pwnedwiped', '[2024-05-01 12:00:01] old: rtl evil31m']);
    carol.send('/history');
    const again = await carol.expectHistory();
    expect(again.messages).toEqual(carol.replay!.messages);
    for (const line of carol.lines) expect(line).not.toMatch(RAW_CONTROL);
  });
});

describe('the terminal client against a server that sends controls', () => {
  it('shows every server line with the controls stripped', async ({ onTestFinished }) => {
    const hostile = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.end(
        [`${ESC}[2J${ESC}[Hwelcome ${ESC}[31mred`, `${ESC}]0;title\x07\u009b2Jc1 \u202Eevil`, 'bare\rcr', 'Enter your login:'].map((l) => `${l}\r\n`).join(''),
      );
    });
    await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => hostile.close(() => resolve())));
    const output = new PassThrough();
    let shown = '';
    output.setEncoding('utf8').on('data', (chunk: string) => (shown += chunk));

    const session = startClientSession({
      host: '127.0.0.1',
      port: (hostile.address() as net.AddressInfo).port,
      input: new PassThrough(),
      output,
      terminal: false,
    });
    await session.done; // the server closed the connection: everything it said has been shown

    const lines = shown.split('\n');
    expect(lines).toContain('[2J[Hwelcome [31mred');
    expect(lines).toContain(']0;title2Jc1 evil');
    expect(lines).toContain('barecr');
    expect(shown.replaceAll('\n', '')).not.toMatch(RAW_CONTROL);
  });
});

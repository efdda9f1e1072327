/**
 * The inspector as a person uses it: `statechat server --inspect` in a real process, the page in
 * Chromium, two `nc`-like clients. The page must show both connections in the right states,
 * follow the clicked one on the connection diagram as it signs in, never show the password, and
 * load nothing from anywhere but the server. Every diagram of docs/machines.md is drawn too.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signIn, TestClient } from '../integration/harness.js';
import { type Browser, launchChromium } from './chromium.js';
import { type ServerProcess, startServerProcess } from './server-process.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCREENSHOT = path.join(repoRoot, 'test-results', 'inspector.png');
const PASSWORD = 'correct-horse-42';
const WAIT = { timeout: 10_000 };

let server: ServerProcess;
let browser: Browser;
let page: Page;
const requested: string[] = [];
const problems: string[] = [];

beforeAll(async () => {
  server = await startServerProcess();
  browser = await launchChromium({ width: 1280, height: 800 }); // the legibility window
  page = await browser.context.newPage();
  page.on('request', (request) => requested.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** The state a connection's row shows, once it shows `state`. */
const rowInState = (connection: string, state: string) =>
  page.waitForSelector(`#connections tbody tr[data-connection="${connection}"][data-state="${state}"]`, WAIT);

/** The ids of the boxes highlighted on a diagram. */
const highlightedIds = (diagram: string) =>
  page.$$eval(`#diagram-${diagram} g.current`, (groups) => groups.map((g) => g.id));

/** The Mermaid id of a state, from the page's own copy of the diagrams. */
const nodeId = (machine: string, statePath: string) =>
  page.evaluate(([m, p]) => (window as any).statechatInspector.diagrams()[m!].nodeIds[p!] as string, [machine, statePath]);

/** The diagram highlights exactly `leaf` and the composite states around it — nothing else. */
async function expectHighlighted(diagram: string, machine: string, leaf: string): Promise<void> {
  await page.waitForSelector(`#diagram-${diagram}[data-current="${leaf}"]`, WAIT);
  const segments = leaf.split('.');
  const expected = await Promise.all(segments.map((_, i) => nodeId(machine, segments.slice(0, i + 1).join('.'))));
  const highlighted = (await highlightedIds(diagram)).map((id) => /-state-(.+)-\d+$/.exec(id)?.[1]);
  expect(highlighted.sort()).toEqual(expected.sort());
}

describe('the inspector page', () => {
  it('draws the listener and supervisor diagrams with their current states', async () => {
    await page.goto(server.inspectorUrl);
    await page.waitForSelector('body[data-ready="true"]', WAIT);
    await page.waitForSelector('#link-status[data-status="live"]', WAIT);

    expect(await page.$$('.diagram-error')).toHaveLength(0);
    await expectHighlighted('listener', 'listener', 'accepting');
    await page.waitForSelector('#diagram-supervisor[data-current="running.logDisplay.shown,running.maintenance.idle"]', WAIT);
    expect(await page.textContent('#listener-state')).toBe('accepting');
    // The current state is in its pane's view, though the diagram is bigger than the pane.
    const inView = await page.evaluate(() => {
      const pane = document.querySelector('#diagram-listener')!.getBoundingClientRect();
      const box = document.querySelector('#diagram-listener g.node.current')!.getBoundingClientRect();
      return box.left >= pane.left && box.right <= pane.right && box.top >= pane.top && box.bottom <= pane.bottom;
    });
    expect(inView).toBe(true);
  });

  it('draws the diagrams at full size, legibly: all their text 11 px or more, no two states overlapping', async () => {
    for (const diagram of ['listener', 'supervisor', 'connection']) {
      await page.waitForSelector(`#diagram-${diagram} svg`, WAIT);
      expect(await page.getAttribute(`#diagram-${diagram}`, 'data-scale')).toBe('1.000');
      const report = await page.evaluate((id) => {
        const container = document.querySelector(`#diagram-${id}`)!;
        const svg = container.querySelector('svg')!;
        const scale = svg.getScreenCTM()!.a;
        const labels = [...container.querySelectorAll('g.node .nodeLabel, g.node text')];
        // Every piece of text drawn: state names, the lines inside boxes, arrow labels, notes.
        const texts = [...svg.querySelectorAll('*')].filter((el) =>
          [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent!.trim() !== ''),
        );
        const fontPx = texts.map((el) => parseFloat(getComputedStyle(el).fontSize) * scale);
        const boxes = [...container.querySelectorAll('g.node')].map((g) => ({ id: g.id, r: g.getBoundingClientRect() }));
        const overlaps: string[] = [];
        for (let i = 0; i < boxes.length; i++)
          for (let j = i + 1; j < boxes.length; j++) {
            const [a, b] = [boxes[i]!.r, boxes[j]!.r];
            if (a.width && b.width && a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) overlaps.push(`${boxes[i]!.id} / ${boxes[j]!.id}`);
          }
        return { labels: labels.length, texts: texts.length, smallest: Math.min(...fontPx), overlaps };
      }, diagram);
      expect(report.labels).toBeGreaterThan(3);
      expect(report.texts).toBeGreaterThan(report.labels);
      expect(report.smallest).toBeGreaterThanOrEqual(11);
      expect(report.overlaps).toEqual([]);
    }
  });

  it('zooms with + and −, fits the pane, and pans by dragging', async () => {
    const pane = '#diagram-connection';
    const scale = async () => Number(await page.getAttribute(pane, 'data-scale'));
    await page.click(`${pane} button[data-zoom="zoom in"]`);
    expect(await scale()).toBeCloseTo(1.25, 3);
    await page.click(`${pane} button[data-zoom="zoom out"]`);
    expect(await scale()).toBeCloseTo(1, 3);
    await page.click(`${pane} button[data-zoom="fit"]`);
    const fitted = await page.evaluate((p) => {
      const r = document.querySelector(`${p} svg`)!.getBoundingClientRect();
      const c = document.querySelector(p)!.getBoundingClientRect();
      return { inside: r.left >= c.left - 1 && r.right <= c.right + 1 && r.top >= c.top - 1 && r.bottom <= c.bottom + 1, scale: Number((document.querySelector(p) as HTMLElement).dataset.scale) };
    }, pane);
    expect(fitted.inside).toBe(true);
    expect(fitted.scale).toBeLessThan(1); // the connection machine is bigger than its pane

    await page.click(`${pane} button[data-zoom="actual size"]`);
    const before = await page.evaluate((p) => document.querySelector(`${p} svg`)!.getBoundingClientRect().left, pane);
    const box = (await page.$(pane))!;
    const at = (await box.boundingBox())!;
    await page.mouse.move(at.x + 200, at.y + 200);
    await page.mouse.down();
    await page.mouse.move(at.x + 120, at.y + 200, { steps: 4 });
    await page.mouse.up();
    const after = await page.evaluate((p) => document.querySelector(`${p} svg`)!.getBoundingClientRect().left, pane);
    expect(after - before).toBeCloseTo(-80, 0);

    await page.mouse.move(at.x + 100, at.y + 100);
    await page.mouse.wheel(0, -100); // wheel up: zoom in around the pointer
    expect(await scale()).toBeGreaterThan(1);
    await page.click(`${pane} button[data-zoom="actual size"]`);
  });

  it('shows a clicked state’s transitions: its arrows with their targets, and what runs inside it', async () => {
    const id = await nodeId('listener', 'paused');
    await page.click('#diagram-listener button[data-zoom="fit"]'); // every state in view, to be clicked
    const groupId = await page.$$eval('#diagram-listener g[id]', (groups, mermaidId) => groups.find((g) => new RegExp(`-state-${mermaidId}-\\d+$`).test(g.id))?.id, id);
    expect(groupId).toBeDefined();
    await page.click(`[id="${groupId}"]`, { timeout: 5000 });
    await page.waitForSelector('#diagram-listener .state-info[data-state="paused"]', WAIT);
    const items = await page.$$eval('#diagram-listener .state-info li', (lis) => lis.map((li) => li.textContent));
    expect(items).toEqual(
      expect.arrayContaining([
        // Resumed unless a cluster's store still holds it (the guard's other branch).
        'listener.resume [else] → accepting',
        'listener.stop → stopped',
        'connection.accepted [hasRoomToWait] / assign, hold',
        'listener.acceptFailed / notify (in every state)', // the machine's own handler, marked as such
      ]),
    );
    await page.click('#diagram-listener .state-info button');
    expect(await page.$('#diagram-listener .state-info')).toBeNull();
    await page.click('#diagram-listener button[data-zoom="actual size"]');
  });

  it('draws every diagram of docs/machines.md with the Mermaid it serves', async () => {
    const markdown = await fs.readFile(path.join(repoRoot, 'docs/machines.md'), 'utf8');
    const blocks = [...markdown.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((m) => m[1]!);
    // connection, listener, supervisor, room, echo, client
    expect(blocks).toHaveLength(7);

    const results = await page.evaluate(async (sources) => {
      const out: string[] = [];
      for (const [i, source] of sources.entries()) {
        try {
          const { svg } = await (window as any).mermaid.render(`doc-check-${i}`, source);
          out.push(svg.includes('<svg') ? 'drawn' : 'no svg');
        } catch (err) {
          out.push(`error: ${(err as Error).message}`);
        }
      }
      return out;
    }, blocks);

    expect(results).toEqual(blocks.map(() => 'drawn'));
  });

  it('lists two connections and follows the clicked one through its sign-in', async () => {
    const alice = await TestClient.connect(server.chatPort);
    const bob = await TestClient.connect(server.chatPort);
    await alice.expect(/^Enter your login:/);
    await bob.expect(/^Enter your login:/);

    await rowInState('c1', 'authenticating.awaitingLogin');
    await rowInState('c2', 'authenticating.awaitingLogin');
    expect(await page.textContent('#connection-count')).toBe('2');
    expect(await page.textContent('#connections tr[data-connection="c1"] td:nth-child(2)')).toBe('127.0.0.1');

    await page.click('#connections tbody tr[data-connection="c1"]');
    await expectHighlighted('connection', 'connection', 'authenticating.awaitingLogin');

    alice.send('alice');
    await alice.expect(/choose a password/i);
    await rowInState('c1', 'authenticating.registering.choosingPassword');
    await expectHighlighted('connection', 'connection', 'authenticating.registering.choosingPassword');
    expect(await page.textContent('#connections tr[data-connection="c1"] td:nth-child(3)')).toBe('alice');

    alice.send(PASSWORD);
    await alice.expect(/repeat/i);
    await expectHighlighted('connection', 'connection', 'authenticating.registering.repeatingPassword');
    alice.send(PASSWORD);
    await alice.expect(/welcome/i);
    await rowInState('c1', 'chatting.idle');
    await expectHighlighted('connection', 'connection', 'chatting.idle');

    alice.send('hello from alice');
    // Without --inspect-content the page learns that a line of 16 characters came, not what it said.
    await page.waitForFunction(
      (text) => [...document.querySelectorAll('#event-log td')].some((td) => td.textContent === text),
      'client.line "••• 16 chars"',
      WAIT,
    );
    expect(await page.content()).not.toContain('hello from alice');

    // Bob never moved; the page still shows him where he is.
    await rowInState('c2', 'authenticating.awaitingLogin');
    expect(await page.textContent('#selected-connection')).toBe('c1: chatting.idle');

    await fs.mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    alice.close();
    bob.close();
  });

  it('shows connections held by `stop listen` as waiting, counted on the listener, until listening resumes', async () => {
    server.type('stop listen');
    await expectHighlighted('listener', 'listener', 'paused');
    const held = await Promise.all([TestClient.connect(server.chatPort), TestClient.connect(server.chatPort)]);
    await page.waitForSelector('#listener-waiting:not([hidden])', WAIT);
    await page.waitForFunction(() => document.querySelector('#listener-waiting')?.textContent === '2 waiting', undefined, WAIT);
    expect(await page.textContent('#held-count')).toBe('+ 2 held, waiting for listening to resume');

    server.type('start listen');
    for (const client of held) await client.expect(/^Enter your login:/); // served the moment listening resumes
    await expectHighlighted('listener', 'listener', 'accepting');
    await page.waitForSelector('#listener-waiting[hidden]', { ...WAIT, state: 'attached' }); // hidden again
    expect(await page.isHidden('#held-count')).toBe(true);
    for (const client of held) client.close();
  });

  it('never shows the password: the typed lines of a password prompt read •••', async () => {
    const html = await page.content();
    expect(html).not.toContain(PASSWORD);
    const events = await page.$$eval('#event-log td', (cells) => cells.map((td) => td.textContent));
    expect(events.filter((text) => text === 'client.line "•••"')).toHaveLength(2); // the password, and its repeat
  });

  it('lists the room actors with their member counts as users join and part', async () => {
    const carol = await signIn(server.chatPort, 'carol', PASSWORD);
    carol.send('/join #dev');
    await carol.expect(/You joined #dev/);
    const membersOf = (room: string) => `#rooms tr[data-room="${room}"] td.members-cell`;
    const expectMembers = (room: string, members: string) =>
      page.waitForFunction(([selector, n]) => document.querySelector(selector!)?.textContent === n, [membersOf(room), members], WAIT);
    await expectMembers('#dev', '1');
    await expectMembers('#lobby', '1'); // carol; the others have left

    // The route of a chat line through the actors, with the event names.
    carol.send('route check');
    await page.waitForFunction(() => document.querySelector('#route li')?.textContent?.includes('room:#dev') ?? false, undefined, WAIT);
    const route = await page.$$eval('#route li', (items) => items.map((li) => li.textContent));
    expect(route).toEqual([
      expect.stringMatching(/^c\d+ → room:#dev: room\.post \(1 item\)$/),
      'room:#dev → historyWriter: history.append',
      'historyWriter → room:#dev: history.appended',
      'room:#dev → 0 other members: one encoded line each, written to their links',
    ]);
    expect(await page.content()).not.toContain('route check'); // the text itself stays out

    carol.send('/part #dev');
    await carol.expect(/You left #dev/);
    await expectMembers('#dev', '0'); // empty, until its idle time stops it
    expect(await page.textContent('#room-count')).toBe('2');
    carol.close();
  });

  it('loaded nothing from anywhere but the inspector, without an error', async () => {
    const origin = new URL(server.inspectorUrl).origin;
    expect(requested.length).toBeGreaterThan(0);
    expect(requested.filter((url) => !url.startsWith(origin) && !url.startsWith('data:'))).toEqual([]);
    expect(problems).toEqual([]);
  });
});

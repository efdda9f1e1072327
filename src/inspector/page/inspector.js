// @ts-nocheck — plain browser JavaScript, served as is (no build step).
/**
 * The inspector page's behaviour: it reads the inspection stream (JSON arrays of
 * `@xstate.actor` / `@xstate.event` / `@xstate.snapshot` messages, see
 * src/inspector/inspection-messages.ts) from /ws, keeps the latest snapshot of every actor, and
 * shows them: the listener's and the supervisor's diagrams with their current state in amber,
 * the table of connections, the selected connection on its diagram, and a log of the latest
 * steps. Diagrams come from /diagrams.json (generated from the machines) and are drawn with the
 * Mermaid bundle this server serves. The server has already redacted what it sends.
 *
 * For tests, each diagram's container carries `data-current`: its active leaf states, comma-separated.
 */
(() => {
  'use strict';

  const LOG_LIMIT = 300;
  const ROW_LIMIT = 500;
  const RECONNECT_MS = [500, 1000, 2000, 5000];

  /** sessionId → { sessionId, name, machine, parentId, status, value, context, since } */
  const actors = new Map();
  let selected; // sessionId of the connection followed on the connection diagram
  let selectedName;
  let diagrams = {};
  /** container element → { machineId, nodesByPath: Map<path, SVGGElement> } */
  const rendered = new Map();
  let eventCount = 0;
  let dirty = false;
  const pendingLog = [];
  /**
   * The machines the page draws and logs. Their actors' own services (checkLogin, loginTimer…)
   * are not shown, nor `connections`, the inert parent every connection actor shares.
   */
  const SHOWN_MACHINES = ['listener', 'supervisor', 'connection', 'echo'];

  const $ = (selector) => document.querySelector(selector);
  const containers = {
    listener: $('#diagram-listener'),
    supervisor: $('#diagram-supervisor'),
    connection: $('#diagram-connection'),
  };

  // ───────────── state values ─────────────

  /** Every active state's dotted path, ancestors included: {a: 'b'} → ['a', 'a.b']. */
  function activePaths(value, prefix = '') {
    if (value === undefined || value === null) return [];
    if (typeof value === 'string') return [prefix + value];
    return Object.entries(value).flatMap(([key, child]) => [prefix + key, ...activePaths(child, `${prefix}${key}.`)]);
  }

  /** The active leaf states only: {a: 'b'} → ['a.b']. */
  function leafPaths(value, prefix = '') {
    if (value === undefined || value === null) return [];
    if (typeof value === 'string') return [prefix + value];
    return Object.entries(value).flatMap(([key, child]) => leafPaths(child, `${prefix}${key}.`));
  }

  const describeValue = (value) => leafPaths(value).join(', ') || '—';
  const sameValue = (a, b) => JSON.stringify(a) === JSON.stringify(b);

  function machineOf(definition, fallback) {
    try {
      return JSON.parse(definition).id ?? fallback;
    } catch {
      return fallback;
    }
  }

  // ───────────── diagrams ─────────────

  let renderQueue = Promise.resolve();
  let renderCount = 0;

  /** Draws `machineId` into `container` (once), then indexes its state boxes by path. */
  function drawDiagram(container, machineId) {
    if (container.dataset.machine === machineId && rendered.has(container)) return renderQueue;
    container.dataset.machine = machineId;
    renderQueue = renderQueue.then(async () => {
      const diagram = diagrams[machineId];
      if (!diagram) return;
      const renderId = `d${++renderCount}-${machineId}`;
      try {
        const { svg } = await window.mermaid.render(renderId, diagram.mermaid);
        container.innerHTML = svg;
        showAtFullSize(container);
      } catch (err) {
        const error = document.createElement('pre');
        error.className = 'diagram-error';
        error.textContent = `Cannot draw the ${machineId} diagram: ${err && err.message ? err.message : err}`;
        container.replaceChildren(error);
        return;
      }
      // Mermaid names each state's group `<renderId>-state-<mermaid id>-<n>`.
      const pattern = new RegExp(`^${renderId}-state-(.+)-\\d+$`);
      const byMermaidId = new Map();
      for (const group of container.querySelectorAll('g[id]')) {
        const match = pattern.exec(group.id);
        if (match && !byMermaidId.has(match[1])) byMermaidId.set(match[1], group);
      }
      const nodesByPath = new Map();
      for (const [path, mermaidId] of Object.entries(diagram.nodeIds)) {
        const group = byMermaidId.get(mermaidId);
        if (group) nodesByPath.set(path, group);
      }
      for (const [path, group] of nodesByPath) {
        group.style.cursor = 'pointer';
        group.addEventListener('click', (event) => {
          event.stopPropagation();
          if (container.dataset.dragged === 'true') return; // the end of a pan, not a click
          showTransitions(container, diagram, path);
        });
      }
      rendered.set(container, { machineId, nodesByPath });
      markDirty();
    });
    return renderQueue;
  }

  /** What a clicked state does: its diagram's list for it (state-diagram.ts, `transitions`). */
  function showTransitions(container, diagram, path) {
    const out = diagram.transitions[path] ?? [];
    let info = container.querySelector('.state-info');
    if (!info) {
      info = document.createElement('div');
      info.className = 'state-info';
      container.append(info);
    }
    const title = document.createElement('strong');
    title.textContent = path;
    const close = document.createElement('button');
    close.type = 'button';
    close.textContent = '×';
    close.title = 'close';
    close.addEventListener('click', (event) => {
      event.stopPropagation();
      info.remove();
    });
    const list = document.createElement('ul');
    for (const text of out.length > 0 ? out : ['no transitions of its own']) {
      const item = document.createElement('li');
      item.textContent = text;
      list.append(item);
    }
    info.dataset.state = path;
    info.replaceChildren(close, title, list);
  }

  // ───────────── zoom and pan ─────────────

  /** Each diagram pane's view: scale and offset of its SVG (drawn at its natural size). */
  const views = new WeakMap();
  const ACTUAL_SIZE = { scale: 1, x: 0, y: 0 };
  const clampScale = (scale) => Math.min(4, Math.max(0.1, scale));
  const viewOf = (container) => views.get(container) ?? ACTUAL_SIZE;

  /** The SVG at its own size (Mermaid scales it to the pane's width), at 100 %, with its controls. */
  function showAtFullSize(container) {
    const svg = container.querySelector('svg');
    if (!svg) return;
    const box = svg.viewBox.baseVal;
    svg.removeAttribute('style');
    svg.setAttribute('width', String(box.width));
    svg.setAttribute('height', String(box.height));
    const controls = document.createElement('div');
    controls.className = 'zoom-controls';
    const button = (label, title, action) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.title = title;
      b.dataset.zoom = title;
      b.addEventListener('click', (event) => {
        event.stopPropagation();
        action();
      });
      return b;
    };
    const level = document.createElement('span');
    level.className = 'zoom-level';
    controls.append(
      level,
      button('−', 'zoom out', () => zoomAt(container, 1 / 1.25)),
      button('+', 'zoom in', () => zoomAt(container, 1.25)),
      button('fit', 'fit', () => fit(container)),
      button('100%', 'actual size', () => setView(container, ACTUAL_SIZE)),
    );
    container.prepend(controls);
    setView(container, ACTUAL_SIZE);
    if (!container.dataset.zoomable) {
      container.dataset.zoomable = 'true';
      enablePanAndWheel(container);
    }
  }

  function setView(container, view) {
    const svg = container.querySelector('svg');
    if (!svg) return;
    const scale = clampScale(view.scale);
    views.set(container, { scale, x: view.x, y: view.y });
    svg.style.transform = `translate(${view.x}px, ${view.y}px) scale(${scale})`;
    container.dataset.scale = scale.toFixed(3);
    const level = container.querySelector('.zoom-level');
    if (level) level.textContent = `${Math.round(scale * 100)} %`;
  }

  /** Zooms by `factor` around a point of the pane (its centre by default), which stays put. */
  function zoomAt(container, factor, px = container.clientWidth / 2, py = container.clientHeight / 2) {
    const view = viewOf(container);
    const scale = clampScale(view.scale * factor);
    const k = scale / view.scale;
    setView(container, { scale, x: px - (px - view.x) * k, y: py - (py - view.y) * k });
  }

  function fit(container) {
    const svg = container.querySelector('svg');
    if (!svg) return;
    const box = svg.viewBox.baseVal;
    const scale = Math.min(container.clientWidth / box.width, container.clientHeight / box.height);
    setView(container, { scale, x: (container.clientWidth - box.width * scale) / 2, y: (container.clientHeight - box.height * scale) / 2 });
  }

  function enablePanAndWheel(container) {
    let drag;
    container.addEventListener('pointerdown', (event) => {
      if (event.button !== 0 || event.target.closest('.zoom-controls, .state-info')) return;
      drag = { id: event.pointerId, startX: event.clientX, startY: event.clientY, view: viewOf(container) };
      container.dataset.dragged = 'false';
    });
    container.addEventListener('pointermove', (event) => {
      if (!drag || drag.id !== event.pointerId) return;
      if (container.dataset.dragged !== 'true') {
        if (Math.abs(event.clientX - drag.startX) + Math.abs(event.clientY - drag.startY) <= 3) return;
        // Captured only once it is a drag: a capture from the press would retarget a click on a state.
        container.dataset.dragged = 'true';
        container.setPointerCapture(event.pointerId);
        container.classList.add('dragging');
      }
      setView(container, { ...drag.view, x: drag.view.x + event.clientX - drag.startX, y: drag.view.y + event.clientY - drag.startY });
    });
    const end = () => {
      drag = undefined;
      container.classList.remove('dragging');
    };
    container.addEventListener('pointerup', end);
    container.addEventListener('pointercancel', end);
    container.addEventListener(
      'wheel',
      (event) => {
        event.preventDefault();
        const rect = container.getBoundingClientRect();
        zoomAt(container, event.deltaY < 0 ? 1.1 : 1 / 1.1, event.clientX - rect.left, event.clientY - rect.top);
      },
      { passive: false },
    );
  }

  /** Puts the `current` class on the boxes of the active states (and only those). */
  function highlight(container, value) {
    const leaves = leafPaths(value);
    container.dataset.current = leaves.join(',');
    const drawn = rendered.get(container);
    if (!drawn) return;
    const active = new Set(activePaths(value));
    for (const [path, group] of drawn.nodesByPath) group.classList.toggle('current', active.has(path));
    // A newly current state out of the pane's view is brought into it, once per drawing and
    // state (a user's pan is kept otherwise).
    const leaf = leaves.length > 0 ? drawn.nodesByPath.get(leaves[0]) : undefined;
    if (leaf && drawn.inView !== container.dataset.current) {
      drawn.inView = container.dataset.current;
      bringIntoView(container, leaf);
    }
  }

  function bringIntoView(container, element) {
    const pane = container.getBoundingClientRect();
    const box = element.getBoundingClientRect();
    if (box.width === 0 || (box.left >= pane.left && box.right <= pane.right && box.top >= pane.top && box.bottom <= pane.bottom)) return;
    const view = viewOf(container);
    const dx = pane.left + pane.width / 2 - (box.left + box.width / 2);
    const dy = pane.top + pane.height / 2 - (box.top + box.height / 2);
    setView(container, { ...view, x: view.x + dx, y: view.y + dy });
  }

  // ───────────── the stream ─────────────

  function apply(message) {
    eventCount++;
    const { snapshot } = message;
    switch (message.type) {
      case '@xstate.actor': {
        actors.set(message.sessionId, {
          sessionId: message.sessionId,
          name: message.name,
          machine: machineOf(message.definition, message.name),
          parentId: message.parentId,
          status: snapshot.status,
          value: snapshot.value,
          context: snapshot.context,
          since: Number(message.createdAt),
        });
        break;
      }
      case '@xstate.snapshot': {
        const actor = actors.get(message.sessionId);
        if (!actor) return;
        const from = actor.value;
        const to = snapshot.value === undefined ? from : snapshot.value;
        if (!sameValue(from, to)) actor.since = Number(message.createdAt);
        actor.value = to;
        actor.status = snapshot.status;
        if (snapshot.context !== undefined) actor.context = snapshot.context;
        if (SHOWN_MACHINES.includes(actor.machine)) pendingLog.push({ at: Number(message.createdAt), actor: actor.name, event: message.event, from, to, status: snapshot.status });
        if (snapshot.status !== 'active') {
          actors.delete(actor.sessionId);
          if (actor.sessionId === selected) selectedName = `${actor.name} (ended)`;
        }
        break;
      }
      case '@xstate.event':
        // The log reads the snapshot that follows (it carries the same event); the route of a
        // chat line needs who sent what to whom, which only the event message says.
        if (!traceRoute(message)) return;
        break;
      default:
        return;
    }
    markDirty();
  }

  function markDirty() {
    if (dirty) return;
    dirty = true;
    requestAnimationFrame(render);
  }

  // ───────────── rendering ─────────────

  const actorsOf = (machine) => [...actors.values()].filter((a) => machine.includes(a.machine));
  const connectionActors = () =>
    actorsOf(['connection', 'echo']).sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));

  function render() {
    dirty = false;
    const [listener] = actorsOf(['listener']);
    const [supervisor] = actorsOf(['supervisor']);
    $('#listener-state').textContent = listener ? describeValue(listener.value) : '—';
    // Held sockets (listening stopped) are no actors yet: the listener only counts them.
    const waiting = listener?.context?.waiting ?? 0;
    $('#listener-waiting').textContent = `${waiting} waiting`;
    $('#listener-waiting').hidden = waiting === 0;
    $('#held-count').textContent = `+ ${waiting} held, waiting for listening to resume`;
    $('#held-count').hidden = waiting === 0;
    $('#supervisor-state').textContent = supervisor ? describeValue(supervisor.value) : '—';
    if (listener) highlight(containers.listener, listener.value);
    if (supervisor) highlight(containers.supervisor, supervisor.value);

    // The connection diagram: the chat server's connections, or the echo server's.
    const connectionMachine = supervisor?.context?.mode === 'echo' ? 'echo' : 'connection';
    if (containers.connection.dataset.machine !== connectionMachine && diagrams[connectionMachine]) drawDiagram(containers.connection, connectionMachine);

    renderRooms();
    renderRoute();
    const connections = connectionActors();
    renderTable(connections);
    const followed = selected && actors.get(selected);
    if (followed) selectedName = followed.name;
    $('#selected-connection').textContent = followed
      ? `${followed.name}: ${describeValue(followed.value)}`
      : selectedName ?? 'click a row to follow it';
    highlight(containers.connection, followed ? followed.value : undefined);

    renderLog();
    $('#summary').textContent = `${connections.length} connection${connections.length === 1 ? '' : 's'} · ${eventCount} messages received`;
  }

  /**
   * The route of the latest chat line, per room: connection → room (room.post) → history writer
   * (history.append) → room (history.appended) → its members, each sent one encoded line (data
   * plane: no event per delivery). Returns whether the shown route changed.
   */
  const routes = new Map();
  let shownRoute;
  function traceRoute(message) {
    const { event, sourceId, sessionId } = message;
    const to = actors.get(sessionId);
    if (!event || !to) return false;
    // A connection posts from its own actor system, so the event may name no source actor: its
    // connectionId says who it is.
    const from = actors.get(sourceId) ?? { name: event.connectionId ?? '?', sessionId: undefined };
    const step = (label) => ({ from: from.name, to: to.name, label });
    if (event.type === 'room.post' && to.machine === 'room') {
      // Event messages carry sizes only (inspection-hub.ts): `texts` reads "••• 2 items".
      routes.set(to.sessionId, [step(`room.post (${String(event.texts).replace(/^••• /, '')})`)]);
      return false;
    }
    if (event.type === 'history.append') {
      // Sent by the room's effect code, which may name no source: then the oldest room waiting.
      const roomId = routes.get(from.sessionId)?.length === 1 ? from.sessionId : [...routes].find(([, r]) => r.length === 1)?.[0];
      const route = routes.get(roomId);
      if (route) route.push({ from: actors.get(roomId)?.name ?? '?', to: to.name, label: 'history.append' });
      return false;
    }
    if (event.type === 'history.appended' && routes.get(to.sessionId)?.length === 2) {
      const route = routes.get(to.sessionId);
      route.push({ from: from.sessionId ? from.name : route[1].to, to: to.name, label: 'history.appended' }); // the writer that appended
      const members = Number(to.context?.members);
      const others = Number.isFinite(members) ? Math.max(0, members - 1) : undefined;
      route.push({ from: to.name, to: others === undefined ? 'members' : `${others} other member${others === 1 ? '' : 's'}`, label: 'one encoded line each, written to their links' });
      routes.delete(to.sessionId);
      shownRoute = route;
      return true;
    }
    return false;
  }

  function renderRoute() {
    const list = $('#route');
    if (!shownRoute) return;
    list.replaceChildren(
      ...shownRoute.map(({ from, to, label }) => {
        const item = document.createElement('li');
        item.textContent = `${from} → ${to}: ${label}`;
        return item;
      }),
    );
    $('#no-route').hidden = true;
  }

  /** The supervisor's room actors: one row each, with its member count (the room's context). */
  function renderRooms() {
    const rooms = actorsOf(['room']).sort((a, b) => String(a.context?.name).localeCompare(String(b.context?.name)));
    $('#room-count').textContent = String(rooms.length);
    $('#rooms tbody').replaceChildren(
      ...rooms.slice(0, ROW_LIMIT).map((room) => {
        const row = document.createElement('tr');
        row.dataset.room = room.context?.name ?? room.name;
        row.append(cell(room.context?.name ?? room.name), cell(String(room.context?.members ?? '—'), 'members-cell'), cell(describeValue(room.value), 'state-cell'));
        return row;
      }),
    );
  }

  function renderTable(connections) {
    $('#connection-count').textContent = String(connections.length);
    $('#no-connections').hidden = connections.length > 0;
    const rows = connections.slice(0, ROW_LIMIT).map((actor) => {
      const row = document.createElement('tr');
      row.dataset.sessionId = actor.sessionId;
      row.dataset.connection = actor.name;
      row.dataset.state = leafPaths(actor.value).join(',');
      if (actor.sessionId === selected) row.classList.add('selected');
      const login = actor.context?.login;
      row.append(
        cell(actor.name),
        cell(actor.context?.remoteAddress ?? '—'),
        cell(login ?? '—', login ? 'login-cell' : 'login-cell unknown'),
        cell(describeValue(actor.value), 'state-cell'),
        cell(sinceText(actor.since), 'since-cell', new Date(actor.since).toISOString()),
      );
      return row;
    });
    if (connections.length > ROW_LIMIT) {
      const more = document.createElement('tr');
      const td = cell(`… and ${connections.length - ROW_LIMIT} more`);
      td.colSpan = 5;
      more.append(td);
      rows.push(more);
    }
    $('#connections tbody').replaceChildren(...rows);
  }

  function renderLog() {
    if (pendingLog.length === 0) return;
    const scroller = $('#log-scroll');
    const atBottom = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 4;
    const body = $('#event-log tbody');
    const fragment = document.createDocumentFragment();
    for (const entry of pendingLog.splice(0).slice(-LOG_LIMIT)) {
      const row = document.createElement('tr');
      row.className = 'fresh';
      const same = sameValue(entry.from, entry.to);
      const change = entry.status !== 'active' && entry.status !== 'done'
        ? `${describeValue(entry.from)} → ${entry.status}`
        : same ? `= ${describeValue(entry.to)}` : describeChange(entry.from, entry.to);
      row.append(cell(clock(entry.at), 'time'), cell(entry.actor), breakable(cell(eventLabel(entry.event))), breakable(cell(change, same ? 'change same' : 'change')));
      fragment.append(row);
    }
    body.append(fragment);
    while (body.rows.length > LOG_LIMIT) body.deleteRow(0);
    if (atBottom) scroller.scrollTop = scroller.scrollHeight;
  }

  /**
   * `from → to`, with the states' common parent said once:
   * `authenticating.registering: choosingPassword → repeatingPassword`.
   */
  function describeChange(from, to) {
    const [before, after] = [leafPaths(from), leafPaths(to)];
    if (before.length !== 1 || after.length !== 1) return `${describeValue(from)} → ${describeValue(to)}`;
    const [a, b] = [before[0].split('.'), after[0].split('.')];
    let common = 0;
    while (common < a.length - 1 && common < b.length - 1 && a[common] === b[common]) common++;
    const arrow = `${a.slice(common).join('.')} → ${b.slice(common).join('.')}`;
    return common === 0 ? arrow : `${a.slice(0, common).join('.')}: ${arrow}`;
  }

  /** Lets a cell's long dotted paths wrap after a dot (a <wbr>: the text itself is unchanged). */
  function breakable(td) {
    const parts = td.textContent.split('.');
    td.replaceChildren();
    parts.forEach((part, i) => {
      if (i > 0) td.append('.', document.createElement('wbr'));
      td.append(part);
    });
    return td;
  }

  function cell(text, className, title) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    if (title) td.title = title;
    return td;
  }

  /** `client.line "hi"`, `done: checkLogin`, `after loginTimeout`, `started`. */
  function eventLabel(event) {
    if (!event || !event.type) return '—';
    const { type } = event;
    if (type === 'xstate.init') return 'started';
    if (type === 'xstate.stop') return 'stopped';
    let match = /^xstate\.(done|error)\.actor\.(.+)$/.exec(type);
    if (match) return `${match[1]}: ${match[2]}`;
    match = /^xstate\.after\.([^.]+)\./.exec(type);
    if (match) return `after ${/^\d+$/.test(match[1]) ? `${Number(match[1]) / 1000}s` : match[1]}`;
    if (typeof event.text === 'string') return `${type} "${event.text.length > 60 ? `${event.text.slice(0, 60)}…` : event.text}"`;
    return type;
  }

  const pad = (n, width = 2) => String(n).padStart(width, '0');
  function clock(ms) {
    const d = new Date(ms);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }
  function sinceText(ms) {
    const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
    const ago = seconds < 60 ? `${seconds}s` : seconds < 3600 ? `${Math.floor(seconds / 60)}m ${seconds % 60}s` : `${Math.floor(seconds / 3600)}h`;
    return `${clock(ms).slice(0, 8)} (${ago})`;
  }

  // Clicking a connection follows it on the connection diagram.
  $('#connections tbody').addEventListener('click', (event) => {
    const row = event.target.closest('tr[data-session-id]');
    if (!row) return;
    selected = row.dataset.sessionId;
    selectedName = row.dataset.connection;
    markDirty();
  });
  // The "since" column ages by itself.
  setInterval(() => {
    for (const td of document.querySelectorAll('#connections td.since-cell')) td.textContent = sinceText(Date.parse(td.title));
  }, 1000);

  // ───────────── connection ─────────────

  let attempt = 0;
  function connect() {
    const status = $('#link-status');
    const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    socket.addEventListener('open', () => {
      attempt = 0;
      // The server replays every live actor first: start from a clean slate.
      actors.clear();
      status.dataset.status = 'live';
      status.textContent = 'live';
    });
    socket.addEventListener('message', (event) => {
      for (const message of JSON.parse(event.data)) apply(message);
    });
    socket.addEventListener('close', () => {
      status.dataset.status = 'disconnected';
      status.textContent = 'disconnected — reconnecting…';
      setTimeout(connect, RECONNECT_MS[Math.min(attempt++, RECONNECT_MS.length - 1)]);
    });
  }

  async function start() {
    window.mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'default' });
    diagrams = await (await fetch('/diagrams.json')).json();
    drawDiagram(containers.listener, 'listener');
    drawDiagram(containers.supervisor, 'supervisor');
    drawDiagram(containers.connection, 'connection');
    connect();
    await renderQueue;
    document.body.dataset.ready = 'true';
  }

  window.statechatInspector = { diagrams: () => diagrams, activePaths, leafPaths };
  start();
})();

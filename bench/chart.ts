/**
 * The results chart: hand-written SVG, no dependencies. Panels of horizontal bars — statechat
 * (blue) against the baseline (grey) — each row with its value, each group with the ratio and
 * whether its target is met, and dashed lines for absolute targets.
 */

export interface BarGroup {
  label: string;
  ours: number;
  baseline?: number;
  /** Shown at the right of the group, e.g. "0.93×". */
  note?: string;
  /** true: target met (green), false: missed (red), undefined: no target. */
  ok?: boolean;
}

export interface Panel {
  title: string;
  subtitle?: string;
  unit: string;
  groups: BarGroup[];
  log?: boolean;
  /** An absolute target drawn as a dashed line. */
  target?: { value: number; label: string };
  format?: (value: number) => string;
}

const BLUE = '#2563eb';
const GREY = '#9ca3af';
const GREEN = '#15803d';
const RED = '#b91c1c';
const INK = '#111827';
const MUTED = '#6b7280';
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

const PANEL_W = 540;
const LABEL_W = 130;
const NOTE_W = 92;
const BAR_H = 13;
const GROUP_GAP = 12;

export function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

export function defaultFormat(value: number): string {
  if (!Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${(value / 1e6).toFixed(abs >= 1e7 ? 1 : 2)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toFixed(0)}k`;
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function panelHeight(panel: Panel): number {
  const rows = panel.groups.reduce((n, g) => n + (g.baseline === undefined ? 1 : 2), 0);
  return 58 + rows * (BAR_H + 3) + panel.groups.length * GROUP_GAP + 16;
}

function renderPanel(panel: Panel, x: number, y: number): string {
  const fmt = panel.format ?? defaultFormat;
  const plotX = x + LABEL_W;
  const plotW = PANEL_W - LABEL_W - NOTE_W - 46;
  const values = panel.groups.flatMap((g) => (g.baseline === undefined ? [g.ours] : [g.ours, g.baseline])).filter((v) => Number.isFinite(v) && v > 0);
  if (panel.target) values.push(panel.target.value);
  const maxValue = Math.max(...values, 1e-9);
  const minValue = Math.min(...values, maxValue);
  const logMin = Math.log10(Math.max(minValue / 2, 1e-9));
  const logMax = Math.log10(maxValue * 1.15);
  const scale = (v: number) => {
    if (!Number.isFinite(v) || v <= 0) return 0;
    if (panel.log) return Math.max(2, ((Math.log10(v) - logMin) / (logMax - logMin)) * plotW);
    return (v / (maxValue * 1.08)) * plotW;
  };
  const out: string[] = [];
  const h = panelHeight(panel);
  out.push(`<rect x="${x}" y="${y}" width="${PANEL_W}" height="${h}" rx="8" fill="#ffffff" stroke="#e5e7eb"/>`);
  out.push(`<text x="${x + 14}" y="${y + 22}" ${FONT} font-size="14" font-weight="bold" fill="${INK}">${escapeXml(panel.title)}</text>`);
  out.push(
    `<text x="${x + 14}" y="${y + 39}" ${FONT} font-size="11" fill="${MUTED}">${escapeXml(panel.subtitle ?? '')}${panel.subtitle ? ' · ' : ''}${escapeXml(panel.unit)}${panel.log ? ' (log scale)' : ''}</text>`,
  );
  let cy = y + 54;
  const top = cy;
  for (const group of panel.groups) {
    const rows: [string, number][] = [['ours', group.ours]];
    if (group.baseline !== undefined) rows.push(['baseline', group.baseline]);
    const groupTop = cy;
    for (const [who, value] of rows) {
      const w = scale(value);
      out.push(`<rect x="${plotX}" y="${cy}" width="${w.toFixed(1)}" height="${BAR_H}" rx="2" fill="${who === 'ours' ? BLUE : GREY}"/>`);
      out.push(`<text x="${plotX + w + 4}" y="${cy + BAR_H - 2.5}" ${FONT} font-size="11" fill="${INK}">${escapeXml(fmt(value))}</text>`);
      cy += BAR_H + 3;
    }
    const mid = (groupTop + cy - 3) / 2;
    out.push(`<text x="${plotX - 8}" y="${mid + 4}" ${FONT} font-size="11.5" text-anchor="end" fill="${INK}">${escapeXml(group.label)}</text>`);
    if (group.note) {
      const color = group.ok === undefined ? MUTED : group.ok ? GREEN : RED;
      const mark = group.ok === undefined ? '' : group.ok ? ' ✓' : ' ✗';
      out.push(
        `<text x="${x + PANEL_W - 12}" y="${mid + 4}" ${FONT} font-size="12" font-weight="bold" text-anchor="end" fill="${color}">${escapeXml(group.note + mark)}</text>`,
      );
    }
    cy += GROUP_GAP;
  }
  if (panel.target) {
    const tx = plotX + scale(panel.target.value);
    out.push(`<line x1="${tx.toFixed(1)}" y1="${top - 6}" x2="${tx.toFixed(1)}" y2="${cy - GROUP_GAP + 2}" stroke="${RED}" stroke-width="1.5" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${tx.toFixed(1)}" y="${cy - GROUP_GAP + 14}" ${FONT} font-size="10.5" text-anchor="middle" fill="${RED}">${escapeXml(panel.target.label)}</text>`);
  }
  return out.join('\n');
}

export function renderChart(opts: { title: string; lines: string[]; panels: Panel[]; footer?: string }): string {
  const columns = 2;
  const gap = 16;
  const headerH = 34 + opts.lines.length * 16 + 28;
  const rows: Panel[][] = [];
  for (let i = 0; i < opts.panels.length; i += columns) rows.push(opts.panels.slice(i, i + columns));
  const rowHeights = rows.map((row) => Math.max(...row.map(panelHeight)));
  const width = columns * PANEL_W + (columns + 1) * gap;
  const height = headerH + rowHeights.reduce((a, b) => a + b + gap, 0) + (opts.footer ? 28 : 8);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`);
  out.push(`<rect width="${width}" height="${height}" fill="#f9fafb"/>`);
  out.push(`<text x="${gap}" y="30" ${FONT} font-size="19" font-weight="bold" fill="${INK}">${escapeXml(opts.title)}</text>`);
  opts.lines.forEach((line, i) => {
    out.push(`<text x="${gap}" y="${52 + i * 16}" ${FONT} font-size="11.5" fill="${MUTED}">${escapeXml(line)}</text>`);
  });
  const legendY = 52 + opts.lines.length * 16 + 6;
  out.push(`<rect x="${gap}" y="${legendY - 10}" width="12" height="12" rx="2" fill="${BLUE}"/>`);
  out.push(`<text x="${gap + 17}" y="${legendY}" ${FONT} font-size="12" fill="${INK}">statechat (xstate actor per connection)</text>`);
  out.push(`<rect x="${gap + 265}" y="${legendY - 10}" width="12" height="12" rx="2" fill="${GREY}"/>`);
  out.push(`<text x="${gap + 282}" y="${legendY}" ${FONT} font-size="12" fill="${INK}">baseline (bare node:net, batched writes)</text>`);
  out.push(`<text x="${gap + 530}" y="${legendY}" ${FONT} font-size="12" fill="${GREEN}">✓ target met</text>`);
  out.push(`<text x="${gap + 620}" y="${legendY}" ${FONT} font-size="12" fill="${RED}">✗ target missed</text>`);
  out.push(`<text x="${gap + 725}" y="${legendY}" ${FONT} font-size="12" fill="${MUTED}">medians of alternating rounds</text>`);
  let y = headerH;
  rows.forEach((row, r) => {
    row.forEach((panel, c) => out.push(renderPanel(panel, gap + c * (PANEL_W + gap), y)));
    y += rowHeights[r] + gap;
  });
  if (opts.footer) out.push(`<text x="${gap}" y="${height - 12}" ${FONT} font-size="10.5" fill="${MUTED}">${escapeXml(opts.footer)}</text>`);
  out.push('</svg>');
  return out.join('\n');
}

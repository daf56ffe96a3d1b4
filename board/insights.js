// The board's timeline of a run and its cost charts (specs/serve.md, "Timeline and costs"). SVG made
// with createElementNS, text only through textContent; geometry in SVG attributes and looks in
// board.css classes, since the CSP forbids inline style. It opens no stream of its own (one per tab):
// board.js dispatches `orch:changed` on document after each redraw, and only the view shown is read again.
import { coalesced } from './coalesce.js';

const SVG = 'http://www.w3.org/2000/svg';
/** Timeline rows read at once (the API's default page). */
const PAGE = 200;
/** Timeline geometry, in SVG units: row height, the task-id gutter, the whole width, the time axis. */
const ROW = 20;
const GUTTER = 150;
const WIDTH = 1100;
const AXIS = 24;
const TICKS = 6;
/** The most of a task id the gutter shows (ids run to 64 characters; the row's tooltip has it whole). */
const LABEL_CHARS = 22;
/** Cost chart geometry: row height, the label column, the whole width, room for the value after a bar. */
const COST_ROW = 22;
const COST_LABEL = 220;
const COST_WIDTH = 1000;
const COST_VALUE = 170;
/** Tasks the cost chart names; the others are one bar. */
const COST_TOP = 20;

function node(namespace, tag, attributes, children) {
  const made = namespace === SVG ? document.createElementNS(SVG, tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, String(value));
  for (const child of children) made.append(child);
  return made;
}
const svg = (tag, attributes = {}, ...children) => node(SVG, tag, attributes, children);
const html = (tag, attributes = {}, ...children) => node(undefined, tag, attributes, children);
/** An SVG element with a tooltip (its <title>). */
const tipped = (tag, attributes, tip) => svg(tag, attributes, svg('title', {}, tip));

async function api(path) {
  const response = await fetch(`/api/v1${path}`);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body?.error?.message ?? `${response.status}`);
  return body;
}

function seconds(ms) {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function money(usd) {
  return usd === 0 ? '$0' : `$${usd.toFixed(usd < 0.01 ? 4 : 2)}`;
}

const clock = time => new Date(time).toLocaleTimeString();

/** The view shown and the timeline's page. */
const shown = { view: 'timeline', offset: 0 };

function barTip(attempt, now) {
  const end = attempt.ended_at === null ? Date.parse(now) : Date.parse(attempt.ended_at);
  const parts = [
    `${attempt.phase}${attempt.step === null ? '' : ` ${attempt.step}`} · attempt ${attempt.n}`,
    `${attempt.result}${attempt.reason === null ? '' : ` (${attempt.reason}${attempt.exit_code === null ? '' : `, exit ${attempt.exit_code}`})`}`,
    `${attempt.ended_at === null ? 'running for ' : ''}${seconds(end - Date.parse(attempt.started_at))}`,
  ];
  if (attempt.cost_usd !== null) parts.push(money(attempt.cost_usd));
  if (attempt.tokens !== null) parts.push(`${attempt.tokens.toLocaleString()} tokens`);
  if (attempt.model !== null) parts.push(attempt.model);
  return parts.join(' · ');
}

/** One task's row: its id, its waits under its attempts' bars. */
function timelineRow(task, y, x, now) {
  const id = task.id.length > LABEL_CHARS ? `${task.id.slice(0, LABEL_CHARS - 1)}…` : task.id;
  const label = svg('text', { class: 'row-label', x: 4, y: y + ROW - 6 }, id, svg('title', {}, `${task.id}: ${task.title} (${task.state})`));
  const waits = task.waits.map(wait => {
    const until = wait.until ?? now;
    const attributes = { class: `wait wait-${wait.kind}`, 'data-kind': wait.kind, x: x(wait.from), y: y + 4, width: Math.max(2, x(until) - x(wait.from)), height: ROW - 8 };
    if (wait.kind === 'backoff') attributes.fill = 'url(#insights-hatch)';
    return tipped('rect', attributes, `${wait.kind === 'human' ? 'waiting for a person' : 'backoff'} · ${seconds(Date.parse(until) - Date.parse(wait.from))}${wait.until === null ? ' so far' : ''} · ${wait.reason}`);
  });
  const bars = task.attempts.map(attempt => {
    const end = attempt.ended_at ?? now;
    return tipped('rect', { class: `bar bar-${attempt.result}`, 'data-outcome': attempt.result, 'data-n': attempt.n, x: x(attempt.started_at), y: y + 2, width: Math.max(2, x(end) - x(attempt.started_at)), height: ROW - 4 }, barTip(attempt, now));
  });
  const rule = svg('line', { class: 'row-rule', x1: 0, x2: WIDTH, y1: y + ROW - 0.5, y2: y + ROW - 0.5 });
  return svg('g', { class: 'row', 'data-task': task.id, 'data-state': task.state }, rule, label, ...waits, ...bars);
}

function axis(start, end, x, height) {
  const ticks = Array.from({ length: TICKS + 1 }, (_, i) => start + ((end - start) * i) / TICKS);
  // The first and last labels are anchored inside the chart, so neither is cut at its edge.
  const anchor = i => (i === 0 ? 'start' : i === TICKS ? 'end' : 'middle');
  return svg('g', { class: 'axis' }, ...ticks.flatMap((time, i) => [
    svg('line', { class: 'tick', x1: x(time), x2: x(time), y1: AXIS - 4, y2: height }),
    svg('text', { class: 'tick-label', x: x(time), y: AXIS - 8, 'text-anchor': anchor(i) }, `+${seconds(time - start)}`),
  ]));
}

/** The stripes of a backoff wait. */
function hatch() {
  const pattern = svg('pattern', { id: 'insights-hatch', patternUnits: 'userSpaceOnUse', width: 6, height: 6, patternTransform: 'rotate(45)' }, svg('rect', { class: 'hatch-ground', width: 6, height: 6 }), svg('line', { class: 'hatch-line', x1: 0, y1: 0, x2: 0, y2: 6 }));
  return svg('defs', {}, pattern);
}

function drawTimeline(data) {
  const start = Date.parse(data.window.from ?? data.tasks[0]?.first_at ?? data.now);
  const end = Math.max(Date.parse(data.window.to), start + 1000);
  const x = time => {
    const at = Math.min(end, Math.max(start, typeof time === 'number' ? time : Date.parse(time)));
    return GUTTER + ((at - start) / (end - start)) * (WIDTH - GUTTER - 8);
  };
  const height = AXIS + data.tasks.length * ROW + 2;
  const chart = svg('svg', { class: 'timeline', viewBox: `0 0 ${WIDTH} ${height}`, width: WIDTH, height, role: 'img', 'aria-label': 'timeline of the run' });
  chart.append(hatch(), axis(start, end, x, height), ...data.tasks.map((task, i) => timelineRow(task, AXIS + i * ROW, x, data.now)));
  const run = data.window.run_id === null ? 'everything recorded (no run yet)' : `run ${data.window.run_id}`;
  const caption = `${run} · ${clock(start)} to ${clock(end)}${data.window.live ? ' (live)' : ''} · tasks ${data.total === 0 ? 0 : data.offset + 1}–${data.offset + data.tasks.length} of ${data.total}`;
  const legend = html('p', { class: 'legend' }, ...['ok', 'retried', 'failed', 'running', 'backoff', 'human'].map(name => html('span', { class: `swatch swatch-${name}` }, name === 'human' ? 'waiting for a person' : name)));
  return [html('p', { class: 'insights-caption' }, caption), legend, pager(data), html('div', { class: 'insights-scroll' }, chart)];
}

/** Earlier / Later, when the run has more rows than one page. */
function pager(data) {
  if (data.total <= data.limit && data.offset === 0) return '';
  const button = (text, offset, enabled) => {
    const made = html('button', { type: 'button', 'data-page': text.toLowerCase() }, text);
    made.disabled = !enabled;
    made.addEventListener('click', () => {
      shown.offset = offset;
      redraw();
    });
    return made;
  };
  return html('p', { class: 'pager' }, button('Earlier', Math.max(0, data.offset - PAGE), data.offset > 0), ' ', button('Later', data.offset + PAGE, data.offset + PAGE < data.total));
}

/** A horizontal bar chart of `items` ({key, label, tip, usd, tokens}): dollars, or tokens when nothing reported dollars. */
function barChart(name, title, items) {
  const measure = items.some(item => item.usd > 0) ? 'usd' : 'tokens';
  const most = Math.max(0, ...items.map(item => item[measure])) || 1;
  const height = Math.max(1, items.length) * COST_ROW;
  const chart = svg('svg', { class: 'costs-chart', viewBox: `0 0 ${COST_WIDTH} ${height}`, width: COST_WIDTH, height, role: 'img', 'aria-label': title });
  items.forEach((item, i) => {
    const y = i * COST_ROW;
    const width = Math.max(1, (item[measure] / most) * (COST_WIDTH - COST_LABEL - COST_VALUE));
    chart.append(svg('g', { class: 'cost-row' },
      svg('text', { class: 'cost-label', x: COST_LABEL - 8, y: y + COST_ROW - 7, 'text-anchor': 'end' }, item.label),
      tipped('rect', { class: `cost-bar cost-bar-${name}${item.rest ? ' cost-rest' : ''}`, 'data-key': item.key, x: COST_LABEL, y: y + 3, width, height: COST_ROW - 6 }, item.tip),
      svg('text', { class: 'cost-value', x: COST_LABEL + width + 6, y: y + COST_ROW - 7 }, `${money(item.usd)} · ${item.tokens.toLocaleString()} tokens`)));
  });
  const body = items.length === 0 ? html('p', {}, 'nothing reported yet') : html('div', { class: 'insights-scroll' }, chart);
  return html('figure', { 'data-chart': name }, html('figcaption', {}, title), body);
}

const spendTip = (what, spend) => `${what}: ${money(spend.usd)} · ${spend.tokens.toLocaleString()} tokens${spend.calls === undefined ? '' : ` · ${spend.calls} calls`}`;

function drawCosts(data) {
  const tasks = data.tasks.top.map(task => ({ key: task.id, label: task.id, tip: spendTip(`${task.id}: ${task.title} (${task.state})`, task), usd: task.usd, tokens: task.tokens }));
  const rest = data.tasks.rest;
  if (rest.count > 0) tasks.push({ key: '(rest)', label: `${rest.count} other tasks`, tip: spendTip(`${rest.count} other tasks`, rest), usd: rest.usd, tokens: rest.tokens, rest: true });
  const models = data.by_model.map(spend => ({ key: spend.model, label: spend.model, tip: spendTip(spend.model, spend), ...spend }));
  const roles = data.by_role.map(spend => ({ key: spend.phase, label: `${spend.role} (${spend.phase})`, tip: spendTip(spend.phase, spend), ...spend }));
  const total = `${money(data.total.usd)} and ${data.total.tokens.toLocaleString()} tokens over ${data.tasks.count} tasks${data.invalid_records > 0 ? ` (${data.invalid_records} unreadable records not counted)` : ''}`;
  return [html('p', { class: 'insights-caption' }, total), barChart('task', 'Cost per task', tasks), barChart('model', 'Cost per model', models), barChart('role', 'Cost per role', roles)];
}

async function draw() {
  const section = document.querySelector('#insights');
  const body = section.querySelector('.insights-body');
  const parts = shown.view === 'timeline' ? drawTimeline(await api(`/timeline?limit=${PAGE}&offset=${shown.offset}`)) : drawCosts(await api(`/costs?limit=${COST_TOP}`));
  body.replaceChildren(...parts);
  section.setAttribute('data-view', shown.view);
  for (const button of section.querySelectorAll('button[data-view]')) button.setAttribute('aria-pressed', String(button.getAttribute('data-view') === shown.view));
}

/** Draws once for a burst of changes, never two draws at once. */
const redraw = coalesced(draw, error => {
  document.querySelector('#insights .insights-body').replaceChildren(html('p', { class: 'insights-error' }, `could not read the ${shown.view}: ${error.message}`));
});

function tab(view, text) {
  const button = html('button', { type: 'button', 'data-view': view, 'aria-pressed': String(view === shown.view) }, text);
  button.addEventListener('click', () => {
    shown.view = view;
    redraw();
  });
  return button;
}

document.addEventListener('DOMContentLoaded', () => {
  const section = document.querySelector('#insights');
  if (section === null) return;
  section.replaceChildren(html('div', { class: 'insights-tabs', role: 'group', 'aria-label': 'view' }, html('h2', {}, 'Run'), tab('timeline', 'Timeline'), tab('costs', 'Costs')), html('div', { class: 'insights-body' }));
  document.addEventListener('orch:changed', redraw);
  redraw();
});

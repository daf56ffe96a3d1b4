// The orch board (specs/serve.md): columns of task cards per state, the review queue first, a task's
// page with its agent's output live, the decision buttons, a form to create a task, the run log. One
// EventSource carries every change and the open task's output; each change makes the board read the
// tasks again. Plain DOM and textContent only: nothing from a task is ever parsed as HTML, and the page
// runs with a CSP that forbids inline script.
import { coalesced } from './coalesce.js';
import { renderMarkdownLine } from './markdown.js';

const STATES = ['NEW', 'PLANNING', 'PLAN_REVIEW', 'PLAN_APPROVED', 'PLAN_REJECTED', 'IMPLEMENTING', 'CODE_REVIEW', 'QUALITY_GATE', 'DONE', 'FAILED', 'CANCELLED'];
/** Cards read in one request (the API's most), in `orch status`'s order. */
const PAGE = 500;
/** Cards a column shows until the person asks for more (a column of 10,000 DONE tasks stays usable). */
const COLUMN_STEP = 100;
/** Output lines kept on the task's page; older ones are dropped (a long agent run must not grow the page without end). */
const OUTPUT_LINES = 5000;
/** The run log shown: its last bytes, read on by offset as it grows. */
const RUN_LOG_TAIL = 256 * 1024;
const $ = selector => document.querySelector(selector);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child);
  return node;
}

async function api(path, init = {}) {
  const response = await fetch(`/api/v1${path}`, { ...init, headers: { 'Content-Type': 'application/json', ...(init.headers ?? {}) } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body?.error?.message ?? `${response.status}`);
  return body;
}

function card(task) {
  const node = element('button', { class: 'card', type: 'button', 'data-task': task.id, 'data-state': task.state }, element('span', { class: 'id' }, task.id), ' ', task.title ?? '');
  if (task.waiting_for) node.append(element('span', { class: 'why' }, task.waiting_for));
  // Where its open attempt runs, when that is another machine (a host of the ssh pool, the Slurm cluster).
  if (task.host) node.append(element('span', { class: 'host' }, `on ${task.host}`));
  node.addEventListener('click', () => void openTask(task.id));
  return node;
}

/** How many cards each column shows (COLUMN_STEP more each time the person asks). */
const shown = new Map();

/** A column's cards: from the shared page, or its own read when the person asked for more than the page holds. */
async function cardsOf(name, page, count) {
  const limit = shown.get(name) ?? COLUMN_STEP;
  const fromPage = page.tasks.filter(task => task.state === name);
  if (fromPage.length >= Math.min(count, limit) || page.tasks.length < PAGE) return fromPage.slice(0, limit);
  return (await api(`/tasks?state=${name}&limit=${Math.min(limit, PAGE)}`)).tasks;
}

function column(name, tasks, count) {
  const more = count > tasks.length ? element('button', { type: 'button', class: 'more', 'data-more': name }, `${count - tasks.length} more`) : '';
  if (more !== '') more.addEventListener('click', () => {
    shown.set(name, (shown.get(name) ?? COLUMN_STEP) + COLUMN_STEP);
    redraw();
  });
  return element('div', { class: 'column', 'data-column': name }, element('h2', {}, `${name.replace(/_/g, ' ')} ${count}`), element('div', { class: 'cards' }, ...tasks.map(card)), more);
}

/** Reads the tasks and redraws the columns (and the counts in the header). */
async function draw() {
  const [state, page] = await Promise.all([api('/state'), api(`/tasks?limit=${PAGE}`)]);
  $('#counts').textContent = `${state.totals.tasks} tasks · ${Object.entries(state.counts).filter(([, n]) => n > 0).map(([s, n]) => `${s} ${n}`).join(' · ')}`;
  // The review queue is read whole from /state (what waits for a person), whatever the page holds.
  $('#review .cards').replaceChildren(...state.waiting.map(card));
  const columns = await Promise.all(STATES.map(async name => column(name, await cardsOf(name, page, state.counts[name] ?? 0), state.counts[name] ?? 0)));
  $('#columns').replaceChildren(...columns);
  // A task gone from disk (clean-state) leaves its page as it was: the board goes on.
  if (current !== undefined) await openTask(current.id, false).catch(() => undefined);
  if (!$('#runlog').hidden) await readRunLog();
  document.dispatchEvent(new CustomEvent('orch:changed'));
}

let current;
/** The last diff fetched, by task and rev: a redraw for someone else's event does not spawn git again. */
let diffFor;
/** Redraws once for a burst of events, never two draws at once. */
const redraw = coalesced(draw, error => ($('#live').textContent = `could not read the tasks: ${error.message}`));

async function openTask(id, scroll = true) {
  const task = await api(`/tasks/${encodeURIComponent(id)}`);
  current = task;
  $('#detail').hidden = false;
  $('#detail').setAttribute('data-task', task.id);
  $('#detail-title').textContent = `${task.id}: ${task.title}`;
  $('#detail-state').textContent = `${task.state}${task.awaiting ? ` — waiting for you (${task.awaiting.kind}): ${task.awaiting.reason}` : ''} · rev ${task.rev} · $${(task.cost?.usd ?? 0).toFixed(2)}`;
  $('#detail-steps').replaceChildren(...(task.steps ?? []).map(step => element('li', {}, `${step.id} ${step.state}: ${step.title ?? step.goal ?? ''}`)));
  $('#detail-attempts tbody').replaceChildren(...(task.attempts ?? []).map(a => element('tr', {}, element('td', {}, a.n), element('td', {}, a.phase), element('td', {}, a.step ?? ''), element('td', {}, a.host ?? ''), element('td', {}, a.reason ?? 'running'), element('td', {}, a.cost_usd === null ? '' : `$${a.cost_usd.toFixed(2)}`))));
  $('#detail-history').replaceChildren(...(task.history ?? []).map(h => element('li', {}, `${h.at.slice(11, 19)} ${h.from} → ${h.to} (${h.actor}): ${h.reason}`)));
  // The change, for a task with a branch (isolation worktree): asked of git again only when the record moved.
  const seen = `${task.id}@${task.rev}`;
  if (diffFor?.key !== seen) diffFor = { key: seen, diff: task.worktree === null ? undefined : await api(`/tasks/${encodeURIComponent(task.id)}/diff`).catch(() => undefined) };
  const diff = diffFor.diff;
  $('#detail-diff').textContent = diff === undefined ? '' : `${diff.text}${diff.clipped ? '\n… (clipped at 1 MiB)' : ''}`;
  $('#detail-diff').hidden = diff === undefined;
  $('#detail-diff-title').hidden = diff === undefined;
  const last = task.attempts?.at(-1);
  $('#detail-output-title').textContent = last === undefined ? 'No attempt yet' : `Output of attempt ${last.n} (${last.phase}${last.step ? ` ${last.step}` : ''})${last.reason ? '' : ', live'}`;
  follow(last === undefined ? undefined : { task: task.id, attempt: last.n });
  if (scroll) $('#detail').scrollIntoView({ block: 'nearest' });
}

async function decideOn(action) {
  if (current === undefined) return;
  const note = $('#note').value.trim();
  try {
    const answer = await api(`/tasks/${encodeURIComponent(current.id)}/${action}`, { method: 'POST', body: JSON.stringify({ rev: current.rev, ...(note !== '' && { note }) }) });
    $('#decide-result').textContent = `${action}: ${answer.mode === 'inbox' ? 'sent to the orchestrator' : `done (${answer.state})`}`;
    $('#note').value = '';
  } catch (error) {
    $('#decide-result').textContent = `${action} refused: ${error.message}`;
  }
  redraw();
}

/** One output line as the agent's adapter rendered it: its kind picks the mark and the colour. */
function outputLine({ kind, text }) {
  // A tool's result (`  ↳ …`, under its call) keeps its own mark.
  return element('div', { class: `out out-${kind}${kind === 'tool' && /^\s*↳/.test(text) ? ' out-sub' : ''}` }, text);
}

/** Appends an `output` event's lines (an agent client's stream, rendered) or text (a plain command). */
function showOutput(data) {
  const pane = $('#detail-output');
  const atEnd = pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 4;
  const part = JSON.parse(data);
  if (part.lines !== undefined) pane.append(...part.lines.map(outputLine));
  else pane.append(part.text);
  while (pane.childNodes.length > OUTPUT_LINES) pane.firstChild.remove();
  if (atEnd) pane.scrollTop = pane.scrollHeight;
}

let events;
/** What the stream follows besides the events: the open task's last attempt ({task, attempt}), or nothing. */
let following;

/** Follows `target`'s output on the tab's one stream (a new stream when the target changes; the output pane starts over). */
function follow(target) {
  if (events !== undefined && following?.task === target?.task && following?.attempt === target?.attempt) return;
  following = target;
  $('#detail-output').replaceChildren();
  listen();
}

function listen() {
  events?.close();
  const query = following === undefined ? '' : `?task=${encodeURIComponent(following.task)}&attempt=${following.attempt}`;
  events = new EventSource(`/api/v1/events${query}`);
  events.addEventListener('open', () => {
    $('#live').textContent = 'live';
    $('#live').setAttribute('data-live', 'open');
  });
  events.addEventListener('error', () => {
    $('#live').textContent = 'reconnecting…';
    $('#live').setAttribute('data-live', 'closed');
  });
  for (const name of ['snapshot', 'log', 'reset']) events.addEventListener(name, redraw);
  events.addEventListener('output', event => showOutput(event.data));
}

/** The run log's byte offset read so far, and a line not ended yet. */
let runLog = { offset: undefined, partial: '' };

/** Reads the run log on from where it was (its last RUN_LOG_TAIL bytes the first time) and renders the new lines. */
async function readRunLog() {
  if (runLog.offset === undefined) {
    const { size } = await api('/log?offset=0');
    runLog = { offset: Math.max(0, size - RUN_LOG_TAIL), partial: '', skipFirst: size > RUN_LOG_TAIL };
  }
  for (;;) {
    const chunk = await api(`/log?offset=${runLog.offset}`);
    if (chunk.next_offset < runLog.offset) break;
    const lines = (runLog.partial + chunk.text).split('\n');
    runLog.partial = lines.pop() ?? '';
    if (runLog.skipFirst) {
      lines.shift(); // the tail began inside a line
      runLog.skipFirst = false;
    }
    $('#runlog-text').append(...lines.map(renderMarkdownLine).filter(node => node !== undefined));
    runLog.offset = chunk.next_offset;
    if (chunk.next_offset >= chunk.size || chunk.text === '') break;
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('#close').addEventListener('click', () => {
    current = undefined;
    $('#detail').hidden = true;
    follow(undefined);
  });
  for (const button of document.querySelectorAll('#decide button[data-action]')) button.addEventListener('click', () => void decideOn(button.getAttribute('data-action')));
  $('#create').addEventListener('submit', async event => {
    event.preventDefault();
    try {
      await api('/tasks', { method: 'POST', body: JSON.stringify({ id: $('#create-id').value.trim(), goal: $('#create-goal').value.trim() }) });
      $('#create-result').textContent = 'created';
      $('#create').reset();
    } catch (error) {
      $('#create-result').textContent = `refused: ${error.message}`;
    }
  });
  $('#find').addEventListener('submit', async event => {
    event.preventDefault();
    const id = $('#find-id').value.trim();
    await openTask(id).then(() => ($('#find-result').textContent = ''), error => ($('#find-result').textContent = error.message));
  });
  $('#show-runlog').addEventListener('click', async () => {
    $('#runlog').hidden = !$('#runlog').hidden;
    $('#show-runlog').setAttribute('aria-pressed', String(!$('#runlog').hidden));
    if (!$('#runlog').hidden) await readRunLog().catch(error => ($('#runlog-text').textContent = `could not read the run log: ${error.message}`));
  });
  redraw();
  listen();
});

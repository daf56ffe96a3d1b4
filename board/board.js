// The orch board (specs/serve.md): columns of task cards per state, the review queue first, a task's
// page, the decision buttons, a form to create a task. One EventSource carries every change; each one
// makes the board read the tasks again. Plain DOM and textContent only: nothing from a task is ever
// parsed as HTML, and the page runs with a CSP that forbids inline script.
const STATES = ['NEW', 'PLANNING', 'PLAN_REVIEW', 'PLAN_APPROVED', 'PLAN_REJECTED', 'IMPLEMENTING', 'CODE_REVIEW', 'QUALITY_GATE', 'DONE', 'FAILED', 'CANCELLED'];
const PAGE = 500;
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
  node.addEventListener('click', () => void openTask(task.id));
  return node;
}

/** Reads the tasks and redraws the columns (and the counts in the header). */
async function draw() {
  const [state, page] = await Promise.all([api('/state'), api(`/tasks?limit=${PAGE}`)]);
  $('#counts').textContent = `${state.totals.tasks} tasks · ${Object.entries(state.counts).filter(([, n]) => n > 0).map(([s, n]) => `${s} ${n}`).join(' · ')}`;
  const review = $('#review .cards');
  review.replaceChildren(...page.tasks.filter(task => task.state === 'AWAITING_HUMAN').map(card));
  const columns = STATES.map(name => {
    const tasks = page.tasks.filter(task => task.state === name);
    return element('div', { class: 'column', 'data-column': name }, element('h2', {}, `${name.replace(/_/g, ' ')} ${state.counts[name] ?? 0}`), element('div', { class: 'cards' }, ...tasks.map(card)));
  });
  $('#columns').replaceChildren(...columns);
  if (current !== undefined) void openTask(current.id, false);
}

let current;
/** The last diff fetched, by task and rev: a redraw for someone else's event does not spawn git again. */
let diffFor;
let drawing = Promise.resolve();
let again = false;
/** Redraws once for a burst of events, never two draws at once. */
function redraw() {
  if (again) return;
  again = true;
  drawing = drawing.then(async () => {
    again = false;
    await draw().catch(error => ($('#live').textContent = `could not read the tasks: ${error.message}`));
  });
}

async function openTask(id, scroll = true) {
  const task = await api(`/tasks/${encodeURIComponent(id)}`);
  current = task;
  $('#detail').hidden = false;
  $('#detail').setAttribute('data-task', task.id);
  $('#detail-title').textContent = `${task.id}: ${task.title}`;
  $('#detail-state').textContent = `${task.state}${task.awaiting ? ` — waiting for you (${task.awaiting.kind}): ${task.awaiting.reason}` : ''} · rev ${task.rev} · $${(task.cost?.usd ?? 0).toFixed(2)}`;
  $('#detail-steps').replaceChildren(...(task.steps ?? []).map(step => element('li', {}, `${step.id} ${step.state}: ${step.title ?? step.goal ?? ''}`)));
  $('#detail-attempts tbody').replaceChildren(...(task.attempts ?? []).map(a => element('tr', {}, element('td', {}, a.n), element('td', {}, a.phase), element('td', {}, a.step ?? ''), element('td', {}, a.reason ?? 'running'), element('td', {}, a.cost_usd === null ? '' : `$${a.cost_usd.toFixed(2)}`))));
  $('#detail-history').replaceChildren(...(task.history ?? []).map(h => element('li', {}, `${h.at.slice(11, 19)} ${h.from} → ${h.to} (${h.actor}): ${h.reason}`)));
  // The change, for a task with a branch (isolation worktree): asked of git again only when the record moved.
  const seen = `${task.id}@${task.rev}`;
  if (diffFor?.key !== seen) diffFor = { key: seen, diff: task.worktree === null ? undefined : await api(`/tasks/${encodeURIComponent(task.id)}/diff`).catch(() => undefined) };
  const diff = diffFor.diff;
  $('#detail-diff').textContent = diff === undefined ? '' : `${diff.text}${diff.clipped ? '\n… (clipped at 1 MiB)' : ''}`;
  $('#detail-diff').hidden = diff === undefined;
  $('#detail-diff-title').hidden = diff === undefined;
  const last = task.attempts?.at(-1);
  if (last !== undefined) {
    const output = await api(`/tasks/${encodeURIComponent(task.id)}/attempts/${last.n}/output`).catch(() => ({ text: '' }));
    $('#detail-output').textContent = output.text;
  } else $('#detail-output').textContent = '';
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

function listen() {
  const events = new EventSource('/api/v1/events');
  events.addEventListener('open', () => {
    $('#live').textContent = 'live';
    $('#live').setAttribute('data-live', 'open');
  });
  events.addEventListener('error', () => {
    $('#live').textContent = 'reconnecting…';
    $('#live').setAttribute('data-live', 'closed');
  });
  for (const name of ['snapshot', 'log', 'reset']) events.addEventListener(name, redraw);
}

document.addEventListener('DOMContentLoaded', () => {
  $('#close').addEventListener('click', () => {
    current = undefined;
    $('#detail').hidden = true;
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
  redraw();
  listen();
});

// The routes of `orch serve` under /api/v1 (specs/serve.md). Everything is read from the state dir's
// files, as `orch status` and `orch show` read them; the only writes are what the CLI writes: a spec
// file (create a task) and a decision (`orch approve` and its kin: exactly once, against the rev the
// person saw). The server is never needed for correctness.
import type { FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { isOrchError } from '../errors.js';
import { adapterFor } from '../agents/index.js';
import type { ApiCreated, Attempt, ApiDecision, ApiDiff, ApiOutputChunk, ApiState, ApiTaskPage, InboxDecision, TaskSpec } from '../generated/types.js';
import { collectStatus } from '../project/status.js';
import { artifactsDirOf, describeTask } from '../project/show.js';
import { decide, readRecord } from '../runtime/decide.js';
import { createFileExclusive } from '../store/durable-write.js';
import { validateDocument } from '../store/load.js';
import { openInside } from '../store/open-inside.js';
import type { StatePaths } from '../store/paths.js';
import { branchDiff, repositoryOf } from '../worktree/task-worktree.js';
import type { Channel, FileSource } from './event-stream.js';
import { insightOf } from './insights.js';
import { HttpError, intParam, readJsonBody, sendJson } from './http-util.js';

/** Task ids as the schema allows them: never a path before it matches. */
const TASK_ID = /^(?!\.)[A-Za-z0-9._-]{1,64}$/;
const ACTIONS = ['approve', 'reject', 'replan', 'retry', 'cancel'] as const satisfies readonly InboxDecision['action'][];
/** The most of an attempt's output one request returns. */
export const OUTPUT_CHUNK_BYTES = 64 * 1024;
const PAGE_MAX = 500;

export function taskId(raw: string): string {
  const id = decodeURIComponent(raw);
  if (!TASK_ID.test(id)) throw new HttpError(400, 'bad_id', `"${id}" is not a task id (letters, digits, dot, underscore, dash; no leading dot)`);
  return id;
}

/** Runs the route `method path` names; false when no route has that path. */
export async function route(paths: StatePaths, request: IncomingMessage, response: ServerResponse, url: URL): Promise<boolean> {
  const method = request.method ?? 'GET';
  const parts = url.pathname.replace(/^\/api\/v1\/?/, '').split('/').filter(part => part !== '');
  const allow = (...methods: string[]): void => {
    if (!methods.includes(method)) throw new HttpError(405, 'method_not_allowed', `${method} is not allowed here: ${methods.join(', ')}`);
  };
  const [head, id, sub, n, leaf] = parts;
  if (head === 'state' && parts.length === 1) {
    allow('GET');
    sendJson(response, 200, await stateOf(paths));
    return true;
  }
  if (head === 'tasks' && parts.length === 1) {
    allow('GET', 'POST');
    if (method === 'POST') sendJson(response, 201, await createTask(paths, await readJsonBody(request)));
    else sendJson(response, 200, await taskPage(paths, url));
    return true;
  }
  if (head === 'tasks' && id !== undefined && parts.length === 2) {
    allow('GET');
    sendJson(response, 200, await describeTask(paths, taskId(id)));
    return true;
  }
  if (head === 'tasks' && id !== undefined && sub === 'diff' && parts.length === 3) {
    allow('GET');
    sendJson(response, 200, await diffOf(paths, taskId(id)));
    return true;
  }
  if (head === 'tasks' && id !== undefined && sub !== undefined && parts.length === 3 && (ACTIONS as readonly string[]).includes(sub)) {
    allow('POST');
    sendJson(response, 200, await decideOn(paths, taskId(id), sub as (typeof ACTIONS)[number], await readJsonBody(request)));
    return true;
  }
  if (head === 'tasks' && id !== undefined && sub === 'attempts' && n !== undefined && leaf === 'output' && parts.length === 5) {
    allow('GET');
    sendJson(response, 200, await attemptOutput(paths, id, n, url));
    return true;
  }
  if (head === 'log' && parts.length === 1) {
    allow('GET');
    sendJson(response, 200, await runLogChunk(paths, url));
    return true;
  }
  if ((head === 'timeline' || head === 'costs') && parts.length === 1) {
    allow('GET');
    sendJson(response, 200, await insightOf(paths, head, url));
    return true;
  }
  if (head === 'refresh' && parts.length === 1) {
    allow('POST');
    sendJson(response, 202, { refreshed: true }); // the files are read at each request: nothing is held to refresh
    return true;
  }
  return false;
}

/** The shape of Symphony's state: what runs, what waits for a person, what waits to retry, the totals. */
async function stateOf(paths: StatePaths): Promise<ApiState> {
  // Rows only for what runs and waits: at 10,000 tasks the rest would be 10,000 records read for nothing.
  const status = await collectStatus(paths, { activities: ['running', 'human', 'backoff'] });
  const rows = status.tasks;
  return {
    session: status.session,
    counts: status.counts,
    totals: { tasks: status.tasks_total },
    running: rows.filter(row => row.activity === 'running'),
    waiting: rows.filter(row => row.activity === 'human'),
    retrying: rows.filter(row => row.activity === 'backoff'),
    invalid: status.invalid,
  };
}

async function taskPage(paths: StatePaths, url: URL): Promise<ApiTaskPage> {
  const offset = intParam(url, 'offset', 0);
  const limit = intParam(url, 'limit', 100, PAGE_MAX);
  const state = url.searchParams.get('state');
  if (state === null) {
    const status = await collectStatus(paths, { offset, limit });
    return { total: status.tasks_total, offset, limit, tasks: status.tasks };
  }
  const all = (await collectStatus(paths)).tasks.filter(row => row.state === state);
  return { total: all.length, offset, limit, tasks: all.slice(offset, offset + limit) };
}

/** The most of a diff one answer carries. */
export const DIFF_MAX_BYTES = 1024 * 1024;

/** The task's branch against its base (isolation worktree), clipped at DIFF_MAX_BYTES. */
async function diffOf(paths: StatePaths, id: string): Promise<ApiDiff> {
  const plan = (await readRecord(paths, id)).worktree;
  if (plan === undefined) throw new HttpError(404, 'no_branch', `task ${id} has no branch: it ran without a worktree (isolation none)`);
  const text = await branchDiff(await repositoryOf(paths.root), plan);
  const clipped = Buffer.byteLength(text) > DIFF_MAX_BYTES;
  return { branch: plan.branch, base_sha: plan.base_sha, text: clipped ? Buffer.from(text).subarray(0, DIFF_MAX_BYTES).toString('utf8') : text, clipped };
}

/** A spec written as `orch` would find it dropped: created, never over an existing one. */
async function createTask(paths: StatePaths, body: unknown): Promise<ApiCreated> {
  const raw = (body ?? {}) as { id?: unknown };
  if (typeof raw.id !== 'string') throw new HttpError(400, 'bad_spec', 'a task spec needs its "id"');
  const id = taskId(raw.id);
  let spec: TaskSpec;
  try {
    spec = validateDocument('spec', `${id}.json`, body) as TaskSpec;
  } catch (error) {
    throw new HttpError(400, 'bad_spec', isOrchError(error) ? error.message : String(error));
  }
  const file = join(paths.tasks, `${id}.json`);
  // False when a file of that name is there already: a spec is never written over.
  const created = await createFileExclusive(file, `${JSON.stringify(spec, null, 2)}\n`);
  if (!created) throw new HttpError(409, 'task_exists', `a spec for task ${id} exists already`);
  return { id, file };
}

/** A decision, exactly as `orch approve` and its kin make it, refused when the record moved past the rev the person saw. */
async function decideOn(paths: StatePaths, id: string, action: (typeof ACTIONS)[number], body: unknown): Promise<ApiDecision> {
  const { rev, note } = (body ?? {}) as { rev?: unknown; note?: unknown };
  if (typeof rev !== 'number' || !Number.isInteger(rev)) throw new HttpError(400, 'rev_required', 'say which rev of the record you decided on: {"rev": N}');
  if (note !== undefined && typeof note !== 'string') throw new HttpError(400, 'bad_note', 'note must be a string');
  const record = await readRecord(paths, id);
  if (record.rev !== rev) throw new HttpError(409, 'rev_changed', `task ${id} is at rev ${record.rev} now, not ${rev}: look at it again before deciding`);
  const result = await decide(paths, { taskId: id, action, ...(note !== undefined && { note }), actor: 'human' });
  return result.mode === 'inbox' ? { mode: 'inbox', decision: result.decision.decision_id } : { mode: 'applied', rev: result.record.rev, state: result.record.state };
}

/** The attempt a route names (`/tasks/<id>/attempts/<n>`), and where its `stream` output goes. */
async function attemptOf(paths: StatePaths, rawId: string, rawN: string, stream: string): Promise<{ attempt: Attempt; file: string }> {
  const id = taskId(rawId);
  if (!/^\d{1,9}$/.test(rawN)) throw new HttpError(400, 'bad_attempt', `"${rawN}" is not an attempt number`);
  if (stream !== 'stdout' && stream !== 'stderr') throw new HttpError(400, 'bad_parameter', 'stream is stdout or stderr');
  const attempt = (await readRecord(paths, id)).attempts.find(a => a.n === Number(rawN));
  if (attempt === undefined) throw new HttpError(404, 'no_attempt', `task ${id} has no attempt ${rawN}`);
  return { attempt, file: join(artifactsDirOf(paths, attempt), `${stream}.log`) };
}

/**
 * The output file an attempt's route names (`/tasks/<id>/attempts/<n>/…?stream=stdout|stderr`), opened
 * with the no-link rules of `orch tail` (openInside); undefined when the attempt wrote none yet.
 */
export async function openAttemptOutput(paths: StatePaths, rawId: string, rawN: string, url: URL): Promise<{ file: string; handle: FileHandle | undefined }> {
  const { file } = await attemptOf(paths, rawId, rawN, url.searchParams.get('stream') ?? 'stdout');
  return { file, handle: await openInside(paths.stateDir, file) };
}

/**
 * The board's open task: its attempt's stdout followed beside the events (`/events?task=<id>&attempt=<n>`),
 * rendered for people through its client's adapter (what it says, the tools it calls, the result) as
 * `{"lines": [{kind, text}]}`, or as it is (`{"text"}`) for a plain command. The file is opened once it
 * appears, with the no-link rules; `close` closes it.
 */
export async function agentOutputChannel(paths: StatePaths, rawId: string, rawN: string): Promise<{ channel: Channel; close: () => Promise<void> }> {
  const { attempt, file } = await attemptOf(paths, rawId, rawN, 'stdout');
  let handle: FileHandle | undefined;
  const open = async (): Promise<FileSource | undefined> => {
    handle = await openInside(paths.stateDir, file);
    return handle === undefined ? undefined : { fd: handle.fd, path: file };
  };
  const close = async (): Promise<void> => void (await handle?.close());
  const adapter = adapterFor(attempt.provider ?? undefined);
  if (adapter.provider === 'command') return { channel: { path: file, open, framing: 'chunks', event: 'output', startAt: 'start', data: text => JSON.stringify({ text }) }, close };
  const render = (line: string): string | undefined => {
    const lines = adapter.render(line);
    return lines.length === 0 ? undefined : JSON.stringify({ lines });
  };
  const overlong = (bytes: number): string => JSON.stringify({ lines: [{ kind: 'info', text: `(a line of ${bytes} bytes or more, not shown)` }] });
  return { channel: { path: file, open, framing: 'lines', event: 'output', startAt: 'start', data: render, overlong }, close };
}

/** Up to OUTPUT_CHUNK_BYTES of an attempt's stdout or stderr from `offset`: never a whole log in memory. */
async function attemptOutput(paths: StatePaths, id: string, rawN: string, url: URL): Promise<ApiOutputChunk> {
  return chunkOf((await openAttemptOutput(paths, id, rawN, url)).handle, intParam(url, 'offset', 0));
}

/** The markdown run log (ORCHESTRATOR_RUN_LOG.md) by byte offset, as an attempt's output. */
async function runLogChunk(paths: StatePaths, url: URL): Promise<ApiOutputChunk> {
  return chunkOf(await openInside(paths.root, paths.runLog), intParam(url, 'offset', 0));
}

/** Up to OUTPUT_CHUNK_BYTES of an open file from `offset`; the handle is closed. */
async function chunkOf(handle: FileHandle | undefined, offset: number): Promise<ApiOutputChunk> {
  if (handle === undefined) return { offset, next_offset: offset, size: 0, text: '' };
  try {
    const { size } = await handle.stat();
    const start = Math.min(offset, size);
    const buffer = Buffer.alloc(Math.min(OUTPUT_CHUNK_BYTES, size - start));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    return { offset: start, next_offset: start + bytesRead, size, text: buffer.subarray(0, bytesRead).toString('utf8') };
  } finally {
    await handle.close();
  }
}

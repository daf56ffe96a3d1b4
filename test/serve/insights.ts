// The timeline and cost routes of `orch serve` (specs/serve.md, "Timeline and costs"), over a real
// project that a real run left with a task retried, one failed, one waiting for a person and one on
// another model: their shapes against the schema, their bounds, and a project of many tasks.
import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import type { ApiCosts, ApiTimeline, RunSummaryFile, TaskRecord } from '../../src/generated/types.js';
import { decide } from '../../src/runtime/decide.js';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { serveFile, startServer, type RunningServer } from '../../src/serve/server.js';
import { statePaths } from '../../src/store/paths.js';
import { insightProject } from '../fixtures/insight-project.js';
import { makeProject } from '../fixtures/project.js';
import { shapeOf } from '../fixtures/serve-schemas.js';
import { testRoot } from '../fixtures/watch-helpers.js';


interface Answer<T> {
  status: number;
  json: T;
}

function get<T>(server: RunningServer, token: string, path: string, method = 'GET'): Promise<Answer<T>> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: server.port, method, path, headers: { Host: `127.0.0.1:${server.port}`, Authorization: `Bearer ${token}` } }, res => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', chunk => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as T }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function serve(t: Test, root: string): Promise<{ server: RunningServer; ask: <T>(path: string, method?: string) => Promise<Answer<T>> }> {
  const server = await startServer(statePaths(root));
  t.teardown(() => server.close());
  const { token } = JSON.parse(readFileSync(serveFile(statePaths(root)), 'utf8')) as { token: string };
  return { server, ask: (path, method) => get(server, token, path, method) };
}

const recordPath = (root: string, id: string): string => join(root, '.isollm/state/tasks', `${id}.json`);
const record = (root: string, id: string): TaskRecord => JSON.parse(readFileSync(recordPath(root, id), 'utf8')) as TaskRecord;
const rowOf = (timeline: ApiTimeline, id: string) => timeline.tasks.find(task => task.id === id);

t.test('the timeline of the last run: a row per task, attempts as retried/ok/failed bars, the backoff and the wait for a person', async t => {
  const root = insightProject(testRoot(t));
  const run = await runOnce(root);
  const { ask } = await serve(t, root);
  const answer = await ask<ApiTimeline>('/api/v1/timeline');
  t.equal(answer.status, 200);
  t.equal(shapeOf('ApiTimeline')(answer.json), '');
  const timeline = answer.json;
  const summary = JSON.parse(readFileSync(run.summaryFile ?? '', 'utf8')) as RunSummaryFile;
  t.same(timeline.window, { run_id: run.runId, from: summary.started_at, to: summary.ended_at, live: false }, 'the window is the last run, from its summary.json');
  t.same(timeline.tasks.map(task => task.id).sort(), ['F', 'G', 'M', 'R']);
  t.match(timeline, { total: 4, offset: 0, limit: 200 });
  const firsts = timeline.tasks.map(task => Date.parse(task.first_at));
  t.same(firsts, [...firsts].sort((a, b) => a - b), 'rows in the order of their first activity');

  const r = record(root, 'R');
  t.match(rowOf(timeline, 'R'), {
    state: 'DONE',
    attempts: [{ n: 1, result: 'retried', reason: 'failed', exit_code: 1 }, { n: 2, result: 'ok', reason: 'succeeded', cost_usd: 0.01, tokens: 150, model: 'stub/stub-model' }],
    waits: [{ kind: 'backoff', from: r.attempts[0]?.ended_at, until: r.attempts[1]?.started_at }],
  });
  t.match(rowOf(timeline, 'F'), { state: 'FAILED', attempts: [{ result: 'failed', reason: 'failed' }], waits: [] });
  t.match(rowOf(timeline, 'G'), { state: 'AWAITING_HUMAN', attempts: [], waits: [{ kind: 'human', until: null, reason: /gate/ }] });
  t.match(rowOf(timeline, 'M'), { attempts: [{ result: 'ok', model: 'other/other-model', cost_usd: 0.25 }] });

  // G approved, then a second run: the window is that run, and only G did something in it.
  await decide(statePaths(root), { taskId: 'G', action: 'approve' });
  const second = await runOnce(root);
  const after = (await ask<ApiTimeline>('/api/v1/timeline')).json;
  t.equal(after.window.run_id, second.runId);
  t.same(after.tasks.map(task => task.id), ['G'], 'tasks of the earlier run are not in this one');
  t.match(after.tasks[0], { state: 'DONE', attempts: [{ result: 'ok' }] });
});

t.test('the timeline without any run: everything recorded, no window start', async t => {
  const root = makeProject(testRoot(t), { tasks: { A: { goal: 'a' } } });
  const { ask } = await serve(t, root);
  const answer = await ask<ApiTimeline>('/api/v1/timeline');
  t.equal(shapeOf('ApiTimeline')(answer.json), '');
  t.match(answer.json, { window: { run_id: null, from: null, live: false }, total: 0, tasks: [] });
});

t.test('costs: the total, the costliest tasks and the rest summed, per model the client reported, per role', async t => {
  const root = insightProject(testRoot(t));
  await runOnce(root);
  const { ask } = await serve(t, root);
  const answer = await ask<ApiCosts>('/api/v1/costs');
  t.equal(answer.status, 200);
  t.equal(shapeOf('ApiCosts')(answer.json), '');
  const costs = answer.json;
  t.equal(Math.round(costs.total.usd * 1e6) / 1e6, 0.26);
  t.equal(costs.total.tokens, 1650);
  t.same(costs.tasks.top.map(task => task.id), ['M', 'R', 'F', 'G'], 'most first (then by id)');
  t.match(costs.tasks, { count: 4, rest: { count: 0, usd: 0, tokens: 0 } });
  t.match(costs.by_model, [{ model: 'other/other-model', usd: 0.25, tokens: 1500, calls: 1 }, { model: 'stub/stub-model', usd: 0.01, tokens: 150, calls: 1 }]);
  t.match(costs.by_role, [{ phase: 'implement', role: 'implementer' }]);

  const one = (await ask<ApiCosts>('/api/v1/costs?limit=1')).json;
  t.same(one.tasks.top.map(task => task.id), ['M']);
  t.match(one.tasks.rest, { count: 3, tokens: 150 });
  t.equal(Math.round(one.tasks.rest.usd * 1e6) / 1e6, 0.01);
});

t.test('bounds: limit and offset page the rows; a bad parameter is 400, another method 405', async t => {
  const root = insightProject(testRoot(t));
  await runOnce(root);
  const { ask } = await serve(t, root);
  const all = (await ask<ApiTimeline>('/api/v1/timeline')).json;
  const page = (await ask<ApiTimeline>('/api/v1/timeline?limit=2&offset=1')).json;
  t.match(page, { total: 4, offset: 1, limit: 2 });
  t.same(page.tasks.map(task => task.id), all.tasks.slice(1, 3).map(task => task.id));
  t.match((await ask<ApiTimeline>('/api/v1/timeline?offset=10')).json, { total: 4, tasks: [] });
  t.match((await ask<ApiTimeline>('/api/v1/timeline?limit=100000')).json, { limit: 500 }, 'limit at most 500');
  t.match((await ask<ApiCosts>('/api/v1/costs?limit=100000')).json, { tasks: { count: 4 } });
  for (const path of ['/api/v1/timeline?limit=abc', '/api/v1/timeline?offset=-1', '/api/v1/costs?limit=1e3', '/api/v1/timeline?limit=..%2F']) {
    const bad = await ask<unknown>(path);
    t.match(bad, { status: 400, json: { error: { code: 'bad_parameter' } } }, path);
    t.equal(shapeOf('ApiError')(bad.json), '');
  }
  t.match(await ask<unknown>('/api/v1/costs', 'POST'), { status: 405, json: { error: { code: 'method_not_allowed' } } });
  t.match(await ask<unknown>('/api/v1/timeline/R'), { status: 404 });
});

t.test('2,000 tasks: answers stay bounded, and a record changed on disk is seen at the next ask', async t => {
  const root = insightProject(testRoot(t));
  await runOnce(root);
  // 2,000 more records like R (same run, same times), each costing a little more than the one before.
  const { seal: _seal, ...like } = record(root, 'R');
  for (let i = 0; i < 2000; i++) {
    const id = `T${String(i).padStart(4, '0')}`;
    writeFileSync(recordPath(root, id), JSON.stringify({ ...like, id, cost: { ...like.cost, usd: i / 1000 } }));
  }
  const { ask } = await serve(t, root);
  const timeline = (await ask<ApiTimeline>('/api/v1/timeline')).json;
  t.equal(shapeOf('ApiTimeline')(timeline), '');
  t.match(timeline, { total: 2004, limit: 200 });
  t.equal(timeline.tasks.length, 200, 'the default page');
  t.equal((await ask<ApiTimeline>('/api/v1/timeline?limit=500&offset=1900')).json.tasks.length, 104, 'the last page');

  const costs = (await ask<ApiCosts>('/api/v1/costs?limit=100')).json;
  t.equal(shapeOf('ApiCosts')(costs), '');
  t.equal(costs.tasks.top.length, 100);
  t.equal(costs.tasks.top[0]?.id, 'T1999');
  t.equal(costs.tasks.rest.count, 2004 - 100);
  const summed = costs.tasks.top.reduce((sum, task) => sum + task.usd, 0) + costs.tasks.rest.usd;
  t.ok(Math.abs(summed - costs.total.usd) < 1e-6, 'the named tasks and the rest add up to the total');

  writeFileSync(recordPath(root, 'T0000'), JSON.stringify({ ...like, id: 'T0000', cost: { ...like.cost, usd: 99 } }));
  t.equal((await ask<ApiCosts>('/api/v1/costs?limit=1')).json.tasks.top[0]?.id, 'T0000', 'the changed record was read again');
});

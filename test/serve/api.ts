// `orch serve`'s API (issue 15, first part): every route against its schema, decisions exactly as the
// CLI makes them, events resumed exactly by Last-Event-ID, and the attack suite: no token, a wrong
// token, a spent link, a foreign Host or Origin, a cookie without Origin, an upgrade, a 100 MB body,
// traversal in ids and offsets, 1,000 connections dropped. Real server, real sockets, real files.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TaskRecord } from '../../src/generated/types.js';
import { runOnce } from '../../src/runtime/orchestrator.js';
import { serveFile, startServer, type RunningServer } from '../../src/serve/server.js';
import { statePaths } from '../../src/store/paths.js';
import { makeProject, writeTask } from '../fixtures/project.js';
import { ORCH_BIN } from '../fixtures/run-cli.js';
import { waitFor } from '../fixtures/wait-for.js';
import { shapeOf } from '../fixtures/serve-schemas.js';
import { testRoot } from '../fixtures/watch-helpers.js';


interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: unknown;
}

function call(server: RunningServer, method: string, path: string, options: { headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: server.port, method, path, headers: { Host: `127.0.0.1:${server.port}`, ...options.headers } }, res => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', chunk => (text += chunk));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A project with three tasks DONE and one waiting at a human gate, and a server over it. */
async function served(t: Test): Promise<{ root: string; server: RunningServer; token: string; auth: Record<string, string> }> {
  const root = testRoot(t);
  makeProject(root, {
    workflow: { implement: { command: [process.execPath, '-e', "console.log('working on ' + process.env.ORCH_TASK_ID)"] }, retry: { max_attempts: 1 } },
    config: { workflows: { default: { implement: { command: [process.execPath, '-e', "console.log('working on ' + process.env.ORCH_TASK_ID)"] }, retry: { max_attempts: 1 } }, gated: { implement: { command: [process.execPath, '-e', ''] }, human_gate: ['implement'] } } },
    tasks: { A: { goal: 'a' }, B: { goal: 'b' }, C: { goal: 'c' }, G: { goal: 'wait for me', workflow: 'gated' } },
  });
  await runOnce(root);
  const server = await startServer(statePaths(root));
  t.teardown(() => server.close());
  const token = (JSON.parse(readFileSync(serveFile(statePaths(root)), 'utf8')) as { token: string }).token;
  return { root, server, token, auth: { Authorization: `Bearer ${token}` } };
}

const record = (root: string, id: string): TaskRecord => JSON.parse(readFileSync(join(root, '.isollm/state/tasks', `${id}.json`), 'utf8'));

t.test('serve.json: the URL and a token, mode 0600, gone when the server stops', async t => {
  const { root, server, token } = await served(t);
  const file = serveFile(statePaths(root));
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.match(JSON.parse(readFileSync(file, 'utf8')), { version: 1, url: server.url, port: server.port, pid: process.pid });
  t.ok(token.length >= 32);
  await server.close();
  t.notOk(existsSync(file));
});

t.test('the routes: state, a page of tasks, one task, an attempt\'s output by offset, each in its schema', async t => {
  const { server, auth } = await served(t);
  const state = await call(server, 'GET', '/api/v1/state', { headers: auth });
  t.equal(state.status, 200);
  t.equal(shapeOf('ApiState')(state.json), '');
  t.match(state.json, { counts: { DONE: 3, AWAITING_HUMAN: 1 }, totals: { tasks: 4 }, waiting: [{ id: 'G' }] });
  t.match(state.headers, { 'content-security-policy': /script-src 'self'/, 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY' });
  t.notOk(state.headers['access-control-allow-origin'], 'no CORS');

  const page = await call(server, 'GET', '/api/v1/tasks?limit=2&offset=1', { headers: auth });
  t.equal(shapeOf('ApiTaskPage')(page.json), '');
  t.match(page.json, { total: 4, offset: 1, limit: 2 });
  t.equal((page.json as { tasks: unknown[] }).tasks.length, 2);
  const done = await call(server, 'GET', '/api/v1/tasks?state=DONE', { headers: auth });
  t.same((done.json as { tasks: { id: string }[] }).tasks.map(task => task.id).sort(), ['A', 'B', 'C']);

  const one = await call(server, 'GET', '/api/v1/tasks/A', { headers: auth });
  t.match(one.json, { id: 'A', state: 'DONE', attempts: [{ n: 1, phase: 'implement' }] });

  const output = await call(server, 'GET', '/api/v1/tasks/A/attempts/1/output?offset=3', { headers: auth });
  t.equal(shapeOf('ApiOutputChunk')(output.json), '');
  t.match(output.json, { offset: 3, text: 'king on A\n', next_offset: 13, size: 13 });
  const past = await call(server, 'GET', '/api/v1/tasks/A/attempts/1/output?offset=999&stream=stderr', { headers: auth });
  t.match(past.json, { text: '', size: 0 });
  const log = await call(server, 'GET', '/api/v1/log', { headers: auth });
  t.equal(shapeOf('ApiOutputChunk')(log.json), '');
  t.match(log.json, { offset: 0, text: /## Run: [\s\S]*Task A started/ }, 'the markdown run log, by offset');
});

t.test('decisions: the rev the person saw, or 409; then exactly what orch approve does', async t => {
  const { root, server, auth } = await served(t);
  const rev = record(root, 'G').rev;
  const stale = await call(server, 'POST', '/api/v1/tasks/G/approve', { headers: auth, body: JSON.stringify({ rev: rev - 1 }) });
  t.equal(stale.status, 409);
  t.match(stale.json, { error: { code: 'rev_changed' } });
  t.equal(shapeOf('ApiError')(stale.json), '');
  const missing = await call(server, 'POST', '/api/v1/tasks/G/approve', { headers: auth, body: '{}' });
  t.match(missing, { status: 400, json: { error: { code: 'rev_required' } } });
  const approved = await call(server, 'POST', '/api/v1/tasks/G/approve', { headers: auth, body: JSON.stringify({ rev, note: 'looks right' }) });
  t.equal(approved.status, 200, approved.text);
  t.equal(shapeOf('ApiDecision')(approved.json), '');
  t.match(approved.json, { mode: 'applied' });
  const again = await call(server, 'POST', '/api/v1/tasks/G/approve', { headers: auth, body: JSON.stringify({ rev }) });
  t.equal(again.status, 409, 'the same decision twice: refused, the record moved on');
  await runOnce(root);
  t.equal(record(root, 'G').state, 'DONE');
  t.ok(record(root, 'G').history.some(h => h.actor === 'human' && h.from === 'AWAITING_HUMAN'), 'approved as a person');
  const wrong = await call(server, 'POST', '/api/v1/tasks/A/approve', { headers: auth, body: JSON.stringify({ rev: record(root, 'A').rev }) });
  t.equal(wrong.status, 409, 'a DONE task cannot be approved');
});

t.test('creating a task writes its spec as a dropped file would be; never over one', async t => {
  const { root, server, auth } = await served(t);
  const created = await call(server, 'POST', '/api/v1/tasks', { headers: auth, body: JSON.stringify({ id: 'N', goal: 'new' }) });
  t.equal(created.status, 201, created.text);
  t.equal(shapeOf('ApiCreated')(created.json), '');
  t.match(JSON.parse(readFileSync(join(root, '.isollm/tasks/N.json'), 'utf8')), { id: 'N', goal: 'new' });
  t.match(await call(server, 'POST', '/api/v1/tasks', { headers: auth, body: JSON.stringify({ id: 'N', goal: 'again' }) }), { status: 409, json: { error: { code: 'task_exists' } } });
  t.match(await call(server, 'POST', '/api/v1/tasks', { headers: auth, body: JSON.stringify({ id: 'X', goal: 'g', priority: 'high' }) }), { status: 400, json: { error: { code: 'bad_spec' } } });
  t.match(await call(server, 'POST', '/api/v1/tasks', { headers: auth, body: '{not json' }), { status: 400, json: { error: { code: 'bad_json' } } });
  t.match(await call(server, 'GET', '/api/v1/nothing', { headers: auth }), { status: 404, json: { error: { code: 'not_found' } } });
  t.match(await call(server, 'DELETE', '/api/v1/state', { headers: auth }), { status: 405, json: { error: { code: 'method_not_allowed' } } });
});

/** Reads SSE events from a stream until `until` says enough, or fails after `ms`. */
function events(server: RunningServer, headers: Record<string, string>, until: (got: { id?: string; event: string; data: string }[]) => boolean, onSnapshot: () => void = () => undefined, ms = 15_000, path = '/api/v1/events'): Promise<{ status: number; got: { id?: string; event: string; data: string }[] }> {
  return new Promise((resolve, reject) => {
    const got: { id?: string; event: string; data: string }[] = [];
    const req = httpRequest({ host: '127.0.0.1', port: server.port, path, headers: { Host: `127.0.0.1:${server.port}`, ...headers } }, res => {
      if (res.statusCode !== 200) {
        res.resume();
        resolve({ status: res.statusCode ?? 0, got });
        return;
      }
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', chunk => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const field = (name: string) => block.split('\n').find(line => line.startsWith(`${name}: `))?.slice(name.length + 2);
          const event = field('event');
          const id = field('id');
          if (event !== undefined) got.push({ event, data: field('data') ?? '', ...(id !== undefined && { id }) });
          if (event === 'snapshot') onSnapshot();
        }
        if (until(got)) {
          req.destroy();
          resolve({ status: 200, got });
        }
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`timed out after ${ms} ms waiting for events; got ${JSON.stringify(got.map(g => g.event))}`));
    }, ms);
    req.on('close', () => clearTimeout(timer));
    req.on('error', error => (error.message.includes('aborted') || (error as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(error)));
    req.end();
  });
}

t.test('events: a snapshot, then each run-log event with its offset as id; Last-Event-ID resumes exactly after it', async t => {
  const { root, server, auth } = await served(t);
  const eventsFile = join(root, '.isollm/events.jsonl');
  const sizeBefore = statSync(eventsFile).size;
  let opened: () => void = () => undefined;
  const streaming = new Promise<void>(resolve => (opened = resolve));
  const live = events(server, auth, got => got.some(e => e.event === 'log' && e.data.includes('Task D completed')), () => opened());
  await streaming; // the stream is open (its snapshot came) before D is written
  writeTask(root, 'D', { goal: 'd' });
  await runOnce(root);
  const first = await live;
  t.equal(first.got[0]?.event, 'snapshot');
  t.match(JSON.parse(first.got[0]?.data ?? '{}'), { counts: { DONE: 3 } });
  const logs = first.got.filter(e => e.event === 'log');
  t.ok(logs.length >= 2);
  t.ok(logs.every(e => Number(e.id) > sizeBefore), 'only what came after the stream opened');
  for (const e of logs) t.equal(readFileSync(eventsFile).subarray(0, Number(e.id)).toString('utf8').trimEnd().split('\n').at(-1), e.data, `id ${e.id} is the offset just past its line`);

  // Reconnect after the second event: exactly the rest, nothing twice, nothing missed.
  const resumeAfter = logs[1];
  const rest = await events(server, { ...auth, 'Last-Event-ID': resumeAfter?.id ?? '' }, got => got.filter(e => e.event === 'log').length >= logs.length - 2 && got.some(e => e.data.includes('Task D completed')));
  t.same(rest.got.filter(e => e.event === 'log').map(e => e.id), logs.slice(2).map(e => e.id));
});

t.test('attacks: each refused, and the server stays up', async t => {
  const { server, auth, token } = await served(t);
  const ours = `http://127.0.0.1:${server.port}`;
  t.match(await call(server, 'GET', '/api/v1/state'), { status: 401, json: { error: { code: 'no_token' } } }, 'no token');
  t.match(await call(server, 'GET', '/api/v1/state', { headers: { Authorization: `Bearer ${token}x` } }), { status: 401, json: { error: { code: 'bad_token' } } }, 'a wrong token');
  t.match(await call(server, 'GET', '/api/v1/state', { headers: { ...auth, Host: `evil.example:${server.port}` } }), { status: 403, json: { error: { code: 'forbidden_host' } } }, 'a foreign Host (DNS rebinding)');
  t.match(await call(server, 'POST', '/api/v1/refresh', { headers: { ...auth, Origin: 'http://evil.example' } }), { status: 403, json: { error: { code: 'forbidden_origin' } } }, 'a foreign Origin on POST');
  t.match(await events(server, { ...auth, Origin: 'http://evil.example' }, () => true), { status: 403 }, 'a foreign Origin on the event stream');

  // The one-time link: exchanged once for an HttpOnly, SameSite=Strict cookie; spent after.
  const link = new URL(server.link() ?? '');
  const exchanged = await call(server, 'GET', `${link.pathname}${link.search}`);
  t.equal(exchanged.status, 302);
  const cookie = String(exchanged.headers['set-cookie']?.[0] ?? '');
  t.match(cookie, /^orch_session=[\w-]+\.[\w-]+; HttpOnly; SameSite=Strict; Path=\/$/);
  t.match(await call(server, 'GET', `${link.pathname}${link.search}`), { status: 401, json: { error: { code: 'link_used' } } }, 'a link reused after the exchange');
  const session = { Cookie: cookie.split(';')[0] ?? '' };
  const [nonce = ''] = (session.Cookie.split('=')[1] ?? '').split('.');
  t.match(await call(server, 'GET', '/api/v1/state', { headers: { Cookie: `orch_session=${nonce}.forged` } }), { status: 401 }, 'a forged session signature');
  t.equal((await call(server, 'GET', '/api/v1/state', { headers: session })).status, 200, 'the cookie reads');
  t.match(await call(server, 'POST', '/api/v1/refresh', { headers: session }), { status: 403, json: { error: { code: 'missing_origin' } } }, 'a cookie only, no Origin, on POST');
  t.match(await events(server, session, () => true), { status: 403 }, 'a cookie only, no Origin, on the stream');
  t.equal((await call(server, 'POST', '/api/v1/refresh', { headers: { ...session, Origin: ours } })).status, 202, 'the cookie with our Origin acts');
  t.match(await call(server, 'POST', '/api/v1/refresh', { headers: { ...session, 'Sec-Fetch-Site': 'cross-site' } }), { status: 403, json: { error: { code: 'forbidden_site' } } }, 'a cross-site request with the cookie');
  t.match(await events(server, { ...session, 'Sec-Fetch-Site': 'same-site' }, () => true), { status: 403 }, 'a same-site (other port or subdomain) stream');
  t.match(await events(server, { ...session, 'Sec-Fetch-Site': 'same-origin' }, got => got.length > 0), { status: 200 }, 'our own page\'s stream: no Origin on a same-origin GET, the browser says same-origin');

  // An upgrade (websocket) with a foreign Origin, and with our own: refused before any route.
  for (const origin of ['http://evil.example', ours]) {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1', () => socket.write(`GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nAuthorization: Bearer ${token}\r\nOrigin: ${origin}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`));
      let text = '';
      socket.on('data', chunk => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    t.match(answer, /^HTTP\/1\.1 403/, `an upgrade from ${origin}`);
  }

  // A 100 MB body: refused from its length, never read.
  t.match(await call(server, 'POST', '/api/v1/tasks', { headers: { ...auth, 'Content-Length': String(100 * 1024 * 1024) } }).catch(() => ({ status: 413 })), { status: 413 }, 'a 100 MB body');
  const streamed = await new Promise<number>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: server.port, method: 'POST', path: '/api/v1/tasks', headers: { Host: `127.0.0.1:${server.port}`, ...auth, 'Transfer-Encoding': 'chunked' } }, res => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', error => ((error as NodeJS.ErrnoException).code === 'ECONNRESET' || (error as NodeJS.ErrnoException).code === 'EPIPE' ? resolve(413) : reject(error)));
    const chunk = Buffer.alloc(1024 * 1024, 120);
    let sent = 0;
    const pump = (): void => {
      while (sent < 100 && req.write(chunk)) sent += 1;
      if (sent < 100) req.once('drain', pump);
      else req.end();
    };
    pump();
  });
  t.equal(streamed, 413, 'a 100 MB body without a length: cut at the bound');

  // Traversal in every id and offset.
  for (const path of ['/api/v1/tasks/..%2F..%2Fetc%2Fpasswd', '/api/v1/tasks/.hidden', '/api/v1/tasks/A%00/attempts/1/output', '/api/v1/tasks/..%2Fstate/approve']) {
    const post = path.endsWith('approve');
    const answer = await call(server, post ? 'POST' : 'GET', path, { headers: auth, ...(post && { body: '{"rev":1}' }) });
    t.equal(answer.status, 400, `${path}: ${answer.text}`);
  }
  // (A dot-segment the URL parser resolves, /tasks/%2e%2e, lands on no route at all.)
  for (const path of ['/api/v1/tasks/%2e%2e', '/api/v1/tasks/A/attempts/..%2F1/output', '/api/v1/tasks/A/attempts/1/output?offset=-1', '/api/v1/tasks/A/attempts/1/output?offset=..%2F', '/api/v1/tasks/A/attempts/1/output?stream=..%2F..%2Fconfig.json', '/api/v1/tasks?offset=1e9']) {
    const answer = await call(server, 'GET', path, { headers: auth });
    t.ok(answer.status === 400 || answer.status === 404, `${path}: ${answer.status}`);
  }

  // 1,000 connections opened and dropped at once.
  await Promise.all(Array.from({ length: 1000 }, () => new Promise<void>(resolve => {
    const socket = connect(server.port, '127.0.0.1', () => socket.destroy());
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
  })));
  t.equal((await call(server, 'GET', '/api/v1/state', { headers: auth })).status, 200, 'still up and answering');
});

t.test('orch serve: prints where it listens (and the one-time link with --open), answers, and stops on SIGTERM removing serve.json', async t => {
  const root = makeProject(testRoot(t), { tasks: { A: { goal: 'a' } } });
  const child = spawn(process.execPath, [ORCH_BIN, 'serve', '--json', '--open'], { cwd: root, env: { ...process.env, ORCH_ROOT: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', chunk => (out += chunk.toString()));
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)));
  const started = await waitFor('orch serve to say where it listens', () => JSON.parse(out) as { url: string; port: number; link: string });
  t.match(started, { url: /^http:\/\/127\.0\.0\.1:\d+\/$/, link: /\?token=[\w-]+$/ });
  const { token } = JSON.parse(readFileSync(serveFile(statePaths(root)), 'utf8')) as { token: string };
  const server = { port: started.port } as RunningServer;
  t.match(await call(server, 'GET', '/api/v1/state', { headers: { Authorization: `Bearer ${token}` } }), { status: 200, json: { totals: { tasks: 1 } } });
  child.kill('SIGTERM');
  t.equal(await exited, 0);
  t.notOk(existsSync(serveFile(statePaths(root))), 'serve.json removed');
});

t.test('orch --serve: the orchestrator serves the board and the API while it runs, and stops both on SIGTERM', async t => {
  const root = makeProject(testRoot(t), { tasks: { A: { goal: 'a' } } });
  const child = spawn(process.execPath, [ORCH_BIN, '--serve'], { cwd: root, env: { ...process.env, ORCH_ROOT: '', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', chunk => (out += chunk.toString()));
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)));
  const link = await waitFor('orch --serve to print its one-time link', () => /orch serve: (\S+) · open once in your browser: (\S+)/.exec(out)?.[2]);
  t.match(link, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+$/);
  const { token } = JSON.parse(readFileSync(serveFile(statePaths(root)), 'utf8')) as { token: string };
  const server = { port: Number(new URL(link).port) } as RunningServer;
  const done = await waitFor('task A to be DONE, as the API tells', async () => {
    const state = await call(server, 'GET', '/api/v1/state', { headers: { Authorization: `Bearer ${token}` } });
    return (state.json as { counts?: { DONE?: number } }).counts?.DONE === 1 ? state : undefined;
  });
  t.match(done.json, { session: { state: 'running' } }, 'the API sees the orchestrator it runs in');
  child.kill('SIGTERM');
  t.equal(await exited, 0);
  t.notOk(existsSync(serveFile(statePaths(root))), 'serve.json removed');
});

/** Reads SSE events from any stream path (see `events`, which reads /api/v1/events). */
function streamOf(server: RunningServer, path: string, headers: Record<string, string>, until: (got: { id?: string; event: string; data: string }[]) => boolean): Promise<{ status: number; got: { id?: string; event: string; data: string }[] }> {
  return events(server, headers, until, () => undefined, 15_000, path);
}

t.test('an attempt\'s output as a live stream: from the start, chunk by chunk as it grows, a character never cut, resumed by Last-Event-ID', async t => {
  const { root, server, auth } = await served(t);
  const output = await call(server, 'GET', '/api/v1/tasks/A', { headers: auth });
  const dir = (output.json as { attempts: { artifacts_dir: string }[] }).attempts[0]?.artifacts_dir ?? '';
  const stdout = join(dir, 'stdout.log');
  // Open before the file grows or after: the stream starts at byte 0 either way and follows it.
  const live = streamOf(server, '/api/v1/tasks/A/attempts/1/stream', auth, got => got.some(e => e.data.includes('é')));
  appendFileSync(stdout, Buffer.from([0x63, 0x61, 0x66, 0xc3])); // "caf" and the first byte of "é"
  appendFileSync(stdout, Buffer.from([0xa9, 0x0a]));
  const got = (await live).got.filter(e => e.event === 'output');
  t.equal(got.map(e => JSON.parse(e.data) as string).join(''), 'working on A\ncafé\n', 'the whole output, in order, no character broken');
  t.equal(got.at(-1)?.id, String(statSync(stdout).size), 'each id is the byte offset past what it carried');
  const resumed = await streamOf(server, '/api/v1/tasks/A/attempts/1/stream', { ...auth, 'Last-Event-ID': '8' }, got2 => got2.some(e => e.data.includes('é')));
  t.equal(resumed.got.filter(e => e.event === 'output').map(e => JSON.parse(e.data) as string).join(''), 'on A\ncafé\n', 'resumed from byte 8');
  t.match(await streamOf(server, '/api/v1/tasks/..%2Fx/attempts/1/stream', auth, () => true), { status: 400 });
  t.match(await streamOf(server, '/api/v1/tasks/A/attempts/9/stream', auth, () => true), { status: 404 });
  t.match(await streamOf(server, '/api/v1/tasks/A/attempts/1/stream', { ...auth, Origin: 'http://evil.example' }, () => true), { status: 403 });
  t.ok(existsSync(root));
});

t.test('--socket: a unix socket of mode 0600, the Bearer token, Host localhost; a stale socket file of a dead server is replaced, another file never', async t => {
  const root = makeProject(testRoot(t), { tasks: { A: { goal: 'a' } } });
  // A unix socket's path holds at most 107 bytes: the test dir's name is longer than that.
  const socket = join(mkdtempSync(join(tmpdir(), 'orch-sock-')), 'orch.sock');
  t.teardown(() => rmSync(dirname(socket), { recursive: true, force: true }));
  const ask = (headers: Record<string, string>): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = httpRequest({ socketPath: socket, path: '/api/v1/state', headers }, res => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
  // A socket file left by a server that died: one listening on it, killed with SIGKILL (no unlink).
  const dead = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(socket)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>(resolve => dead.stdout.once('data', () => resolve()));
  dead.kill('SIGKILL');
  await new Promise(resolve => dead.once('exit', resolve));
  t.ok(existsSync(socket), 'the dead server\'s socket file is still there');

  const server = await startServer(statePaths(root), { socket });
  t.teardown(() => server.close());
  t.equal(statSync(socket).mode & 0o777, 0o600, 'only its owner can connect');
  const { token } = JSON.parse(readFileSync(serveFile(statePaths(root)), 'utf8')) as { token: string };
  t.match(JSON.parse(readFileSync(serveFile(statePaths(root)), 'utf8')), { socket });
  t.equal(await ask({ Host: 'localhost', Authorization: `Bearer ${token}` }), 200);
  t.equal(await ask({ Host: 'localhost' }), 401, 'no token');
  t.equal(await ask({ Host: 'evil.example', Authorization: `Bearer ${token}` }), 403, 'a foreign Host');
  await server.close();

  writeFileSync(socket, 'not a socket, somebody\'s file');
  await t.rejects(startServer(statePaths(root), { socket }), { code: 'EADDRINUSE' }, 'a file that is no socket is never removed');
  t.equal(readFileSync(socket, 'utf8'), 'not a socket, somebody\'s file');
});

t.test('the events stream follows a task\'s attempt beside the log (one stream per tab): ids name both offsets and resume both', async t => {
  const { root, server, auth } = await served(t);
  const eventsSize = (): number => statSync(join(root, '.isollm', 'events.jsonl')).size;
  const path = '/api/v1/events?task=A&attempt=1';
  const first = await streamOf(server, path, auth, got => got.some(e => e.event === 'output'));
  const output = first.got.filter(e => e.event === 'output');
  t.same(output.map(e => JSON.parse(e.data) as unknown), [{ text: 'working on A\n' }], 'a plain command\'s output as it is');
  t.equal(output[0]?.id, `${eventsSize()}.13`, 'the id: the events\' offset, then the output\'s');

  const record = JSON.parse(readFileSync(join(root, '.isollm', 'state', 'tasks', 'A.json'), 'utf8')) as TaskRecord;
  appendFileSync(join(root, '.isollm', record.attempts[0]?.artifacts_dir ?? '', 'stdout.log'), 'more\n');
  const resumed = await streamOf(server, path, { ...auth, 'Last-Event-ID': output[0]?.id ?? '' }, got => got.some(e => e.event === 'output'));
  t.same(resumed.got.filter(e => e.event === 'output').map(e => JSON.parse(e.data) as unknown), [{ text: 'more\n' }], 'resumed after what was sent, nothing twice');
  const afresh = await streamOf(server, path, { ...auth, 'Last-Event-ID': '13' }, got => got.some(e => e.event === 'output'));
  t.same(afresh.got.filter(e => e.event === 'output').map(e => JSON.parse(e.data) as unknown), [{ text: 'working on A\nmore\n' }], 'an id made for another stream is ignored: from the start');

  t.match(await streamOf(server, '/api/v1/events?task=A', auth, () => true), { status: 400 }, 'no attempt named');
  t.match(await streamOf(server, '/api/v1/events?task=..%2Fx&attempt=1', auth, () => true), { status: 400 });
  t.match(await streamOf(server, '/api/v1/events?task=A&attempt=9', auth, () => true), { status: 404 });
});

t.test('an agent client\'s output on the events stream is rendered line by line, and a line over 1 MiB is skipped with a word, never held', async t => {
  const root = testRoot(t);
  const agent = { provider: 'claude_code', command: [process.execPath, '-e', "console.log('plain words')"] as [string, ...string[]] };
  makeProject(root, { workflow: { implement: agent, retry: { max_attempts: 1 } }, tasks: { A: { goal: 'a' } } });
  await runOnce(root);
  const server = await startServer(statePaths(root));
  t.teardown(() => server.close());
  const token = (JSON.parse(readFileSync(serveFile(statePaths(root)), 'utf8')) as { token: string }).token;
  const record = JSON.parse(readFileSync(join(root, '.isollm', 'state', 'tasks', 'A.json'), 'utf8')) as TaskRecord;
  appendFileSync(join(root, '.isollm', record.attempts[0]?.artifacts_dir ?? '', 'stdout.log'), `${'x'.repeat(1200 * 1024)}\nafter\n`);
  const { got } = await streamOf(server, '/api/v1/events?task=A&attempt=1', { Authorization: `Bearer ${token}` }, events => events.some(e => e.data.includes('after')));
  const lines = got.filter(e => e.event === 'output').flatMap(e => (JSON.parse(e.data) as { lines: { kind: string; text: string }[] }).lines);
  t.equal(lines.length, 3, JSON.stringify(lines).slice(0, 500));
  t.match(lines, [{ kind: 'info', text: 'plain words' }, { kind: 'info', text: /^\(a line of \d+ bytes or more, not shown\)$/ }, { kind: 'info', text: 'after' }]);
});

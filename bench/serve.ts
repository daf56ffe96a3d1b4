// Freshness of `orch serve`'s events (issue 15): a line appended to events.jsonl → the event received by
// an SSE client over HTTP, against the floor measured in the same run, interleaved: fs.watch on the
// folder → the same bytes read and written to a local socket. Goal: p99 ≤ 100 ms and ≤ 3× the floor.
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, statSync, watch, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { runOnce } from '../src/runtime/orchestrator.js';
import { startServer } from '../src/serve/server.js';
import { statePaths } from '../src/store/paths.js';
import type { Benchmark } from './lib/context.js';
import { ORCH_CLI, timeProcess } from './lib/proc.js';
import { p50RatioRow, summarize, type Row } from './lib/stats.js';
import { cachedProject, makeProject } from './lib/state-fixture.js';

/** Resolves with the time (ms since `since`) at which `marker` arrives on the stream fed to `listen`. */
type Arrival = (marker: string) => Promise<number>;

/** An SSE client on orch serve's /api/v1/events: resolves arrivals of markers in the data lines. */
async function sseClient(port: number, token: string): Promise<{ arrival: Arrival; close: () => void }> {
  const waiting = new Map<string, (at: number) => void>();
  let buffer = '';
  const req = request({ host: '127.0.0.1', port, path: '/api/v1/events', headers: { Host: `127.0.0.1:${port}`, Authorization: `Bearer ${token}` } });
  const opened = new Promise<void>((resolve, reject) => {
    req.on('response', res => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const at = performance.now();
        buffer += chunk;
        if (buffer.includes('event: snapshot')) resolve();
        for (const [marker, done] of waiting) {
          if (buffer.includes(marker)) {
            waiting.delete(marker);
            done(at);
          }
        }
        buffer = buffer.slice(-4096);
      });
    });
    req.on('error', reject);
  });
  req.end();
  await opened;
  return { arrival: marker => new Promise(resolve => waiting.set(marker, resolve)), close: () => req.destroy() };
}

/** The floor: fs.watch on the folder, the appended bytes read and sent over a local TCP socket. */
async function floorPipe(dir: string, file: string): Promise<{ arrival: Arrival; close: () => void }> {
  const waiting = new Map<string, (at: number) => void>();
  let received = '';
  let sender: Socket | undefined;
  const server = createServer(socket => (sender = socket));
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const client = connect(typeof address === 'object' && address !== null ? address.port : 0, '127.0.0.1');
  await new Promise<void>(resolve => client.once('connect', resolve));
  await new Promise<void>(resolve => setImmediate(resolve));
  client.setEncoding('utf8');
  client.on('data', (chunk: string) => {
    const at = performance.now();
    received += chunk;
    for (const [marker, done] of waiting) {
      if (received.includes(marker)) {
        waiting.delete(marker);
        done(at);
      }
    }
    received = received.slice(-4096);
  });
  let offset = 0;
  const watcher = watch(dir, () => {
    const fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    if (size > offset) {
      const buffer = Buffer.alloc(size - offset);
      readSync(fd, buffer, 0, buffer.length, offset);
      offset = size;
      sender?.write(buffer);
    }
    closeSync(fd);
  });
  return {
    arrival: marker => new Promise(resolve => waiting.set(marker, resolve)),
    close: () => {
      watcher.close();
      client.destroy();
      server.close();
    },
  };
}

export const serveFreshness: Benchmark = {
  name: 'serve',
  about: 'a line appended to events.jsonl → the SSE event at a client of orch serve, vs fs.watch → the same bytes over a local socket',
  async run(ctx) {
    const rounds = ctx.quick ? 20 : 100;
    const root = makeProject(join(ctx.workDir, 'project'), { workflow: { run: ['true'] } });
    const paths = statePaths(root);
    writeFileSync(paths.events, '');
    const floorDir = join(ctx.workDir, 'floor');
    mkdirSync(floorDir);
    const floorFile = join(floorDir, 'events.jsonl');
    writeFileSync(floorFile, '');
    const server = await startServer(paths);
    const { token } = JSON.parse(readFileSync(join(paths.machine, 'serve.json'), 'utf8')) as { token: string };
    const sse = await sseClient(server.port, token);
    const floor = await floorPipe(floorDir, floorFile);
    const samples = { orch: [] as number[], floor: [] as number[] };
    const line = (marker: string): string => `${JSON.stringify({ version: 1, at: new Date().toISOString(), run_id: 'bench', category: 'task', level: 'info', message: marker })}\n`;
    const once = async (arrival: Arrival, file: string, marker: string): Promise<number> => {
      const arrived = arrival(marker);
      const start = performance.now();
      appendFileSync(file, line(marker));
      return (await arrived) - start;
    };
    try {
      for (let i = 0; i <= rounds; i++) {
        const orchFirst = i % 2 === 0;
        const a = orchFirst ? await once(sse.arrival, paths.events, `orch-${i}`) : undefined;
        const b = await once(floor.arrival, floorFile, `floor-${i}`);
        const c = orchFirst ? a : await once(sse.arrival, paths.events, `orch-${i}`);
        if (i === 0 || c === undefined) continue; // warm-up
        samples.orch.push(c);
        samples.floor.push(b);
        await new Promise(resolve => setTimeout(resolve, 5)); // apart, so each is a fresh wake-up
      }
    } finally {
      sse.close();
      floor.close();
      await server.close();
    }
    const subject = summarize(samples.orch);
    const baseline = summarize(samples.floor);
    const ratio = subject.p99 / baseline.p99;
    const row: Row = {
      bench: 'serve',
      case: 'freshness: events.jsonl line → SSE event',
      unit: 'ms',
      subject,
      baseline,
      ratio: `${(subject.p50 / baseline.p50).toFixed(2)}× / ${ratio.toFixed(2)}×`,
      target: 'p99 ≤ 100 ms and ≤ 3× the floor',
      verdict: subject.p99 <= 100 && ratio <= 3 ? 'PASS' : 'FAIL',
      note: `${samples.orch.length} rounds interleaved; floor: fs.watch on the folder → the bytes read and written to a local TCP socket`,
    };
    return [row];
  },
};

/** VmRSS of `pid` in MiB (/proc/<pid>/status). */
function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find(l => l.startsWith('VmRSS:')) ?? '';
  return Number(/(\d+)/.exec(line)?.[1] ?? 0) / 1024;
}

/** Opens an SSE stream on `path` and reads (discarding) until `enough` bytes came, or forever if undefined. */
function streamClient(port: number, token: string, path: string, enough?: number): { done: Promise<void>; close: () => void } {
  let close = (): void => undefined;
  const done = new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { Host: `127.0.0.1:${port}`, Authorization: `Bearer ${token}` } }, res => {
      let got = 0;
      res.on('data', (chunk: Buffer) => {
        got += chunk.length;
        if (enough !== undefined && got >= enough) {
          req.destroy();
          resolve();
        }
      });
    });
    req.on('error', error => ((error as NodeJS.ErrnoException).code === 'ECONNRESET' || error.message.includes('aborted') ? resolve() : reject(error)));
    req.end();
    close = () => {
      req.destroy();
      resolve();
    };
  });
  return { done, close: () => close() };
}

export const serveMemory: Benchmark = {
  name: 'serve-memory',
  about: "orch serve's RSS while 3 clients stream a 50 MB agent log from its start, and with 100 idle event streams, beside its idle RSS",
  async run(ctx) {
    const megabytes = ctx.quick ? 10 : 50;
    const root = makeProject(join(ctx.workDir, 'project'), { workflow: { run: [process.execPath, '-e', "console.log('x')"] } });
    writeFileSync(join(root, '.isollm/tasks/A.json'), JSON.stringify({ goal: 'a log' }));
    await runOnce(root);
    const paths = statePaths(root);
    const record = JSON.parse(readFileSync(join(paths.records, 'A.json'), 'utf8')) as { attempts: { artifacts_dir: string }[] };
    const stdout = join(paths.stateDir, record.attempts[0]?.artifacts_dir ?? '', 'stdout.log');
    const line = Buffer.from(`${'agent output '.repeat(7)}\n`);
    const block = Buffer.concat(Array.from({ length: Math.ceil((1024 * 1024) / line.length) }, () => line));
    for (let i = 0; i < megabytes; i++) appendFileSync(stdout, block);
    const size = statSync(stdout).size;

    const child = spawn(process.execPath, [ORCH_CLI, 'serve', '--json'], { cwd: root, env: { ...process.env, ORCH_ROOT: '' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    try {
      const started = await new Promise<{ port: number }>((resolve, reject) => {
        const check = setInterval(() => {
          try {
            resolve(JSON.parse(out) as { port: number });
            clearInterval(check);
          } catch {
            if (child.exitCode !== null) reject(new Error(`orch serve ended: ${out}`));
          }
        }, 20);
      });
      const { token } = JSON.parse(readFileSync(join(paths.machine, 'serve.json'), 'utf8')) as { token: string };
      await new Promise(resolve => setTimeout(resolve, 300)); // settled after its start
      const idle = rssMiB(child.pid ?? 0);
      // First the idle streams (RSS seldom shrinks back: measured after the log, it would carry that peak).
      const idleStreams = Array.from({ length: 100 }, () => streamClient(started.port, token, '/api/v1/events'));
      await new Promise(resolve => setTimeout(resolve, 1000)); // all of them connected and idle
      const withIdle = rssMiB(child.pid ?? 0);
      for (const stream of idleStreams) stream.close();
      const before = rssMiB(child.pid ?? 0);
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(child.pid ?? 0))), 20);
      const readers = Array.from({ length: 3 }, () => streamClient(started.port, token, '/api/v1/tasks/A/attempts/1/stream', size));
      await Promise.all(readers.map(r => r.done));
      clearInterval(sampler);
      const streaming = idle + (peak - before);
      ctx.log(`serve-memory: idle ${idle.toFixed(1)} MiB, peak while streaming ${streaming.toFixed(1)} MiB, with 100 idle streams ${withIdle.toFixed(1)} MiB`);
      const row = (label: string, value: number, limit: number): Row => ({
        bench: 'serve-memory',
        case: label,
        unit: 'MiB',
        subject: summarize([value]),
        baseline: summarize([idle]),
        ratio: `+${(value - idle).toFixed(1)} MiB`,
        target: `≤ +${limit} MiB over idle`,
        verdict: value - idle <= limit ? 'PASS' : 'FAIL',
        note: `orch serve's own RSS (/proc), idle ${idle.toFixed(1)} MiB; the log: ${(size / 1024 / 1024).toFixed(0)} MB; the streaming peak is counted from the RSS right before it`,
      });
      return [row(`3 clients stream a ${megabytes} MB log from its start (peak)`, streaming, 20), row('100 idle event streams', withIdle, 30)];
    } finally {
      child.kill('SIGTERM');
    }
  },
};

export const serveState: Benchmark = {
  name: 'serve-state',
  about: 'GET /api/v1/state of orch serve at 10,000 tasks (HTTP, the server warm) vs `orch status --json` on the same state dir, interleaved',
  async run(ctx) {
    const count = ctx.quick ? 1000 : 10_000;
    const rounds = ctx.quick ? 5 : 15;
    const root = cachedProject(count, { workflow: { run: ['true'] }, workers: 2 }, ctx.log);
    const paths = statePaths(root);
    const server = await startServer(paths);
    const { token } = JSON.parse(readFileSync(join(paths.machine, 'serve.json'), 'utf8')) as { token: string };
    const samples = { api: [] as number[], cli: [] as number[] };
    const viaApi = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const start = performance.now();
        const req = request({ host: '127.0.0.1', port: server.port, path: '/api/v1/state', headers: { Host: `127.0.0.1:${server.port}`, Authorization: `Bearer ${token}` } }, res => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - start) : reject(new Error(`GET /api/v1/state: ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end();
      });
    const viaCli = async (): Promise<number> => {
      const run = await timeProcess([process.execPath, ORCH_CLI, 'status', '--json'], { cwd: root, env: { ...process.env, NO_COLOR: '1' } });
      if (run.code !== 0) throw new Error(`orch status --json exited ${run.code}: ${run.stderr.slice(-300)}`);
      return run.ms;
    };
    try {
      await viaApi();
      await viaCli(); // warm: the status cache is made, the page cache filled
      for (let i = 0; i < rounds; i++) {
        if (i % 2 === 0) {
          samples.api.push(await viaApi());
          samples.cli.push(await viaCli());
        } else {
          samples.cli.push(await viaCli());
          samples.api.push(await viaApi());
        }
      }
    } finally {
      await server.close();
    }
    return [
      p50RatioRow(
        { bench: 'serve-state', case: `GET /api/v1/state at ${count.toLocaleString('en')} tasks`, unit: 'ms', note: `${rounds} rounds interleaved; baseline: orch status --json (a process, the status cache in place)` },
        summarize(samples.api),
        summarize(samples.cli),
        1.2,
      ),
    ];
  },
};

// Freshness of `orch serve`'s events (issue 15): a line appended to events.jsonl → the event received by
// an SSE client over HTTP, against the floor measured in the same run, interleaved: fs.watch on the
// folder → the same bytes read and written to a local socket. Goal: p99 ≤ 100 ms and ≤ 3× the floor.
import { appendFileSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, watch, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { startServer } from '../src/serve/server.js';
import { statePaths } from '../src/store/paths.js';
import type { Benchmark } from './lib/context.js';
import { summarize, type Row } from './lib/stats.js';

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
    const root = join(ctx.workDir, 'project');
    for (const dir of ['tasks', 'inbox', 'state/tasks', 'state/workers', 'runs']) mkdirSync(join(root, '.isollm', dir), { recursive: true });
    writeFileSync(join(root, '.isollm/config.json'), JSON.stringify({ version: 1, project: 'bench', workflows: { default: { run: ['true'] } } }));
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

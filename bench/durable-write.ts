// Durable record write: the store's writeFileDurable, the whole fenced updateDocument a CLI decision does
// (lock, read + validate the record and the session, validate, write), and the same update under the
// session's ownership, which is what the engine does per transition since issue 16 (no lock dir), against
// the bare calls a durable replace is made of (open, write, fsync, close, rename, fsync of the dir),
// one ~2 KB task record each, every write timed on its own.
import { closeSync, constants as fsc, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { TaskRecord, TaskSpec } from '../src/generated/types.js';
import { writeFileDurable } from '../src/store/durable-write.js';
import { updateDocument, updateLocked } from '../src/store/fenced-update.js';
import { ownedByTheSession } from '../src/store/owned-file.js';
import { statePaths } from '../src/store/paths.js';
import { acquireSession } from '../src/store/session.js';
import type { Benchmark } from './lib/context.js';
import { doneRecord, makeProject, specText } from './lib/state-fixture.js';
import { p50RatioRow, summarize, type Row } from './lib/stats.js';

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

export const durableWrite: Benchmark = {
  name: 'durable-write',
  about: 'writeFileDurable and fenced updateDocument vs bare write+fsync+rename+fsync-dir',
  async run(ctx) {
    const count = ctx.quick ? 150 : 600;
    const root = makeProject(join(ctx.workDir, 'durable'), { workflow: { run: ['true'] } });
    const paths = statePaths(root);
    const spec: TaskSpec = { goal: 'a durable write' };
    const record = doneRecord('bench', Buffer.from(specText(spec)), spec, Date.now());
    const text = (i: number): string => `${JSON.stringify({ ...record, rev: i }, null, 2)}\n`;
    const rawDir = join(root, 'raw');
    mkdirSync(join(rawDir, 'tmp'), { recursive: true });
    const session = await acquireSession(paths);
    const fence = session.fence();
    const recordFile = join(paths.records, 'bench.json');
    await writeFileDurable(recordFile, text(1));
    const ownedFile = join(paths.records, 'owned.json');
    await writeFileDurable(ownedFile, text(1));
    const touch = (current: TaskRecord | undefined): TaskRecord | undefined => (current === undefined ? undefined : { ...current, updated_at: new Date().toISOString() });
    let tmp = 0;

    const loops = {
      'bare, sync calls': async (i: number) => {
        const temp = join(rawDir, 'tmp', `s${tmp++}.tmp`);
        const fd = openSync(temp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o644);
        writeSync(fd, text(i));
        fsyncSync(fd);
        closeSync(fd);
        renameSync(temp, join(rawDir, 'sync.json'));
        const dirFd = openSync(rawDir, fsc.O_RDONLY | fsc.O_DIRECTORY);
        fsyncSync(dirFd);
        closeSync(dirFd);
      },
      'bare, fs.promises': async (i: number) => {
        const temp = join(rawDir, 'tmp', `a${tmp++}.tmp`);
        const handle = await fs.open(temp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o644);
        await handle.write(text(i));
        await handle.sync();
        await handle.close();
        await fs.rename(temp, join(rawDir, 'async.json'));
        const dirHandle = await fs.open(rawDir, fsc.O_RDONLY | fsc.O_DIRECTORY);
        await dirHandle.sync();
        await dirHandle.close();
      },
      writeFileDurable: (i: number) => writeFileDurable(join(paths.records, 'durable.json'), text(i)),
      updateDocument: async (_i: number) => {
        await updateDocument('record', recordFile, touch, { fence, stateDir: paths.stateDir });
      },
      ownedUpdate: async (_i: number) => {
        await updateLocked('record', ownedFile, ownedByTheSession(ownedFile, fence), touch, { fence, stateDir: paths.stateDir });
      },
    } as const;
    type Name = keyof typeof loops;
    const samples = Object.fromEntries(Object.keys(loops).map(name => [name, [] as number[]])) as Record<Name, number[]>;
    try {
      for (const write of Object.values(loops)) for (let i = 0; i < 5; i++) await write(i); // warm-up
      // Write by write, in a shuffled order: fsync latency on a shared disk drifts within a second
      // (blocks of writes would hand one loop a quiet spell), and an fsync also commits what the
      // write before it left in the journal (a fixed order would always bill one loop for another).
      const names = Object.keys(loops) as Name[];
      for (let i = 0; i < count; i++) {
        for (const name of shuffled(names)) {
          const start = process.hrtime.bigint();
          await loops[name](i + 2);
          samples[name].push(Number(process.hrtime.bigint() - start) / 1e6);
        }
      }
    } finally {
      await session.release();
    }
    const floor = summarize(samples['bare, sync calls']);
    const promises = summarize(samples['bare, fs.promises']);
    ctx.log(`durable-write: bare sync p50 ${floor.p50.toFixed(2)} ms, bare fs.promises p50 ${promises.p50.toFixed(2)} ms`);
    const row = (name: Name, label: string): Row =>
      p50RatioRow(
        {
          bench: 'durable record write',
          case: label,
          unit: 'ms',
          note: `${samples[name].length} writes each, interleaved write by write; bare fs.promises loop: p50 ${promises.p50.toFixed(2)} ms, p99 ${promises.p99.toFixed(2)} ms`,
        },
        summarize(samples[name]),
        floor,
      );
    return [
      row('writeFileDurable', 'writeFileDurable (~2 KB record)'),
      row('updateDocument', 'fenced updateDocument (lock + read + validate + write)'),
      row('ownedUpdate', "the engine's record update: owned by the session, no lock (read + validate + write)"),
    ];
  },
};

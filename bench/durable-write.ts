// writeFileDurable against the bare calls it is made of (open, write, fsync, close, rename, fsync of
// the dir), N writes of a ~2 KB record each: what its checks and temp-dir bookkeeping cost. fsync
// latency dominates and drifts with the disk's load, so the three loops take turns in small rounds.
// Run: npx tsx bench/durable-write.ts [N]
import { closeSync, constants as fsc, fsyncSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileDurable } from '../src/store/durable-write.js';

const N = Number(process.argv[2] ?? 300);
const ROUNDS = 10;
const record = (i: number): string => JSON.stringify({ version: 1, rev: i, pad: 'x'.repeat(2000) });

const dir = mkdtempSync(join(tmpdir(), 'orch-bench-'));
mkdirSync(join(dir, 'raw-tmp'));
const target = (name: string): string => join(dir, `${name}.json`);
const tempOf = (name: string, i: number): string => join(dir, 'raw-tmp', `${name}.${i}.tmp`);

const loops: Record<string, (i: number) => Promise<void>> = {
  writeFileDurable: i => writeFileDurable(target('durable'), record(i)),
  'bare, sync calls': async i => {
    const fd = openSync(tempOf('sync', i), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o644);
    writeSync(fd, record(i));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tempOf('sync', i), target('sync'));
    const dirFd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
    fsyncSync(dirFd);
    closeSync(dirFd);
  },
  'bare, fs.promises': async i => {
    const handle = await fs.open(tempOf('async', i), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o644);
    await handle.write(record(i));
    await handle.sync();
    await handle.close();
    await fs.rename(tempOf('async', i), target('async'));
    const dirHandle = await fs.open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
    await dirHandle.sync();
    await dirHandle.close();
  },
};

try {
  const seconds: Record<string, number> = Object.fromEntries(Object.keys(loops).map(name => [name, 0]));
  for (const write of Object.values(loops)) for (let i = 0; i < 10; i++) await write(-1 - i); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, write] of Object.entries(loops)) {
      const start = process.hrtime.bigint();
      for (let i = round * (N / ROUNDS); i < (round + 1) * (N / ROUNDS); i++) await write(i);
      seconds[name] = (seconds[name] ?? 0) + Number(process.hrtime.bigint() - start) / 1e9;
    }
  }
  const rate = (name: string): number => N / (seconds[name] ?? Number.NaN);
  for (const name of Object.keys(loops)) {
    console.log(`${name.padEnd(18)} ${rate(name).toFixed(0).padStart(6)} writes/s  ${((1000 * (seconds[name] ?? 0)) / N).toFixed(2)} ms a write`);
  }
  const durable = rate('writeFileDurable');
  console.log(`ratio writeFileDurable / bare: ${(durable / rate('bare, sync calls')).toFixed(2)} (sync), ${(durable / rate('bare, fs.promises')).toFixed(2)} (fs.promises)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

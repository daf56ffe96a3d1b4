// The floor for throughput: per task, the same number of durable writes, log appends and spawns as
// orch did (measured from its records and logs), 8 tasks in flight. Each phase: its share of the
// writes, spawn the phase's command in its own group and wait for it, then its share of the appends.
// Run: node throughput-floor.mjs '<plan as JSON>' (see bench/throughput.ts); prints elapsed ms.
import { spawn } from 'node:child_process';
import { constants as fsc, promises as fs } from 'node:fs';
import { join } from 'node:path';

const plan = JSON.parse(process.argv[2]);
const { dir, tasks, inFlight, writes, appends, spawns } = plan;
const records = join(dir, 'records');
await fs.mkdir(join(records, '.tmp'), { recursive: true });
let counter = 0;

async function durableWrite(target, text) {
  const temp = join(records, '.tmp', `${counter++}.tmp`);
  const handle = await fs.open(temp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o644);
  await handle.write(text);
  await handle.sync();
  await handle.close();
  await fs.rename(temp, target);
  const dirHandle = await fs.open(records, fsc.O_RDONLY | fsc.O_DIRECTORY);
  await dirHandle.sync();
  await dirHandle.close();
}

async function append(path, line) {
  const handle = await fs.open(path, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT, 0o644);
  await handle.write(line);
  await handle.close();
}

function run(argv, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore', detached: true, env: { ...process.env, ...env } });
    child.on('error', reject);
    child.on('exit', resolve);
  });
}

/** Spreads `total` over `parts` as evenly as possible. */
const share = (total, parts, i) => Math.floor((total * (i + 1)) / parts) - Math.floor((total * i) / parts);

async function runTask(i) {
  const id = `t${i}`;
  const record = join(records, `${id}.json`);
  const result = join(dir, `${id}.result.json`);
  for (let p = 0; p < spawns.length; p++) {
    for (let w = 0; w < share(writes, spawns.length, p); w++) await durableWrite(record, JSON.stringify({ id, rev: w, pad: 'x'.repeat(1500) }));
    await run(spawns[p], { ORCH_TASK_ID: id, ORCH_RESULT_FILE: result });
    for (let a = 0; a < share(appends, spawns.length, p); a++) await append(join(dir, a % 2 === 0 ? 'log.md' : 'events.jsonl'), `- ${new Date().toISOString()} ${id} phase ${p}\n`);
  }
}

const start = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (next < tasks) await runTask(next++);
  }),
);
process.stdout.write(`${(performance.now() - start).toFixed(1)}\n`);

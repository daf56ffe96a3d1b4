// One parent at one heap size, for the spawn-cost benchmark: grows its V8 heap with live packed double
// arrays to the asked size, says "ready <heap MiB> <rss MiB>", then for each line read on stdin
// ("raw" or "orch") spawns `true` once and answers with the milliseconds it took: raw
// child_process.spawn from the call to 'exit' (plus the synchronous spawn() call alone, where libuv
// forks), or orch's runner (runCommand from the built dist/: execa, own process group, output to files)
// from the call to its outcome. Run: node --max-old-space-size=4096 spawn-heap.mjs <MiB> <scratch dir>
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { runCommand } from '../../dist/src/runner/run-command.js';

const [mibArg, dir] = process.argv.slice(2);
mkdirSync(dir, { recursive: true });
const keep = [];
const CHUNK = 1 << 20; // 1M doubles: 8 MiB a chunk
while (process.memoryUsage().heapUsed / 2 ** 20 < Number(mibArg)) keep.push(new Array(CHUNK).fill(Math.random()));

function raw() {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn('true', [], { stdio: 'ignore' });
    const sync = performance.now() - start;
    child.on('error', reject);
    child.on('exit', () => resolve(`${performance.now() - start} ${sync}`));
  });
}

let n = 0;
async function orch() {
  const start = performance.now();
  n += 1;
  const outcome = await runCommand({
    argv: ['true'],
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    stdoutPath: join(dir, `${n}.out`),
    stderrPath: join(dir, `${n}.err`),
    outputCapBytes: 1 << 20,
  });
  if (outcome.reason !== 'succeeded') throw new Error(`runCommand: ${outcome.reason} ${outcome.error ?? ''}`);
  return `${performance.now() - start}`;
}

const mib = (bytes) => Math.round(bytes / 2 ** 20);
process.stdout.write(`ready ${mib(process.memoryUsage().heapUsed)} ${mib(process.memoryUsage().rss)} ${keep.length}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  process.stdout.write(`${line === 'raw' ? await raw() : await orch()}\n`);
}

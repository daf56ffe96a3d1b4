// `npm run bench`: every benchmark of issue 6, each figure beside a baseline measured in the same
// run, medians and p99, the ratio, and the target with PASS or FAIL; then the results as a markdown
// table (with the machine), ready for docs/benchmarks.md.
//
//   npm run bench                        the full run (about 10 minutes)
//   npm run bench -- --quick             fewer repetitions, smaller sets (under a minute)
//   npm run bench -- --only drop-to-start,cold-start
//   npm run bench -- --markdown out.md   also write the machine and the table to out.md
//   npm run bench -- --profile           CPU profiles and system-call counts of the hot paths instead
//   npm run bench -- --keep              keep the scratch dir
//
// Measures the built CLI (dist/): it is built first when missing; a dist/ older than src/ is reported.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { coldStart } from './cold-start.js';
import { dropToStart } from './drop-to-start.js';
import { durableWrite } from './durable-write.js';
import type { Benchmark } from './lib/context.js';
import { describeMachine, loadAverage, machineInfo } from './lib/machine.js';
import { ORCH_CLI, REPO } from './lib/proc.js';
import { markdownTable, rowLine, type Row } from './lib/stats.js';
import { runProfiles } from './profile.js';
import { scale } from './scale.js';
import { spawnHeap } from './spawn-heap.js';
import { throughput } from './throughput.js';
import { mergeQueue, worktree } from './worktree.js';
import { serveFreshness, serveMemory, serveState } from './serve.js';
import { sshDispatch } from './ssh-dispatch.js';
import { sshConcurrency } from './ssh-concurrency.js';

const BENCHMARKS: readonly Benchmark[] = [dropToStart, throughput, durableWrite, coldStart, scale, spawnHeap, worktree, mergeQueue, serveFreshness, serveMemory, serveState, sshDispatch, sshConcurrency];

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds dist/ when it is missing; says so when src/ changed after it was built. */
function checkBuild(log: (line: string) => void): string | undefined {
  if (!existsSync(ORCH_CLI)) {
    log('dist/ is missing: building it (npm run build)');
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: 'inherit' });
    return undefined;
  }
  if (newestMtime(join(REPO, 'src')) > statSync(ORCH_CLI).mtimeMs) {
    return 'dist/ is older than src/: these figures are of the last build (run `npm run build` first)';
  }
  return undefined;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      markdown: { type: 'string' },
      profile: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const log = (line: string): void => void process.stderr.write(`  · ${line}\n`);
  const stale = checkBuild(log);
  const scratch = mkdtempSync(join(tmpdir(), 'orch-bench-'));
  const machine = machineInfo(scratch);
  const started = Date.now();
  console.log(`orch benchmarks${values.quick ? ' (--quick)' : ''}: ${describeMachine(machine)}`);
  if (stale !== undefined) console.log(`WARNING: ${stale}`);
  try {
    if (values.profile) {
      for (const text of await runProfiles({ quick: values.quick, workDir: scratch, log })) console.log(`\n${text}`);
      return 0;
    }
    const only = values.only?.split(',').map(name => name.trim());
    const selected = only === undefined ? BENCHMARKS : BENCHMARKS.filter(b => only.includes(b.name));
    if (only !== undefined && selected.length !== only.length) {
      console.error(`unknown benchmark in --only ${values.only}; known: ${BENCHMARKS.map(b => b.name).join(', ')}`);
      return 2;
    }
    const rows: Row[] = [];
    const failures: string[] = [];
    for (const bench of selected) {
      const t0 = Date.now();
      log(`${bench.name}: ${bench.about}`);
      const workDir = join(scratch, bench.name);
      try {
        const got = await bench.run({ quick: values.quick, workDir, log });
        for (const row of got) console.log(rowLine(row));
        rows.push(...got);
      } catch (error) {
        failures.push(`${bench.name}: ${(error as Error).stack ?? String(error)}`);
        console.log(`ERROR ${bench.name}: ${(error as Error).message}`);
      } finally {
        if (!values.keep) rmSync(workDir, { recursive: true, force: true });
      }
      log(`${bench.name} took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    const seconds = (Date.now() - started) / 1000;
    const header = [
      `Machine: ${describeMachine(machine)}; load average at the end ${loadAverage()}.`,
      `Command: \`npm run bench${values.quick ? ' -- --quick' : ''}\`${only === undefined ? '' : ` (--only ${values.only})`}, ${seconds.toFixed(0)} s, ${new Date().toISOString()}.`,
    ];
    const table = markdownTable(rows);
    const notes = rows.filter(r => r.note !== undefined).map(r => `- ${r.bench} / ${r.case}: ${r.note}`);
    console.log(`\n${header.join('\n')}\n\n${table}\n\n${notes.join('\n')}`);
    if (values.markdown !== undefined) writeFileSync(values.markdown, `${header.join('\n')}\n\n${table}\n\n${notes.join('\n')}\n`);
    for (const failure of failures) console.error(`\n${failure}`);
    return failures.length > 0 || rows.some(row => row.verdict === 'ERROR') ? 1 : 0;
  } finally {
    if (values.keep) console.error(`scratch kept in ${scratch}`);
    else rmSync(scratch, { recursive: true, force: true });
  }
}

process.exitCode = await main();

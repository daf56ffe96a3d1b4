// Cold start of the read commands users type most: `orch status` and `orch --review` (the built CLI)
// on a project of 20 finished tasks, against `node -e 0` in the same run. The three are spawned in
// turn, in a shuffled order each round, and timed from spawn() to exit.
import { join } from 'node:path';
import type { Benchmark } from './lib/context.js';
import { ORCH_CLI, timeProcess } from './lib/proc.js';
import { makeProject, populate } from './lib/state-fixture.js';
import { summarize, type Row } from './lib/stats.js';

const ALLOWANCE_MS = 30;

const signed = (ms: number): string => `${ms >= 0 ? '+' : '−'}${Math.abs(ms).toFixed(1)}`;

export const coldStart: Benchmark = {
  name: 'cold-start',
  about: '`orch status` and `orch --review` from spawn to exit vs `node -e 0`',
  async run(ctx) {
    const reps = ctx.quick ? 10 : 40;
    const root = makeProject(join(ctx.workDir, 'cold'), { workflow: { run: ['true'] } });
    populate(root, 20);
    const commands = {
      node: [process.execPath, '-e', '0'],
      status: [process.execPath, ORCH_CLI, 'status'],
      review: [process.execPath, ORCH_CLI, '--review'],
    } as const;
    type Name = keyof typeof commands;
    const samples: Record<Name, number[]> = { node: [], status: [], review: [] };
    const env = { ...process.env, NO_COLOR: '1' };
    for (let i = -2; i < reps; i++) {
      const names = (Object.keys(commands) as Name[]).sort(() => Math.random() - 0.5);
      for (const name of names) {
        const run = await timeProcess(commands[name], { cwd: root, env });
        if (run.code !== 0) throw new Error(`${commands[name].join(' ')} exited ${run.code}: ${run.stderr.slice(-500)}`);
        if (i >= 0) samples[name].push(run.ms);
      }
    }
    const node = summarize(samples.node);
    const row = (name: 'status' | 'review', label: string): Row => {
      const subject = summarize(samples[name]);
      const over = subject.p50 - node.p50;
      return {
        bench: 'cold start',
        case: label,
        unit: 'ms',
        subject,
        baseline: node,
        ratio: `${signed(over)} ms / ${signed(subject.p99 - node.p99)} ms`,
        target: `≤ node + ${ALLOWANCE_MS} ms (p50)`,
        verdict: over <= ALLOWANCE_MS ? 'PASS' : 'FAIL',
        note: `${subject.n} runs each, shuffled; 20 tasks in the project; baseline is \`node -e 0\``,
      };
    };
    ctx.log(`cold start: node p50 ${node.p50.toFixed(1)} ms`);
    return [row('status', '`orch status`'), row('review', '`orch --review`')];
  },
};

// Worktree prepare and removal (issue 14): what orch does to give a task its worktree (ensureWorktree:
// list, prune, branch check, `git worktree add --lock`; then the reset to the last checkpoint every
// attempt gets) and to remove it (status check, unlock, remove), against a bare `git worktree add` and
// a bare `git worktree remove` of the same repository of 2,000 files, measured in the same run,
// interleaved one by one.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureWorktree, removeWorktreeIfClean, resetToCheckpoint } from '../src/worktree/task-worktree.js';
import { landMerge, prepareMerge } from '../src/worktree/merge-queue.js';
import type { Benchmark } from './lib/context.js';
import { p50RatioRow, summarize, type Row } from './lib/stats.js';

const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' };

/** A repository of `files` small files in 40 folders, one commit. */
function makeRepo(dir: string, files: number): { repo: string; base: string } {
  const repo = join(dir, 'repo');
  for (let i = 0; i < files; i++) {
    const folder = join(repo, `src${i % 40}`);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, `file${i}.ts`), `export const value${i} = ${i};\n`.repeat(20));
  }
  execFileSync('git', ['init', '--quiet', '--initial-branch=main'], { cwd: repo });
  execFileSync('git', ['add', '.'], { cwd: repo });
  execFileSync('git', ['commit', '--quiet', '-m', 'init'], { cwd: repo, env: GIT_ENV });
  return { repo, base: execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim() };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export const worktree: Benchmark = {
  name: 'worktree',
  about: 'a task worktree made (ensureWorktree + reset) and removed, vs bare git worktree add / remove, 2,000 files',
  async run(ctx) {
    const rounds = ctx.quick ? 5 : 25;
    const { repo, base } = makeRepo(ctx.workDir, 2000);
    const root = join(ctx.workDir, 'worktrees');
    const samples = { add: [] as number[], bareAdd: [] as number[], remove: [] as number[], bareRemove: [] as number[] };
    for (let i = 0; i < rounds + 1; i++) {
      const plan = { path: join(root, `orch-${i}`), branch: `orch/t${i}`, base_sha: base };
      const bare = join(root, `bare-${i}`);
      // Alternate which goes first: the page cache warmed by one must not always favour the other.
      const orchFirst = i % 2 === 0;
      const addOrch = () => timed(async () => {
        await ensureWorktree(repo, plan);
        await resetToCheckpoint(repo, plan);
      });
      const addBare = () => timed(async () => execFileSync('git', ['worktree', 'add', '--quiet', '-b', `bare/${i}`, bare, base], { cwd: repo }));
      const [a, b] = orchFirst ? [await addOrch(), await addBare()] : [await addBare(), await addOrch()].reverse() as [number, number];
      const removeOrch = () => timed(() => removeWorktreeIfClean(repo, plan));
      const removeBare = () => timed(async () => execFileSync('git', ['worktree', 'remove', bare], { cwd: repo }));
      const [c, d] = orchFirst ? [await removeOrch(), await removeBare()] : [await removeBare(), await removeOrch()].reverse() as [number, number];
      if (i === 0) continue; // warm-up
      samples.add.push(a);
      samples.bareAdd.push(b);
      samples.remove.push(c);
      samples.bareRemove.push(d);
    }
    const row = (label: string, subjectSamples: number[], baseSamples: number[], baseline: string): Row =>
      p50RatioRow(
        { bench: 'worktree', case: label, unit: 'ms', note: `2,000 files; ${subjectSamples.length} rounds, orch and bare interleaved; baseline: ${baseline}` },
        summarize(subjectSamples),
        summarize(baseSamples),
      );
    ctx.log(`worktree: bare add p50 ${summarize(samples.bareAdd).p50.toFixed(1)} ms, bare remove p50 ${summarize(samples.bareRemove).p50.toFixed(1)} ms`);
    return [
      row('prepare (ensureWorktree + reset to checkpoint)', samples.add, samples.bareAdd, 'git worktree add -b'),
      row('removal (removeWorktreeIfClean)', samples.remove, samples.bareRemove, 'git worktree remove'),
    ];
  },
};

/** A branch `name` off `base` with one commit adding `path` (plumbing: no worktree, a private index). */
function makeBranch(repo: string, base: string, name: string, path: string, index: string): void {
  const env = { ...GIT_ENV, GIT_INDEX_FILE: index };
  const run = (...args: string[]): string => execFileSync('git', args, { cwd: repo, env, encoding: 'utf8' }).trim();
  run('read-tree', base);
  const blob = execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: repo, encoding: 'utf8', input: `content of ${path}\n` }).trim();
  run('update-index', '--add', '--cacheinfo', `100644,${blob},${path}`);
  const commit = run('commit-tree', run('write-tree'), '-p', base, '-m', name);
  run('update-ref', `refs/heads/${name}`, commit);
}

export const mergeQueue: Benchmark = {
  name: 'merge-queue',
  about: 'one task merged by the queue (prepareMerge + landMerge, no gate) vs bare git merge-tree + commit-tree + update-ref, 2,000 files',
  async run(ctx) {
    const rounds = ctx.quick ? 5 : 25;
    const { repo, base } = makeRepo(ctx.workDir, 2000);
    const index = join(ctx.workDir, 'bench-index');
    for (let i = 0; i <= rounds; i++) {
      makeBranch(repo, base, `orch/t${i}`, `src${i % 40}/orch-new${i}.ts`, index);
      makeBranch(repo, base, `bare/t${i}`, `src${i % 40}/bare-new${i}.ts`, index);
    }
    execFileSync('git', ['update-ref', 'refs/heads/bare/integration', base], { cwd: repo });
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: repo, env: GIT_ENV, encoding: 'utf8' }).trim();
    const samples = { orch: [] as number[], bare: [] as number[] };
    for (let i = 0; i <= rounds; i++) {
      const plan = { path: join(ctx.workDir, 'unused'), branch: `orch/t${i}`, base_sha: base };
      const viaOrch = () => timed(async () => {
        const prepared = await prepareMerge(repo, plan, 'orch/integration', `merge t${i}`);
        if (prepared.kind !== 'ready' || !(await landMerge(repo, prepared, `merge t${i}`))) throw new Error(`merge of t${i} did not land: ${prepared.kind}`);
      });
      const bare = () => timed(async () => {
        const tip = git('rev-parse', 'refs/heads/bare/integration');
        const tree = git('merge-tree', '--write-tree', tip, `refs/heads/bare/t${i}`);
        const commit = git('commit-tree', tree, '-p', tip, '-p', `refs/heads/bare/t${i}`, '-m', `merge t${i}`);
        git('update-ref', 'refs/heads/bare/integration', commit, tip);
      });
      const [a, b] = i % 2 === 0 ? [await viaOrch(), await bare()] : ([await bare(), await viaOrch()].reverse() as [number, number]);
      if (i === 0) continue; // warm-up
      samples.orch.push(a);
      samples.bare.push(b);
    }
    ctx.log(`merge-queue: bare merge p50 ${summarize(samples.bare).p50.toFixed(1)} ms`);
    return [
      p50RatioRow(
        { bench: 'merge-queue', case: 'merge per task (prepare + compare-and-swap, no gate)', unit: 'ms', note: `2,000 files; ${samples.orch.length} rounds, orch and bare interleaved; baseline: git merge-tree + commit-tree + update-ref` },
        summarize(samples.orch),
        summarize(samples.bare),
        1.5,
      ),
    ];
  },
};

// Spawn cost with a large orchestrator heap: does starting a command get slower as the parent's
// memory grows? (libuv 1.46 in Node 20 forks with a plain clone(SIGCHLD), which copies the parent's
// page tables.) One parent process per heap size (baselines/spawn-heap.mjs), all alive at once; the
// driver asks them in turn, shuffled, to spawn `true` with raw child_process.spawn or with orch's
// runCommand, one spawn at a time, so machine noise hits every size and both ways alike.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Benchmark } from './lib/context.js';
import { fmt, ratio, summarize, type Row } from './lib/stats.js';

const WORKER = fileURLToPath(new URL('./baselines/spawn-heap.mjs', import.meta.url));
/** "Flat": the figure at a big heap within this factor of the same figure at the small heap. */
const FLAT = 1.25;

interface Parent {
  askedMiB: number;
  heapMiB: number;
  rssMiB: number;
  child: ChildProcessWithoutNullStreams;
  lines: AsyncIterator<string>;
  raw: number[];
  rawSync: number[];
  orch: number[];
}

async function startParent(askedMiB: number, dir: string): Promise<Parent> {
  const child = spawn(process.execPath, ['--max-old-space-size=4096', WORKER, String(askedMiB), dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  const rl: Interface = createInterface({ input: child.stdout });
  const lines = rl[Symbol.asyncIterator]();
  const first = await lines.next();
  const [word, heap, rss] = String(first.value ?? '').split(' ');
  if (word !== 'ready') throw new Error(`spawn-heap parent (${askedMiB} MiB) did not start: ${String(first.value)}`);
  return { askedMiB, heapMiB: Number(heap), rssMiB: Number(rss), child, lines, raw: [], rawSync: [], orch: [] };
}

async function ask(parent: Parent, what: 'raw' | 'orch'): Promise<string[]> {
  parent.child.stdin.write(`${what}\n`);
  const answer = await parent.lines.next();
  if (answer.done === true) throw new Error(`spawn-heap parent (${parent.askedMiB} MiB) exited`);
  return String(answer.value).split(' ');
}

export const spawnHeap: Benchmark = {
  name: 'spawn-heap',
  about: 'spawn `true` from parents with a small, 500 MiB, 1 GiB and 2 GiB heap: orch runCommand vs raw spawn',
  async run(ctx) {
    const levelsMiB = ctx.quick ? [0, 500] : [0, 500, 1000, 2000];
    const reps = ctx.quick ? 20 : 60;
    const parents: Parent[] = [];
    try {
      for (const mib of levelsMiB) parents.push(await startParent(mib, join(ctx.workDir, `spawn-${mib}`)));
      for (let i = -3; i < reps; i++) {
        const jobs = parents.flatMap(p => [[p, 'raw'], [p, 'orch']] as const).sort(() => Math.random() - 0.5);
        for (const [parent, what] of jobs) {
          const [ms, sync] = (await ask(parent, what)).map(Number);
          if (i < 0) continue;
          if (what === 'raw') {
            parent.raw.push(ms ?? Number.NaN);
            parent.rawSync.push(sync ?? Number.NaN);
          } else parent.orch.push(ms ?? Number.NaN);
        }
      }
    } finally {
      for (const parent of parents) parent.child.kill();
    }
    const small = parents[0];
    if (small === undefined) throw new Error('spawn-heap: no parents');
    const rawSmall = summarize(small.raw);
    const orchSmall = summarize(small.orch);
    const syncSmall = summarize(small.rawSync);
    return parents.map((parent): Row => {
      const orch = summarize(parent.orch);
      const raw = summarize(parent.raw);
      const sync = summarize(parent.rawSync);
      const growth = ratio(orch.p50, orchSmall.p50);
      ctx.log(`spawn-heap ${parent.heapMiB} MiB heap (RSS ${parent.rssMiB} MiB): orch p50 ${orch.p50.toFixed(2)} ms, raw p50 ${raw.p50.toFixed(2)} ms, spawn() call p50 ${sync.p50.toFixed(2)} ms`);
      return {
        bench: 'spawn with a large heap',
        case: `orch runCommand, heap ${parent.heapMiB} MiB (RSS ${parent.rssMiB} MiB)`,
        unit: 'ms',
        subject: orch,
        baseline: rawSmall,
        ratio: `${ratio(orch.p50, rawSmall.p50).toFixed(2)}× (own small-heap p50: ${growth.toFixed(2)}×)`,
        target: `flat: ≤ ${FLAT}× its small-heap p50`,
        verdict: growth <= FLAT ? 'PASS' : 'FAIL',
        note:
          `${orch.n} spawns each; raw spawn at this heap: p50 ${fmt(raw.p50, 'ms')} ms (${ratio(raw.p50, rawSmall.p50).toFixed(2)}× the small heap's); ` +
          `the synchronous spawn() call alone: p50 ${fmt(sync.p50, 'ms')} ms (small heap ${fmt(syncSmall.p50, 'ms')} ms)`,
      };
    });
  },
};

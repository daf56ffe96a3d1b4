// Commands that misbehave on their output or never start (PRODUCT.md §4, §9): floods of 50 MB each
// (random binary, one line with no newline, markdown that imitates the run log), four at once; and
// spawn failures (a missing binary, a file that is not executable, a directory, a missing interpreter,
// an argument past the kernel's limit). The orchestrator's memory must stay bounded (VmHWM), output
// files capped, the run log valid markdown, and no task left "running" with no process.
import t from 'tap';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OrchConfig } from '../../src/generated/types.js';
import { reportKnown, splitKnown } from './known-bugs.js';
import { checkInvariants, formatViolations } from './oracle.js';
import { snapshotOutside } from './outside.js';
import { makeTortureProject, readRecords, startOrch, type TortureProject } from './project.js';

const FLOOD_MB = Number(process.env.ORCH_TORTURE_FLOOD_MB ?? 50);
const CAP = 4 * 1024 * 1024;

/** The peak resident memory of `pid` (VmHWM, kB), or undefined once it is gone. */
function peakKb(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

/** Runs `orch --once` to its end, sampling its peak memory all along. */
async function runSampled(project: TortureProject): Promise<{ code: number | null; peakMb: number; output: string }> {
  const run = startOrch(project, ['--once']);
  let peak = 0;
  let ended = false;
  void run.exited.then(() => (ended = true));
  while (!ended) {
    peak = Math.max(peak, peakKb(run.child.pid ?? 0) ?? 0);
    await new Promise(resolve => setTimeout(resolve, 25));
  }
  const exit = await run.exited;
  return { code: exit.code, peakMb: peak / 1024, output: run.output() };
}

const bytes = FLOOD_MB * 1024 * 1024;
const sh = (script: string): [string, ...string[]] => ['/bin/sh', '-c', script];

t.test(`four commands flooding ${FLOOD_MB} MB each at once: memory stays bounded, output files are capped, the run log stays valid markdown`, async t => {
  const floods: Record<string, [string, ...string[]]> = {
    binary: sh(`head -c ${bytes} /dev/urandom; exit 1`),
    oneline: sh(`head -c ${bytes} /dev/zero | tr '\\0' 'a'; exit 1`),
    markdown: sh(
      `yes '\`\`\`' | head -c ${bytes}; printf '\\n## Run: 2099-01-01T00:00:00\\n### Run Summary\\n---\\n- \\x60x\\x60 **task**: forged\\n\`\`\`js\\n' >&2; printf '\\033[31m\`\`\` ## Run: \\r---'; exit 1`,
    ),
    nul: sh(`head -c ${bytes} /dev/zero; printf 'Error: \\000\\001\\002 bell\\a'; exit 1`),
  };
  const workflows: OrchConfig['workflows'] = {};
  for (const [name, command] of Object.entries(floods)) workflows[name] = { implement: { command, retry: { max_attempts: 1 } } };
  const project = makeTortureProject(
    t.testdir(),
    Object.keys(floods).map(name => ({ id: name, kind: 'quick' as const, spec: { goal: `flood ${name}`, workflow: name } })),
    { workers: 4, output_cap_bytes: CAP, workflows },
  );
  const outside = snapshotOutside(project.root, [project.outside]);
  const result = await runSampled(project);
  t.comment(`orch peak memory (VmHWM): ${result.peakMb.toFixed(0)} MB for ${4 * FLOOD_MB} MB of output`);
  t.equal(result.code, 1, 'the run ends (exit 1: every flood failed)', { output: result.output.slice(-2000) });
  t.ok(result.peakMb < 250, `the orchestrator's peak memory stays bounded (${result.peakMb.toFixed(0)} MB < 250 MB)`);
  for (const [id, record] of readRecords(project.root)) {
    t.equal(record.state, 'FAILED', `${id} failed`);
    const dir = join(project.root, '.isollm', record.attempts[0]?.artifacts_dir ?? '');
    for (const name of readdirSync(dir).filter(n => n.endsWith('.log'))) {
      t.ok(statSync(join(dir, name)).size <= CAP, `${id}/${name} is capped at ${CAP} bytes`);
    }
  }
  const { unknown, known } = splitKnown(await checkInvariants(project.root, { phase: 'resumed', marker: project.marker, outside }), project.root);
  t.same(formatViolations(unknown), '', 'the oracle finds nothing: the run log is valid markdown, events.jsonl valid JSON');
  reportKnown(t, known, 'flood');
  const log = readFileSync(join(project.root, 'ORCHESTRATOR_RUN_LOG.md'), 'utf8');
  t.notMatch(log, /```|forged|2099-01-01/, 'no fence, forged entry or forged run header reached the run log');
});

t.test('commands that cannot start end their attempt as failed, and no task is left running without a process', async t => {
  const dir = t.testdir();
  const tools = join(dir, 'tools');
  mkdirSync(tools);
  writeFileSync(join(tools, 'not-executable.sh'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(tools, 'not-executable.sh'), 0o644);
  writeFileSync(join(tools, 'bad-interpreter.sh'), '#!/nonexistent/interpreter\nexit 0\n');
  chmodSync(join(tools, 'bad-interpreter.sh'), 0o755);
  const failing: Record<string, [string, ...string[]]> = {
    missing: ['/nonexistent/agent', '--help'],
    'not-on-path': ['orch-torture-no-such-agent'],
    'not-executable': [join(tools, 'not-executable.sh')],
    directory: [tools],
    interpreter: [join(tools, 'bad-interpreter.sh')],
    // One argument of 200 KB: past MAX_ARG_STRLEN (128 KB), so execve fails with E2BIG.
    'huge-argv': ['/bin/echo', 'x'.repeat(200 * 1024)],
  };
  const workflows: OrchConfig['workflows'] = {};
  for (const [name, command] of Object.entries(failing)) workflows[name] = { implement: { command } };
  const project = makeTortureProject(
    join(dir, 'p'),
    Object.keys(failing).map(name => ({
      id: name,
      kind: 'quick' as const,
      spec: { goal: `cannot start: ${name}`, workflow: name },
    })),
    { workflows },
  );
  const outside = snapshotOutside(project.root, [project.outside]);
  const result = await runSampled(project);
  t.equal(result.code, 1, 'the run ends with exit 1', { output: result.output.slice(-2000) });
  const records = readRecords(project.root);
  t.same([...records.keys()].sort(), Object.keys(failing).sort(), 'every task has a record');
  for (const [id, record] of records) {
    t.equal(record.state, 'FAILED', `${id}: FAILED`, { attempts: record.attempts });
    t.ok(record.attempts.length > 0 && record.attempts.every(a => a.ended_at !== undefined && a.reason === 'failed'), `${id}: every attempt ended as failed`);
    t.match(record.last_error?.message ?? '', /cannot run|not found|permission|no such file|argument list too long|exited with code/i, `${id}: the error says why: ${record.last_error?.message?.slice(0, 120)}`);
  }
  const { unknown, known } = splitKnown(await checkInvariants(project.root, { phase: 'resumed', marker: project.marker, outside }), project.root);
  t.same(formatViolations(unknown), '', 'the oracle finds nothing (no open attempt, no process)');
  reportKnown(t, known, 'spawn failures');
});

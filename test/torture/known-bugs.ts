// Bugs the torture suite found that are not fixed yet (no tests of its own). A violation that one of
// them explains is reported as a `todo` instead of a failure, so the suite stays green and still says
// each time it sees one; everything else fails. Remove an entry once its fix is in: the tests then
// hold the line. docs/reliability.md describes each bug and its fix.
import type { Test } from 'tap';
import { readFileSync } from 'node:fs';
import type { Violation } from './oracle.js';
import { projectPaths } from './project.js';

export const KNOWN_BUGS = {
  'spawn-window':
    'a crash between spawning a command and writing its identity leaves the command running untracked: --resume cannot stop it (src/runtime/attempt.ts, src/runner/run-command.ts)',
  'read-replaced':
    'readTextFile fails (ORCH_NOT_REGULAR_FILE "it was replaced while being opened") when it races the durable writer\'s rename of the file, the normal case of an atomic write (a heartbeat, any record write) (src/store/read-file.ts)',
  'lost-event':
    'Engine.apply reports and drops an event whose record write failed (a racing read, ENOSPC, EROFS): an attempt\'s end is lost, the task keeps an open attempt with no process, `--once` ends (exit 0) with it unfinished and watch mode never finishes it; a failed identity write lets the command run untracked (src/runtime/engine.ts)',
  'session-hard-link':
    'a crash between link() and unlink() in createFileExclusive leaves session.json with two links: every later orch refuses to read it and exits 2 (src/store/durable-write.ts, src/store/session.ts)',
  'write-fault-crash':
    'on a full or read-only disk the orchestrator dies of an unhandled rejection (Engine.launch\'s catch handler writes the worker record, and that write fails too), leaving its session "running" and its attempts open (src/runtime/engine.ts)',
  'spawn-emfile-crash':
    'a spawn that fails with EMFILE (too many open files) emits an "error" event nobody listens to, and the orchestrator dies, its commands orphaned (src/runner/run-command.ts)',
  'torn-append':
    'an append to events.jsonl or the run log that the disk cuts short (ENOSPC) leaves its partial line in the file: a line that is not JSON, an entry that breaks the markdown (src/runlog/run-log.ts)',
  'self-edit-race':
    'Engine.apply updates its copy of a record only after the record\'s lock is released, so a pass that reads the record meanwhile takes the engine\'s own write for a hand edit, refuses it (a .rejected- copy) and writes the older version back: the newer write (an attempt\'s end, a transition) is lost and the task stuck (src/runtime/engine.ts)',
  'duplicate-keys':
    'a spec with a key twice ({"goal":"a","goal":"b"}) is accepted silently, the last value winning: a person cannot know which one orch used (src/store/parse-json.ts)',
} as const;
export type KnownBug = keyof typeof KNOWN_BUGS;

function runLogText(root: string): string {
  try {
    return readFileSync(projectPaths(root).runLog, 'utf8');
  } catch {
    return '';
  }
}

/** Which known bug explains `violation`, if any. */
export function knownBugOf(violation: Violation, root: string): KnownBug | undefined {
  if (violation.invariant === 'process_untracked') return 'spawn-window';
  if (/it is a hard link shared with another path/.test(violation.message) && violation.path.endsWith('session.json')) return 'session-hard-link';
  // The temp name of a session.json that could not be unlinked: no later orch could start to sweep it.
  if (/\.orch-tmp\/session\.json\.\d+-\d+\.\d+\.tmp$/.test(violation.path)) return 'session-hard-link';
  if (violation.invariant === 'rejected_copy') return 'self-edit-race';
  const log = runLogText(root);
  const stuckBy = (pattern: RegExp): boolean => (violation.invariant === 'doctor' && /open_attempt|orphan_process/.test(violation.message)) && pattern.test(log);
  if (stuckBy(/Hand edit of the record of task .* refused/)) return 'self-edit-race';
  // A task left with an open attempt after a run that ended: the engine dropped the attempt's end
  // because a record write failed (the run log says why: a racing read, a full disk…).
  const stuck = violation.invariant === 'doctor' && /open_attempt|orphan_process/.test(violation.message);
  if (stuck && /❌ \*\*error\*\*: .*(replaced while being opened|could not write|ENOSPC|EROFS)/.test(runLogText(root))) return 'lost-event';
  if (violation.invariant === 'session' && /❌ \*\*error\*\*: .*(replaced while being opened|could not write)/.test(runLogText(root))) return 'lost-event';
  return undefined;
}

export interface SplitViolations {
  unknown: Violation[];
  known: Map<KnownBug, Violation[]>;
}

export function splitKnown(violations: readonly Violation[], root: string): SplitViolations {
  const known = new Map<KnownBug, Violation[]>();
  const unknown: Violation[] = [];
  for (const v of violations) {
    const bug = knownBugOf(v, root);
    if (bug === undefined) unknown.push(v);
    else known.set(bug, [...(known.get(bug) ?? []), v]);
  }
  return { unknown, known };
}

/** One todo per known bug seen, naming it and the first violation it explains. */
export function reportKnown(t: Test, known: ReadonlyMap<KnownBug, Violation[]>, where: string): void {
  for (const [bug, violations] of known) {
    const first = violations[0];
    t.fail(`${where}: known bug ${bug} seen (${violations.length}): ${first?.invariant}: ${first?.message.slice(0, 200)}`, { todo: KNOWN_BUGS[bug] });
  }
}

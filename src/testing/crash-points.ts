// A test-only switch that kills this process at a named point (the torture suite, test/torture/):
// `ORCH_CRASH_AT=write.after-rename` kills it with SIGKILL the first time it reaches that point,
// `ORCH_CRASH_AT=write.after-rename:3` the third time. SIGKILL, not an exception: nothing of ours
// runs after it (no finally, no exit handler), exactly as when a user runs kill -9 or the power goes.
// The variable is read once, at load: without it a crash point costs one comparison.

/** Every crash point in the code, where it sits, so the torture suite can loop over all of them. */
export const CRASH_POINTS = {
  /** durable-write: the temp file is about to be created (the target is untouched). */
  'write.before': 'writeFileDurable, before the temp file is written',
  /** durable-write: every byte is in the temp file, not yet fsynced. */
  'write.after-write': 'writeFileDurable / createFileExclusive, after the data is written, before fsync',
  /** durable-write: the temp file is fsynced, not yet renamed (or linked). */
  'write.after-fsync': 'writeFileDurable / createFileExclusive, after fsync, before rename or link',
  /** durable-write: the new file is in place, its directory not yet fsynced. */
  'write.after-rename': 'writeFileDurable, after rename, before the directory fsync',
  /** durable-write: the write is complete and durable. */
  'write.after-dir-fsync': 'writeFileDurable, after the directory fsync',
  /** durable-write: createFileExclusive has linked the target; the temp name still exists (two links). */
  'create.after-link': 'createFileExclusive, after link, before the temp name is removed',
  /** fenced-update: under the lock, the document validated, about to be written. */
  'update.before-write': 'writeLocked, holding the lock, before the durable write',
  /** run-log: an entry is about to be appended to the markdown log. */
  'log.before-append': 'RunLog.entry, before the markdown append',
  /** run-log: the markdown line is written, events.jsonl not yet. */
  'log.between-appends': 'RunLog.entry, after the markdown append, before the events.jsonl append',
  /** run-log: both appends are done. */
  'log.after-append': 'RunLog.entry, after both appends',
  /** attempt: the command runs in its own process group; its identity is not yet in the record. */
  'attempt.spawned': 'runAttempt onSpawn, before the identity is written to the record',
  /** attempt: the identity is in the record; the orchestrator is about to wait on the command. */
  'attempt.identity-written': 'runAttempt onSpawn, after the identity is written',
  /** inbox: a decision is applied to the record, its file not yet consumed. */
  'inbox.before-consume': 'processInbox, after apply, before the decision file is removed',
  /** inbox: the decision file is removed. */
  'inbox.after-consume': 'processInbox, after the decision file is removed',
  /** engine: a record write is done, its effects (log lines, stops, wake-ups) not yet carried out. */
  'engine.before-effects': 'Engine.apply, after the record write, before its effects',
  /** orchestrator recovery (--resume): an open attempt found, its process group not yet stopped. */
  'resume.before-stop': 'recoverOpenAttempts, before stopping the dead run\'s process group',
  /** orchestrator recovery: the group is stopped, the attempt not yet marked interrupted. */
  'resume.before-interrupt': 'recoverOpenAttempts, after the stop, before the attempt is closed',
  /** orchestrator recovery: the attempt is closed interrupted. */
  'resume.after-interrupt': 'recoverOpenAttempts, after the attempt is closed',
  /** merge queue: the target branch moved to the task's merge commit; the record does not say so yet. */
  'merge.after-land': 'mergeThroughGate, after the compare-and-swap of the target, before the attempt ends',
  /** doctor --fix: about to repair one problem (remove a lock, stop a process group). */
  'doctor.before-repair': 'repairProblems, before each repair',
  /** doctor --fix: an orphan process group is stopped. */
  'doctor.after-repair': 'repairProblems, after an orphan group is stopped',
} as const;
export type CrashPointName = keyof typeof CRASH_POINTS;

/** The environment variable that arms a crash point: `name` or `name:N` (the N-th time it is reached). */
export const CRASH_ENV = 'ORCH_CRASH_AT';

interface Armed {
  name: string;
  at: number;
}

function parseArmed(value: string | undefined): Armed | undefined {
  if (value === undefined || value === '') return undefined;
  const match = /^(.+?)(?::(\d+))?$/.exec(value);
  if (match === null) return undefined;
  return { name: match[1] ?? '', at: match[2] === undefined ? 1 : Math.max(1, Number(match[2])) };
}

const armed = parseArmed(process.env[CRASH_ENV]);
let reached = 0;

/** Kills this process with SIGKILL, at once, if ORCH_CRASH_AT names this point (and this is its N-th time). */
export function crashPoint(name: CrashPointName): void {
  if (armed === undefined || armed.name !== name) return;
  reached += 1;
  if (reached >= armed.at) process.kill(process.pid, 'SIGKILL');
}

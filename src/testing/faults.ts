// A test-only switch that makes a named step fail as the operating system would, in this process:
// the way to reach the paths that only a rare fault takes (a rename that landed but whose directory
// fsync failed, then a read back refused on EMFILE) without a full disk or a descriptor limit, which
// cannot be aimed at one write. Armed by tests only (never by the environment); unarmed, a fault
// point costs one size check.

/** Every fault point, where it sits. */
export const FAULT_POINTS = {
  /** read-file: opening a state file to read it fails (EMFILE: out of descriptors). */
  'read.open': 'readTextFileSync, instead of the open',
  /** process-identity: reading /proc/<pid>/stat fails. */
  'proc.read': 'readProcessStat, instead of the read of /proc/<pid>/stat',
  /** process-group: listing /proc fails. */
  'proc.list': 'listGroupMembers, instead of the readdir of /proc',
  /** durable-write: the new file is in place; its directory fsync fails. */
  'write.dir-fsync': 'writeFileDurable, after rename, instead of the directory fsync',
  /** engine: a record write failed; reading the record back to see whether it landed fails too. */
  'engine.read-back': 'RecordWrites.landedWrite (record-writes.ts), instead of the read of the record',
} as const;
export type FaultPointName = keyof typeof FAULT_POINTS;

interface Fault {
  /** Only where the path matches (every path when undefined). */
  path?: RegExp;
  /** Passes this many matching times before it fails. */
  skip: number;
  /** Fails this many times, then disarms. */
  times: number;
  code: string;
}

const armed = new Map<FaultPointName, Fault>();

/** Arms `point`: after `skip` matching passes it throws an errno error `code` (EIO) `times` times (1). */
export function injectFault(point: FaultPointName, fault: { path?: RegExp; skip?: number; times?: number; code?: string } = {}): void {
  armed.set(point, { skip: fault.skip ?? 0, times: fault.times ?? 1, code: fault.code ?? 'EIO', ...(fault.path !== undefined && { path: fault.path }) });
}

/** Whether `point` is still armed (its fault has not failed all its times): a test's proof that a step was not taken. */
export function faultArmed(point: FaultPointName): boolean {
  return armed.has(point);
}

export function clearFaults(): void {
  armed.clear();
}

/** Throws the armed error if `point` is armed for `path` and its turn has come. */
export function faultPoint(point: FaultPointName, path: string): void {
  if (armed.size === 0) return;
  const fault = armed.get(point);
  if (fault === undefined || (fault.path !== undefined && !fault.path.test(path))) return;
  if (fault.skip > 0) {
    fault.skip -= 1;
    return;
  }
  fault.times -= 1;
  if (fault.times <= 0) armed.delete(point);
  throw Object.assign(new Error(`${fault.code}: injected fault at ${point}, ${path}`), { code: fault.code });
}

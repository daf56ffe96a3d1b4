// The durable atomic writer (PRODUCT.md §2). Not write-file-atomic: its versions 7 and 8 do one
// unchecked write() and then rename, so on a full disk they publish a truncated file. Here every byte
// is written and checked, fsynced, renamed into place and the directory fsynced; on any failure the
// temp file is removed and the old file is left as it was.
import fsCallback, { closeSync, constants as fsc, fstatSync, linkSync, lstatSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { OrchError, errnoCode } from '../errors.js';
import { selfIdentity } from './process-identity.js';
import { faultPoint } from '../testing/faults.js';
import { crashPoint } from '../testing/crash-points.js';

/** Temp files live in a dotted subfolder of the target's dir: same filesystem, so rename is atomic. */
export const TEMP_DIR_NAME = '.orch-tmp';
const TEMP_SUFFIX = '.tmp';

let tempCounter = 0;

/**
 * Names a temp file after its writer (pid and process start time), so a sweeper can tell a temp file
 * of a dead writer from one still being written: `<target>.<pid>-<starttime>.<n>.tmp`.
 */
export function tempFileName(target: string): string {
  const me = selfIdentity();
  tempCounter += 1;
  return `${basename(target)}.${me.pid}-${me.start_time}.${tempCounter}${TEMP_SUFFIX}`;
}

/** The writer's pid and start time encoded in a temp file name, or undefined if it is not ours. */
export function parseTempFileName(name: string): { pid: number; start_time: number } | undefined {
  const match = /\.(\d+)-(\d+)\.\d+\.tmp$/.exec(name);
  if (match === null) return undefined;
  return { pid: Number(match[1]), start_time: Number(match[2]) };
}

let sigxfszHandled = false;

/**
 * Node ignores SIGXFSZ, so a write past `ulimit -f` fails with EFBIG, which we report. But
 * signal-exit (in proper-lockfile, and in tap) listens for SIGXFSZ and, when it is the only listener,
 * re-raises it with the default action, which kills the process. A listener of ours keeps it harmless.
 */
function keepSigxfszHarmless(): void {
  if (sigxfszHandled) return;
  sigxfszHandled = true;
  process.on('SIGXFSZ', () => undefined);
}

export interface DurableWriteOptions {
  /** File mode of a new file (default 0o644). */
  mode?: number;
  /**
   * Called once the new content is durable, right before the rename: a fence's last check. Throws to
   * refuse (the temp file is removed, the target untouched).
   */
  beforeRename?: () => void;
}

// Speed (bench/durable-write.ts): every metadata call (lstat, mkdir, open, close, rename, unlink) and
// the write itself (into the page cache) is synchronous: each is a few microseconds in the kernel,
// while an async call is a thread-pool round trip that costs more than the call. Only the two fsyncs,
// which wait for the disk, go to the thread pool: the event loop never waits on the disk, and the
// fsyncs of several workers' writes overlap (the journal commits them together).
const fsyncAsync = promisify(fsCallback.fsync);

/**
 * Replaces `target` with `data`, atomically and durably (creating the target's dir if missing).
 * Refuses to write through a symlink or onto anything but a regular file with one link (a hard link
 * would be shared with a file elsewhere).
 * Throws ORCH_WRITE_FAILED (details.errno: ENOSPC, EFBIG, EROFS…) or ORCH_NOT_REGULAR_FILE.
 *
 * Resolves to the stats of the file written, taken at its rename: what a cache of our own writes may
 * trust. A stat taken after the directory's fsync may already be of another file put there meanwhile
 * (a person's edit, a FIFO), and a cache would then take that file for ours. Undefined when another
 * file stood there already at the rename's next instruction.
 */
export async function writeFileDurable(target: string, data: string | Uint8Array | Iterable<string>, options: DurableWriteOptions = {}): Promise<Stats | undefined> {
  keepSigxfszHarmless();
  const dir = dirname(target);
  const temp = join(dir, TEMP_DIR_NAME, tempFileName(target));
  try {
    ensureTempDir(dir);
    crashPoint('write.before');
    const ino = await writeAllAndSync(temp, chunksOf(data), options.mode ?? 0o644);
    // Checked right before the rename (and only then: a refused target costs a temp file written in
    // vain, never a byte outside): a symlink, FIFO or hard link planted at any time is not replaced.
    assertWritableTarget(target);
    options.beforeRename?.();
    renameSync(temp, target);
    const renamed = lstatSync(target, { throwIfNoEntry: false });
    const written = renamed?.ino === ino && renamed.isFile() ? renamed : undefined;
    crashPoint('write.after-rename');
    faultPoint('write.dir-fsync', target);
    await fsyncDir(dir);
    crashPoint('write.after-dir-fsync');
    return written;
  } catch (error) {
    removeQuietly(temp);
    if (error instanceof OrchError) throw error;
    throw new OrchError('ORCH_WRITE_FAILED', `could not write ${target}: ${(error as Error).message}`, {
      cause: error,
      details: { file: target, errno: errnoCode(error) },
      hint: errnoCode(error) === 'ENOSPC' ? 'free some disk space; the previous content is intact' : undefined,
    });
  }
}

/** Creates `target` only if nothing is there: the write is complete before the name appears. */
export async function createFileExclusive(target: string, data: string | Uint8Array, options: DurableWriteOptions = {}): Promise<boolean> {
  keepSigxfszHarmless();
  const dir = dirname(target);
  const temp = join(dir, TEMP_DIR_NAME, tempFileName(target));
  try {
    ensureTempDir(dir);
    await writeAllAndSync(temp, chunksOf(data), options.mode ?? 0o644);
    try {
      linkSync(temp, target); // link() fails with EEXIST: exclusive, and never half-written
      crashPoint('create.after-link');
    } catch (error) {
      if (errnoCode(error) === 'EEXIST') return false;
      throw error;
    }
    // Drop the temp name at once: until then the new file has two links, and readers refuse those.
    // (A crash right here leaves both: see dropDeadTempLinks in temp-sweep.ts.)
    removeQuietly(temp);
    await fsyncDir(dir);
    return true;
  } catch (error) {
    if (error instanceof OrchError) throw error;
    throw new OrchError('ORCH_WRITE_FAILED', `could not create ${target}: ${(error as Error).message}`, {
      cause: error,
      details: { file: target, errno: errnoCode(error) },
    });
  } finally {
    removeQuietly(temp);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone (renamed or linked into place, or never created).
  }
}

/** `<dir>/.orch-tmp` dirs found to be real directories, by identity (see ensureTempDir). */
const checkedTempDirs = new Map<string, { dev: number; ino: number }>();
/** orch writes into a handful of dirs; a caller writing into many only costs a re-check now and then. */
const MAX_CHECKED_TEMP_DIRS = 256;

/**
 * Creates `<dir>/.orch-tmp` if needed, and refuses one that is not a real directory: through a
 * symlinked temp dir, the temp file would be created (and left, on a crash) outside the state dir.
 * A dir already checked costs one lstat, not mkdir + lstat: the same directory (device and inode) is
 * still a directory, while a symlink, or anything else, swapped in since is caught as before.
 */
function ensureTempDir(dir: string): void {
  const tempDir = join(dir, TEMP_DIR_NAME);
  const known = checkedTempDirs.get(tempDir);
  if (known !== undefined) {
    const stat = lstatSync(tempDir, { throwIfNoEntry: false });
    if (stat !== undefined && stat.isDirectory() && stat.ino === known.ino && stat.dev === known.dev) return;
    checkedTempDirs.delete(tempDir);
  }
  mkdirSync(tempDir, { recursive: true });
  const stat = lstatSync(tempDir);
  if (!stat.isDirectory()) {
    throw new OrchError('ORCH_NOT_REGULAR_FILE', `refusing to write in ${dir}: ${TEMP_DIR_NAME} is ${describeKind(stat)}, not a directory`, {
      details: { file: tempDir },
      hint: `remove ${tempDir}; orch recreates it`,
    });
  }
  if (checkedTempDirs.size >= MAX_CHECKED_TEMP_DIRS) checkedTempDirs.clear();
  checkedTempDirs.set(tempDir, { dev: stat.dev, ino: stat.ino });
}

function assertWritableTarget(target: string): void {
  const stat = lstatSync(target, { throwIfNoEntry: false });
  if (stat === undefined) return;
  if (!stat.isFile()) {
    throw new OrchError('ORCH_NOT_REGULAR_FILE', `refusing to write ${target}: it is ${describeKind(stat)}, not a regular file`, {
      details: { file: target },
      hint: 'move it out of the way; orch only replaces regular files it wrote',
    });
  }
  if (stat.nlink > 1) {
    throw new OrchError('ORCH_NOT_REGULAR_FILE', `refusing to write ${target}: it is a hard link shared with ${stat.nlink - 1} other name(s)`, {
      details: { file: target },
      hint: 'remove the extra link; orch does not write a file it shares with another path',
    });
  }
}

export function describeKind(stat: { isFile(): boolean; isSymbolicLink(): boolean; isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean }): string {
  if (stat.isFile()) return 'a regular file';
  if (stat.isSymbolicLink()) return 'a symlink';
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  return 'a device or special file';
}

/** Writes and fsyncs a new file at `path`; resolves to its inode number. */
/**
 * The bytes to write, as chunks: a large document (the record index, 100,000 entries) is written as
 * it is made, a chunk at a time, never held whole as one string and one buffer.
 */
function* chunksOf(data: string | Uint8Array | Iterable<string>): Generator<Uint8Array> {
  if (typeof data === 'string') yield Buffer.from(data, 'utf8');
  else if (data instanceof Uint8Array) yield data;
  else for (const chunk of data) yield Buffer.from(chunk, 'utf8');
}

async function writeAllAndSync(path: string, chunks: Iterable<Uint8Array>, mode: number): Promise<number> {
  // O_NOFOLLOW and O_EXCL: the temp name is never followed through a symlink nor shared.
  const fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, mode);
  let ino: number;
  try {
    let position = 0;
    for (const bytes of chunks) {
      let offset = 0;
      // write() may write less than asked (a disk filling up, a file size limit): loop, and let the
      // next call surface the error (ENOSPC, EFBIG) rather than publishing a short file.
      while (offset < bytes.length) {
        const written = writeSync(fd, bytes, offset, bytes.length - offset, position);
        if (written <= 0) throw Object.assign(new Error(`write returned ${written}`), { code: 'EIO' });
        offset += written;
        position += written;
      }
    }
    crashPoint('write.after-write');
    await fsyncAsync(fd);
    crashPoint('write.after-fsync');
    ino = fstatSync(fd).ino;
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // The write's error is the one worth reporting.
    }
    throw error;
  }
  closeSync(fd);
  return ino;
}

/** fsync a directory so a rename or link in it survives a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    await fsyncAsync(fd);
  } finally {
    closeSync(fd);
  }
}

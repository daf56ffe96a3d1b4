// The durable atomic writer (PRODUCT.md §2). Not write-file-atomic: its versions 7 and 8 do one
// unchecked write() and then rename, so on a full disk they publish a truncated file. Here every byte
// is written and checked, fsynced, renamed into place and the directory fsynced; on any failure the
// temp file is removed and the old file is left as it was.
import { constants as fsc, promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { OrchError, errnoCode } from '../errors.js';
import { selfIdentity } from './process-identity.js';
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
}

/**
 * Replaces `target` with `data`, atomically and durably (creating the target's dir if missing).
 * Refuses to write through a symlink or onto anything but a regular file with one link (a hard link
 * would be shared with a file elsewhere).
 * Throws ORCH_WRITE_FAILED (details.errno: ENOSPC, EFBIG, EROFS…) or ORCH_NOT_REGULAR_FILE.
 */
export async function writeFileDurable(target: string, data: string | Uint8Array, options: DurableWriteOptions = {}): Promise<void> {
  keepSigxfszHarmless();
  const dir = dirname(target);
  const temp = join(dir, TEMP_DIR_NAME, tempFileName(target));
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  try {
    await assertWritableTarget(target);
    await ensureTempDir(dir);
    crashPoint('write.before');
    await writeAllAndSync(temp, bytes, options.mode ?? 0o644);
    // Checked again right before the rename: a symlink planted while we wrote is not replaced blindly.
    await assertWritableTarget(target);
    await fs.rename(temp, target);
    crashPoint('write.after-rename');
    await fsyncDir(dir);
    crashPoint('write.after-dir-fsync');
  } catch (error) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
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
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  try {
    await ensureTempDir(dir);
    await writeAllAndSync(temp, bytes, options.mode ?? 0o644);
    try {
      await fs.link(temp, target); // link() fails with EEXIST: exclusive, and never half-written
      crashPoint('create.after-link');
    } catch (error) {
      if (errnoCode(error) === 'EEXIST') return false;
      throw error;
    }
    // Drop the temp name at once: until then the new file has two links, and readers refuse those.
    await fs.rm(temp, { force: true });
    await fsyncDir(dir);
    return true;
  } catch (error) {
    if (error instanceof OrchError) throw error;
    throw new OrchError('ORCH_WRITE_FAILED', `could not create ${target}: ${(error as Error).message}`, {
      cause: error,
      details: { file: target, errno: errnoCode(error) },
    });
  } finally {
    await fs.rm(temp, { force: true }).catch(() => undefined);
  }
}

/**
 * Creates `<dir>/.orch-tmp` if needed, and refuses one that is not a real directory: through a
 * symlinked temp dir, the temp file would be created (and left, on a crash) outside the state dir.
 */
async function ensureTempDir(dir: string): Promise<void> {
  const tempDir = join(dir, TEMP_DIR_NAME);
  await fs.mkdir(tempDir, { recursive: true });
  const stat = await fs.lstat(tempDir);
  if (!stat.isDirectory()) {
    throw new OrchError('ORCH_NOT_REGULAR_FILE', `refusing to write in ${dir}: ${TEMP_DIR_NAME} is ${describeKind(stat)}, not a directory`, {
      details: { file: tempDir },
      hint: `remove ${tempDir}; orch recreates it`,
    });
  }
}

async function assertWritableTarget(target: string): Promise<void> {
  let stat;
  try {
    stat = await fs.lstat(target);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return;
    throw error;
  }
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

async function writeAllAndSync(path: string, bytes: Uint8Array, mode: number): Promise<void> {
  const handle = await fs.open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, mode);
  try {
    let offset = 0;
    // write() may write less than asked (a disk filling up, a file size limit): loop, and let the
    // next call surface the error (ENOSPC, EFBIG) rather than publishing a short file.
    while (offset < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, offset);
      if (bytesWritten <= 0) throw Object.assign(new Error(`write returned ${bytesWritten}`), { code: 'EIO' });
      offset += bytesWritten;
    }
    crashPoint('write.after-write');
    await handle.sync();
    crashPoint('write.after-fsync');
  } catch (error) {
    await handle.close().catch(() => undefined); // the write's error is the one worth reporting
    throw error;
  }
  await handle.close();
}

/** fsync a directory so a rename or link in it survives a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

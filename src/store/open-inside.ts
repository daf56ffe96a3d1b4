// Opening a file under a trusted folder (the state dir) for reading, without following a symlink
// anywhere on the way: an attempt's artifacts path is runs/<run>/<task>/<attempt>/stdout.log, and
// O_NOFOLLOW guards only its last name. A link in any folder of it could point `orch tail` at a file
// outside the state dir, so every name from the root down is checked, and refused if it is a link.
//
// Node has no openat(): the names are checked by path, so a folder swapped for a link between the check
// and the open could still be followed. The names are therefore checked again after the open, and the
// path must then lead, through no link, to the very file the descriptor holds (same device and inode).
// Whatever was opened through a link that came and went is refused, never read.
import { constants as fsc, promises as fs, type BigIntStats, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { OrchError, errnoCode } from '../errors.js';
import { describeKind } from './durable-write.js';

// O_NOFOLLOW: the last name never follows a link (ELOOP). O_NONBLOCK: a FIFO opens at once instead of
// waiting for a writer (then refused by fstat). O_NOCTTY: a terminal never becomes ours.
const OPEN_FLAGS = fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK | fsc.O_NOCTTY;

/** What to do about a link in the state dir: said with every refusal of one. */
export const LINK_HINT = 'orch reads the state dir only through real folders and files and never follows a link: replace the link with what it points to (move the folder or file into its place), or remove it';
/** What to do about a FIFO, device, hard link or file where a folder should be. */
export const NOT_REGULAR_HINT = 'orch reads only regular files (one name each) in real folders of the state dir: replace it with one, or remove it';

function refused(path: string, what: string, hint = NOT_REGULAR_HINT): OrchError {
  return new OrchError('ORCH_NOT_REGULAR_FILE', `refusing to read ${path}: ${what}`, { details: { file: path }, hint });
}

function linkRefused(target: string, link: string): OrchError {
  const where = link === target ? 'it is a symlink' : `${link} is a symlink`;
  return refused(target, where, LINK_HINT);
}

/** The folders and the file from `root` down to `path`, each as a full path (root itself excluded). */
function namesUnder(root: string, path: string): string[] {
  const rel = relative(root, path);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new OrchError('ORCH_INTERNAL', `${path} is not under ${root}`, { details: { file: path, root } });
  }
  const names = rel.split(sep);
  return names.map((_, i) => join(root, ...names.slice(0, i + 1)));
}

type Walk = { missing: true } | { missing: false; file: Stats };

/** lstat every name from the root down: a link or a non-folder on the way is refused; a missing name ends it. */
async function walk(target: string, names: readonly string[]): Promise<Walk> {
  let stat: Stats | undefined;
  for (const [i, name] of names.entries()) {
    try {
      stat = await fs.lstat(name);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return { missing: true };
      throw error;
    }
    if (stat.isSymbolicLink()) throw linkRefused(target, name);
    const last = i === names.length - 1;
    if (!last && !stat.isDirectory()) throw refused(target, `${name} is ${describeKind(stat)}, not a folder`);
  }
  if (stat === undefined) throw new OrchError('ORCH_INTERNAL', `no name to open under the root for ${target}`);
  return { missing: false, file: stat };
}

function assertRegular(path: string, stat: Stats | BigIntStats): void {
  if (!stat.isFile()) throw refused(path, `it is ${describeKind(stat)}, not a regular file`);
  // A hard link is a second name for a file that may live anywhere: the same refusal as for records.
  if (Number(stat.nlink) > 1) throw refused(path, 'it is a hard link shared with another path');
}

/** How many times a file renamed over while being opened is opened again before giving up. */
export const OPEN_TRIES = 3;

/**
 * Opens `path`, which must lie under `root`, for reading: undefined when it (or a folder on the way)
 * does not exist. Throws ORCH_NOT_REGULAR_FILE (exit 2) for a symlink anywhere below `root`, a FIFO,
 * socket or device, or a hard link. `root` itself is trusted (a state dir may be a link).
 * The caller closes the handle.
 */
export async function openInside(root: string, path: string): Promise<FileHandle | undefined> {
  const names = namesUnder(root, path);
  for (let tries = 1; ; tries++) {
    const opened = await openChecked(path, names);
    if (opened !== 'replaced') return opened;
    // A rename over the file between the open and the second look (a durable write does that), or a
    // link that came and went: look again, and refuse if it keeps changing under us.
    if (tries === OPEN_TRIES) throw refused(path, `it was replaced each of the ${OPEN_TRIES} times it was opened (a link put on its way?)`, LINK_HINT);
  }
}

async function openChecked(path: string, names: readonly string[]): Promise<FileHandle | undefined | 'replaced'> {
  // First look, so that a link is never opened through, nor a device or FIFO opened at all.
  const before = await walk(path, names);
  if (before.missing) return undefined;
  assertRegular(path, before.file);
  let handle: FileHandle;
  try {
    handle = await fs.open(path, OPEN_FLAGS);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ELOOP') throw linkRefused(path, path); // made a link since the first look
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'ENXIO') throw refused(path, 'it is a socket or a device, not a regular file');
    throw error;
  }
  let keep = false;
  try {
    const stat = await handle.stat();
    assertRegular(path, stat);
    // Second look: the path, through no link, must lead to the very file we hold.
    const after = await walk(path, names);
    if (after.missing) return undefined;
    if (after.file.dev !== stat.dev || after.file.ino !== stat.ino) return 'replaced';
    // The looks are separate lstats, so a folder swapped for a link and back between them (A-B-A) can
    // pass both while the open went through the link. The kernel knows where the descriptor really
    // leads: it must be the path under the root's real path.
    const actual = await descriptorPath(handle.fd);
    if (actual !== undefined && actual !== (await expectedPath(names[0] ?? path, path))) {
      if (actual.endsWith(' (deleted)')) return 'replaced';
      throw linkRefused(path, path);
    }
    keep = true;
    return handle;
  } finally {
    if (!keep) await handle.close();
  }
}

/** Where an open descriptor leads, as the kernel says (Linux /proc); undefined where it cannot tell. */
async function descriptorPath(fd: number): Promise<string | undefined> {
  try {
    return await fs.readlink(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/** `path` with the root's own links resolved (the root may be a link; nothing below it may). */
async function expectedPath(firstName: string, path: string): Promise<string> {
  const root = dirname(firstName);
  return join(await fs.realpath(root), relative(root, path));
}

// Finds the file a bare command name runs, as execvp would.
//
// libuv forks and then lets the child search PATH with execvp: every PATH entry before the right one
// is a failed execve in the child, and the parent waits for the child's exec before spawn() returns.
// Under `npm run` PATH starts with five node_modules/.bin folders; on this machine `sh` was the
// fourteenth entry, 0.2 to 0.3 ms of every spawn on the path from a dropped spec to its command
// (issue 16). Resolved here, the child makes one execve. The name the command sees (argv[0]) is
// still the one the config gave: the caller passes it as argv0.
//
// Searched again for every spawn, as execvp would: a command installed since in an earlier PATH folder
// (an `npm install` during a watched run) is the one that runs. A candidate is stat'ed before access()
// is asked, so a folder without the name costs no thrown error: 16 µs for a 20-folder PATH (nothing
// to cache). Only a PATH of absolute folders is resolved here: an empty or relative entry means
// "relative to the working directory", which differs per command, so such a PATH is left to execvp as
// before; so is a name found nowhere, and execvp then fails with the error it always gave.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** The absolute file `name` runs with `path` as PATH, or undefined to leave the search to execvp. */
export function resolveCommand(name: string, path: string | undefined): string | undefined {
  if (name === '' || name.includes('/') || path === undefined || path === '') return undefined;
  const dirs = path.split(delimiter);
  if (dirs.some(dir => !isAbsolute(dir))) return undefined;
  return findOnPath(name, dirs);
}

/** The first `<dir>/<name>` of `dirs` that is an executable regular file (the config's check uses it too). */
export function findOnPath(name: string, dirs: readonly string[]): string | undefined {
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** As execvp judges a candidate: a regular file (through symlinks) that we may execute. */
export function isExecutableFile(file: string): boolean {
  try {
    if (statSync(file, { throwIfNoEntry: false })?.isFile() !== true) return false; // no error made for a miss
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

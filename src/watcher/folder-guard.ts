// A watched folder that is removed, or replaced by another (`rm -rf tasks && git checkout tasks`,
// a rename over it), leaves its inotify watch on the old inode: no event for the new folder would
// ever come. The guard remembers each folder's identity (device and inode) and says which ones
// changed, so the watcher can watch them again and ask for a look at everything in them. An inode
// number is reused at once (rm -rf then mkdir often gets the same one), so the identity includes the
// birth time; and an event that says the folder itself went (IN_DELETE_SELF) marks it changed anyway,
// since a folder re-created within the same clock tick can match on both.
import { promises as fs } from 'node:fs';

async function identityOf(dir: string): Promise<string | undefined> {
  try {
    const stat = await fs.stat(dir);
    return stat.isDirectory() ? `${stat.dev}:${stat.ino}:${stat.birthtimeMs}` : undefined;
  } catch {
    return undefined;
  }
}

export class FolderGuard {
  private readonly identities = new Map<string, string | undefined>();
  private readonly folders: readonly string[];
  private running: Promise<string[]> | undefined;
  private again = false;

  constructor(folders: readonly string[]) {
    this.folders = folders;
  }

  /** Takes the folders as they are now as the watched ones. */
  async remember(): Promise<void> {
    for (const dir of this.folders) this.identities.set(dir, await identityOf(dir));
  }

  /** Marks `dir` as changed: the next check reports it whatever its identity. */
  invalidate(dir: string): void {
    if (this.identities.has(dir)) this.identities.set(dir, 'invalidated');
  }

  /**
   * The folders whose identity changed since the last look (gone, created, or replaced). Calls while
   * one runs join it, and it looks once more, so a change during a check is not missed.
   */
  changed(): Promise<string[]> {
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      const found = new Set<string>();
      try {
        do {
          this.again = false;
          for (const dir of this.folders) {
            const now = await identityOf(dir);
            if (now !== this.identities.get(dir)) {
              this.identities.set(dir, now);
              found.add(dir);
            }
          }
        } while (this.again);
      } finally {
        // In the same step as the last look at `again`: a call a microtask later starts afresh.
        this.running = undefined;
      }
      return [...found];
    })();
    return this.running;
  }
}

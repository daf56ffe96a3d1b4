// Config reloaded when it changes (PRODUCT.md §12), keeping the last good one when the new one is
// invalid. A cheap stat per pass decides whether to read it again.
import { statSync } from 'node:fs';
import type { OrchConfig } from '../generated/types.js';
import { loadConfig } from '../config/load-config.js';
import { isOrchError, type OrchError } from '../errors.js';

/**
 * Inode, size and mtime of the config file: a change of any means it was written. Synchronous: it
 * runs at the head of every pass, and a thread-pool round trip there was on the path of every
 * dropped spec to its command (a stat is microseconds).
 */
export async function configStamp(path: string): Promise<string> {
  const stat = statSync(path, { throwIfNoEntry: false });
  return stat === undefined ? 'missing' : `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
}

export type ConfigRefresh = { kind: 'same' } | { kind: 'reloaded'; config: OrchConfig } | { kind: 'invalid'; error: OrchError };

export class ConfigWatch {
  private readonly path: string;
  private readonly root: string;
  private signature: string | undefined;
  current: OrchConfig;

  /** `loadedStamp`: configStamp() taken just before `initial` was read, so no change in between is lost. */
  constructor(path: string, root: string, initial: OrchConfig, loadedStamp?: string) {
    this.path = path;
    this.root = root;
    this.current = initial;
    this.signature = loadedStamp;
  }

  /** Remembers the file as it is now, unless the stamp of the loaded config was given. */
  async baseline(): Promise<void> {
    this.signature ??= await configStamp(this.path);
  }

  async refresh(): Promise<ConfigRefresh> {
    const signature = await configStamp(this.path);
    if (signature === this.signature) return { kind: 'same' };
    this.signature = signature;
    try {
      const { config } = await loadConfig(this.path, this.root);
      this.current = config;
      return { kind: 'reloaded', config };
    } catch (error) {
      if (!isOrchError(error)) throw error;
      return { kind: 'invalid', error };
    }
  }
}

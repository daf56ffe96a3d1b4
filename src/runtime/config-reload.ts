// Config reloaded when it changes (PRODUCT.md §12), keeping the last good one when the new one is
// invalid. A cheap stat per pass decides whether to read it again.
import { promises as fs } from 'node:fs';
import type { OrchConfig } from '../generated/types.js';
import { loadConfig } from '../config/load-config.js';
import { isOrchError, type OrchError } from '../errors.js';

/** Inode, size and mtime of the config file: a change of any means it was written. */
export async function configStamp(path: string): Promise<string> {
  const stat = await fs.stat(path).catch(() => undefined);
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

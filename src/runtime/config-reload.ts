// Config reloaded when it changes (PRODUCT.md §12), keeping the last good one when the new one is
// invalid. A cheap stat per pass decides whether to read it again.
import { promises as fs } from 'node:fs';
import type { OrchConfig } from '../generated/types.js';
import { loadConfig } from '../config/load-config.js';
import { isOrchError, type OrchError } from '../errors.js';

export type ConfigRefresh = { kind: 'same' } | { kind: 'reloaded'; config: OrchConfig } | { kind: 'invalid'; error: OrchError };

export class ConfigWatch {
  private readonly path: string;
  private readonly root: string;
  private signature: string | undefined;
  current: OrchConfig;

  constructor(path: string, root: string, initial: OrchConfig) {
    this.path = path;
    this.root = root;
    this.current = initial;
  }

  private async stamp(): Promise<string> {
    const stat = await fs.stat(this.path).catch(() => undefined);
    return stat === undefined ? 'missing' : `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
  }

  /** Remembers the file as it is now (the config the run started with). */
  async baseline(): Promise<void> {
    this.signature = await this.stamp();
  }

  async refresh(): Promise<ConfigRefresh> {
    const signature = await this.stamp();
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

// Listing and stat-ing without throwing (no tests of its own): the oracle looks at a state dir that a
// crash or a test may have left in any shape, and a missing entry is an answer, not an error.
import { lstatSync, readdirSync, type Stats } from 'node:fs';

export function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

export function safeLstat(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

// The spool wrapper as orch ships it (executors/orch-spool-run.sh, specs/executors.md), and the name it
// has where it is copied (a host's workdir, a cluster's shared spool): its content's hash, so a changed
// wrapper is copied again and two versions never share a name.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../schema/package-dir.js';

let cached: { source: Buffer; path: string } | undefined;

/** `path` is relative: `.orch/bin/orch-spool-run-<hash>.sh`. */
export function spoolWrapper(): { source: Buffer; path: string } {
  if (cached !== undefined) return cached;
  const source = readFileSync(join(packageRoot(), 'executors', 'orch-spool-run.sh'));
  cached = { source, path: `.orch/bin/orch-spool-run-${createHash('sha256').update(source).digest('hex').slice(0, 12)}.sh` };
  return cached;
}

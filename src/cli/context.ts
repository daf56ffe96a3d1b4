// The project a command acts on: found by walking up from the working directory, or --root / ORCH_ROOT.
import { OrchError } from '../errors.js';
import { findProjectRoot, statePaths, type StatePaths } from '../store/paths.js';
import type { GlobalOptions } from './output.js';

export function projectPaths(options: GlobalOptions, cwd: string = process.cwd()): StatePaths {
  const found = findProjectRoot(cwd, options.root);
  if (found === undefined) {
    const from = options.root ?? process.env.ORCH_ROOT ?? cwd;
    throw new OrchError('ORCH_USAGE', `no .isollm/ (or orchestrator/state/) found at ${from}${options.root ?? process.env.ORCH_ROOT ? '' : ' or above'}`, {
      hint: 'run `orch init` in your project root, or pass --root DIR',
    });
  }
  return statePaths(found.root, found.layout);
}

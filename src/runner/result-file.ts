// The JSON a command may leave in ORCH_RESULT_FILE. Reading it never throws: a missing file is no
// result, and a bad one (not JSON, wrong shape, too large, a symlink) is an error the engine records
// as a failed attempt, naming the file and the problem.
import type { CommandResult, Tokens } from '../generated/types.js';
import { OrchError } from '../errors.js';
import { loadDocument, toOrchError } from '../store/load.js';
import { pathExists } from '../store/paths.js';

/** A result file larger than this is refused (it is a summary, not a transcript). */
export const MAX_RESULT_BYTES = 1024 * 1024;

export interface CommandResultRead {
  result?: CommandResult;
  error?: OrchError;
}

export async function readCommandResult(path: string, maxBytes: number = MAX_RESULT_BYTES): Promise<CommandResultRead> {
  // Most commands leave no result file: one lstat says so, where a failed open costs two errors with
  // their stacks (the system's and ours). A file that appears after this look was not the command's.
  if (!pathExists(path)) return {};
  try {
    const loaded = await loadDocument('result', path, { maxBytes });
    return { result: loaded.doc };
  } catch (error) {
    const failure = toOrchError(path, error);
    if (failure.code === 'ORCH_NOT_FOUND') return {};
    return { error: failure };
  }
}

/** Tokens as one number: a number as is; an object's `total`, else input + output. */
export function totalTokens(tokens: Tokens | undefined): number | undefined {
  if (tokens === undefined) return undefined;
  if (typeof tokens === 'number') return tokens;
  if (tokens.total !== undefined) return tokens.total;
  if (tokens.input === undefined && tokens.output === undefined) return undefined;
  return (tokens.input ?? 0) + (tokens.output ?? 0);
}

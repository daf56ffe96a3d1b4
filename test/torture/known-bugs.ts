// Bugs the torture suite found that are not fixed yet (no tests of its own). A violation that one of
// them explains is reported as a `todo` instead of a failure, so the suite stays green and still says
// each time it sees one; everything else fails. Remove an entry once its fix is in: the tests then
// hold the line. docs/reliability.md describes each bug and its fix.
import type { Test } from 'tap';
import type { Violation } from './oracle.js';

/**
 * A new find gets an entry here, `id: 'what breaks, and where'`, and a matcher in knownBugOf (or a
 * `todo` at the check that sees it). docs/reliability.md lists every bug found, fixed or not.
 */
export const KNOWN_BUGS: Readonly<Record<string, string>> = {};
export type KnownBug = string;

/** Which known bug explains `violation`, if any. */
export function knownBugOf(_violation: Violation, _root: string): KnownBug | undefined {
  return undefined;
}

export interface SplitViolations {
  unknown: Violation[];
  known: Map<KnownBug, Violation[]>;
}

export function splitKnown(violations: readonly Violation[], root: string): SplitViolations {
  const known = new Map<KnownBug, Violation[]>();
  const unknown: Violation[] = [];
  for (const v of violations) {
    const bug = knownBugOf(v, root);
    if (bug === undefined) unknown.push(v);
    else known.set(bug, [...(known.get(bug) ?? []), v]);
  }
  return { unknown, known };
}

/** One todo per known bug seen, naming it and the first violation it explains. */
export function reportKnown(t: Test, known: ReadonlyMap<KnownBug, Violation[]>, where: string): void {
  for (const [bug, violations] of known) {
    const first = violations[0];
    t.fail(`${where}: known bug ${bug} seen (${violations.length}): ${first?.invariant}: ${first?.message.slice(0, 200)}`, { todo: KNOWN_BUGS[bug] ?? bug });
  }
}

// Conflicts avoided before they happen (PRODUCT.md §14, issue 14 item 8): a task spec may declare the
// `paths` it expects to touch (globs); once a task has checkpoints, the files they changed count too.
// A NEW task whose footprint overlaps a started task's waits. Pure: globs and paths in, a reason out.
//
// Two globs overlap when one could match a file the other matches. That is decided conservatively,
// folder by folder: `src/auth/**` and `src/**/*.ts` may meet (`**` may be anything); `docs/*.md` and
// `src/**` never do (`docs` is not `src`), nor `*.json` and `lib/**` (`*.json` does not match `lib`).
// Saying "overlap" when two globs would not meet only makes a task wait; the other mistake loses work
// to a conflict, so it is the one avoided.

export interface Footprint {
  /** Declared globs (the spec's `paths`). */
  readonly globs: readonly string[];
  /** Files the task's checkpoints changed (relative to the repository root). */
  readonly files: readonly string[];
}

const WILD = /[*?[]/;

/** `*` any characters but `/`, `**` any (across folders), `?` one character but `/`; the rest literal. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i] ?? '';
    if (char === '*' && glob[i + 1] === '*') {
      // `**/` also matches no folder at all: `src/**/x.ts` matches `src/x.ts`.
      const slash = glob[i + 2] === '/';
      source += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  // A glob naming a folder takes everything in it: `src/auth` is `src/auth/**`.
  return new RegExp(`^${source}(?:/.*)?$`);
}

/** One folder-or-file name of a glob against another's. */
function segmentsMeet(a: string, b: string): boolean {
  const wildA = WILD.test(a);
  const wildB = WILD.test(b);
  if (!wildA && !wildB) return a === b;
  if (wildA && wildB) return true; // two patterns in one place: they may meet
  return wildA ? globToRegExp(a).test(b) : globToRegExp(b).test(a);
}

function globsMeet(a: string, b: string): boolean {
  const sa = a.split('/').filter(part => part !== '');
  const sb = b.split('/').filter(part => part !== '');
  // A plain path meets a glob that matches it, or (a folder) one that reaches inside it.
  if (!WILD.test(a) || !WILD.test(b)) {
    const [path, glob, sp, sg] = WILD.test(a) ? [b, a, sb, sa] : [a, b, sa, sb];
    if (globToRegExp(glob).test(path)) return true;
    if (!WILD.test(glob)) return glob.startsWith(`${path}/`);
    return sg.length > sp.length && walk(sp, sg);
  }
  return walk(sa, sb);
}

/** Name by name until one list ends (a folder takes what is in it) or a `**` (it may be anything). */
function walk(sa: readonly string[], sb: readonly string[]): boolean {
  for (let i = 0; i < Math.min(sa.length, sb.length); i++) {
    if (sa[i] === '**' || sb[i] === '**') return true;
    if (!segmentsMeet(sa[i] ?? '', sb[i] ?? '')) return false;
  }
  return true;
}

/** Where two footprints meet, said for a person (`src/auth/** ~ src/auth/login.ts`); undefined when they do not. */
export function overlapOf(a: Footprint, b: Footprint): string | undefined {
  for (const ga of a.globs) {
    for (const gb of b.globs) if (globsMeet(ga, gb)) return ga === gb ? ga : `${ga} ~ ${gb}`;
    const file = b.files.find(f => globToRegExp(ga).test(f));
    if (file !== undefined) return `${ga} ~ ${file}`;
  }
  for (const gb of b.globs) {
    const file = a.files.find(f => globToRegExp(gb).test(f));
    if (file !== undefined) return `${file} ~ ${gb}`;
  }
  const mine = new Set(a.files);
  return b.files.find(f => mine.has(f));
}

/** The first of `others` whose footprint meets `mine`, with where; undefined when none does. */
export function firstOverlap(mine: Footprint, others: Iterable<{ id: string; footprint: Footprint }>): { id: string; where: string } | undefined {
  if (mine.globs.length === 0 && mine.files.length === 0) return undefined;
  for (const other of others) {
    const where = overlapOf(mine, other.footprint);
    if (where !== undefined) return { id: other.id, where };
  }
  return undefined;
}

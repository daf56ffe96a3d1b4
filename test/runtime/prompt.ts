// What a phase is told: the reviewer's diff in its prompt and placeholders, clipped to fit one argv string.
import t from 'tap';
import { createRecord } from '../../src/machine/record.js';
import { DIFF_PLACEHOLDER_MAX_CHARS, phasePrompt, placeholderValues } from '../../src/runtime/prompt.js';

const record = createRecord({ goal: 'add a flag' }, 'T', 'tasks/T.json', 'a'.repeat(64), 0);
const base = { record, phase: 'code_review' as const, step: undefined, attempt: 1, feedback: undefined, resultFile: '/r/result.json' };

t.test('a reviewer with a diff is told where it is; one with an empty diff that there is no change', async t => {
  t.match(phasePrompt({ ...base, diff: { file: '/r/diff.patch', text: '+x\n' } }), /as a diff of the task's branch against its base commit, is in the file \/r\/diff\.patch/);
  t.match(phasePrompt({ ...base, diff: { file: '/r/diff.patch', text: '' } }), /no change against its base commit yet/);
  t.notMatch(phasePrompt(base), /diff/, 'without a worktree, nothing is said of a diff');
});

t.test('{{diff}} is clipped to what one argv string may hold, and names the file with the whole of it', async t => {
  const long = 'x'.repeat(DIFF_PLACEHOLDER_MAX_CHARS + 10);
  const vars = placeholderValues({ ...base, model: undefined, provider: undefined, diff: { file: '/r/diff.patch', text: long } });
  t.ok(String(vars.diff).length < DIFF_PLACEHOLDER_MAX_CHARS + 200);
  t.match(vars.diff, /clipped at 65536 characters: the whole diff is in \/r\/diff\.patch/);
  t.equal(vars.diff_file, '/r/diff.patch');
  t.equal(placeholderValues({ ...base, model: undefined, provider: undefined }).diff, '', 'no worktree: empty');
});

t.test('an implementer in the task\'s worktree is told where it works and that orch commits; reviewers and a root run are not', async t => {
  const worktree = { path: '/wt/T', branch: 'orch/T' };
  t.match(phasePrompt({ ...base, phase: 'implement', worktree }), /edit the files in the working directory, \/wt\/T \(the task's own git worktree, on branch orch\/T\)\. orch commits what you change there: do not commit/);
  t.notMatch(phasePrompt({ ...base, phase: 'implement' }), /worktree/, 'in the project root: as before');
  t.notMatch(phasePrompt({ ...base, phase: 'code_review', worktree }), /do not commit/);
});

// Footprints (issue 14 item 8): when two tasks' declared paths, or the files one's checkpoints changed,
// may meet. Conservative by design: "may meet" makes a task wait; the other mistake loses work.
import t from 'tap';
import { firstOverlap, globToRegExp, overlapOf } from '../../src/machine/footprint.js';

const globs = (...list: string[]) => ({ globs: list, files: [] });
const files = (...list: string[]) => ({ globs: [], files: list });

t.test('globs: * within a folder, ** across folders (and none), ? one character, a folder takes what is in it', async t => {
  const cases: [string, string, boolean][] = [
    ['src/*.ts', 'src/a.ts', true],
    ['src/*.ts', 'src/auth/a.ts', false],
    ['src/**', 'src/auth/a.ts', true],
    ['src/**/*.ts', 'src/a.ts', true],
    ['src/**/*.ts', 'src/x/y/a.ts', true],
    ['src/**/*.ts', 'src/a.js', false],
    ['a?.md', 'ab.md', true],
    ['a?.md', 'a/.md', false],
    ['src/auth', 'src/auth/login.ts', true],
    ['src/auth', 'src/authz.ts', false],
    ['file(1).txt', 'file(1).txt', true],
    ['file(1).txt', 'file1.txt', false],
  ];
  for (const [glob, path, expected] of cases) t.equal(globToRegExp(glob).test(path), expected, `${glob} ${expected ? 'matches' : 'does not match'} ${path}`);
});

t.test('two globs meet when one\'s literal folders lie in the other\'s; never across separate folders', async t => {
  t.equal(overlapOf(globs('src/auth/**'), globs('src/**/*.ts')), 'src/auth/** ~ src/**/*.ts');
  t.equal(overlapOf(globs('src/auth/**'), globs('src/auth/login.ts')), 'src/auth/** ~ src/auth/login.ts');
  t.equal(overlapOf(globs('README.md'), globs('README.md')), 'README.md');
  t.equal(overlapOf(globs('src/auth'), globs('src/auth/login.ts')), 'src/auth ~ src/auth/login.ts');
  t.equal(overlapOf(globs('docs/*.md'), globs('src/**')), undefined);
  t.equal(overlapOf(globs('src/auth/**'), globs('src/billing/**')), undefined);
  t.equal(overlapOf(globs('src/a.ts'), globs('src/b.ts')), undefined);
  t.equal(overlapOf(globs('src/auth'), globs('src/authz.ts')), undefined, 'a folder name is not a prefix of a file name');
  t.equal(overlapOf(globs('**/*.ts'), globs('docs/x.md')), undefined, 'a literal file meets a glob only if the glob matches it');
  t.equal(overlapOf(globs('*.json'), globs('lib/**')), undefined);
  t.equal(overlapOf(globs('**'), globs('lib/**')), '** ~ lib/**', 'everything meets everything');
});

t.test('changed files meet the globs that match them, and the same files', async t => {
  t.equal(overlapOf(globs('lib/**'), files('lib/x.ts')), 'lib/** ~ lib/x.ts');
  t.equal(overlapOf(files('lib/x.ts'), globs('lib/*.ts')), 'lib/x.ts ~ lib/*.ts');
  t.equal(overlapOf(files('a.txt', 'b.txt'), files('c.txt', 'b.txt')), 'b.txt');
  t.equal(overlapOf(globs('lib/**'), files('src/x.ts')), undefined);
  t.equal(firstOverlap(globs(), [{ id: 'A', footprint: globs('**') }]), undefined, 'a task that declares nothing waits for nothing');
  t.same(firstOverlap(globs('src/**'), [{ id: 'A', footprint: globs('docs/**') }, { id: 'B', footprint: files('src/main.ts') }]), { id: 'B', where: 'src/** ~ src/main.ts' });
});

t.test('a glob reaching into a folder named plainly meets it, past a **', async t => {
  t.equal(overlapOf(globs('src/**/x/*.ts'), globs('src/a/b')), 'src/**/x/*.ts ~ src/a/b');
  t.equal(overlapOf(globs('src/*/x.ts'), globs('src/a')), 'src/*/x.ts ~ src/a');
  t.equal(overlapOf(globs('src/*/x.ts'), globs('lib/a')), undefined);
});

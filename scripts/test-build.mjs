// Builds .test-build/: the repository as the test suite sees it, with every TypeScript file of src/,
// test/, scripts/ and bench/ compiled to JavaScript once (by the same tsc run that typechecks them),
// and everything else linked to the real file. `npm test` runs tap inside it, so no test process
// loads tsx.
//
// Why: under tsx every test process paid its loader thread and a hook call per imported module
// (tap alone is hundreds): 0.5 to 0.8 s of CPU for a test file that does nothing, a whole second
// more for a file that starts children under tsx, on a suite of 150 files on a 2-core machine.
//
// The mirror keeps the tests' relative paths true: `../../dist`, `../../schemas`, a fixture beside
// its test, and a `.ts` path handed to a child that runs under tsx (each .ts is linked beside its
// .js). Plain-JS files in the tree (.mjs fixtures, .cjs validators) are links, so a child started on
// them runs the real file. Snapshots are copies whose keys name the .js file tap runs.
//
// Run: node scripts/test-build.mjs   (then: cd .test-build && tap [files])
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, '.test-build');
/** Folders whose TypeScript is compiled; tsconfig.json includes exactly these. */
const COMPILED = ['src', 'test', 'scripts', 'bench'];
/** Never mirrored: git's own, tap's state of the real tree, and the mirror itself. */
const SKIPPED = new Set(['.git', '.tap', '.test-build']);

rmSync(OUT, { recursive: true, force: true });
const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
try {
  execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.test.json')], { cwd: ROOT, stdio: 'inherit' });
} catch {
  console.error('test-build: tsc reported errors (above): fix them, then run npm test again');
  process.exit(1);
}

// tsc's maps name the real .ts (../../../test/x/y.ts). Stack traces are mapped through them (tap adds
// --enable-source-maps), and t.mockImport resolves its keys against the caller's file as the stack
// names it, so a map must name the .ts linked beside its .js in the mirror, not the real one.
function pointMapsHere(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) pointMapsHere(path);
    else if (entry.name.endsWith('.js.map')) {
      const map = JSON.parse(readFileSync(path, 'utf8'));
      map.sources = map.sources.map(source => basename(source));
      writeFileSync(path, JSON.stringify(map));
    }
  }
}
for (const dir of COMPILED) if (existsSync(join(OUT, dir))) pointMapsHere(join(OUT, dir));

const link = (target, path) => {
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(relative(dirname(path), target), path);
};

/** Links every file of a compiled folder that is not compiled output, .ts files included. */
function mirrorTree(dir) {
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) mirrorTree(path);
    else if (!existsSync(join(OUT, path))) link(join(ROOT, path), join(OUT, path));
  }
}

for (const entry of readdirSync(ROOT, { withFileTypes: true })) {
  const name = entry.name;
  if (SKIPPED.has(name) || name === 'package.json' || name === 'tap-snapshots') continue;
  if (COMPILED.includes(name)) mirrorTree(name);
  else link(join(ROOT, name), join(OUT, name));
}

// tap's snapshot keys start with the test file's path: test/x.ts becomes test/x.js here.
function mirrorSnapshots(dir) {
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) { mirrorSnapshots(path); continue; }
    const text = readFileSync(join(ROOT, path), 'utf8');
    const jsPath = path.replace(/\.ts\.test\.cjs$/, '.js.test.cjs');
    const testFile = relative('tap-snapshots', path).replace(/\.test\.cjs$/, '');
    mkdirSync(dirname(join(OUT, jsPath)), { recursive: true });
    writeFileSync(join(OUT, jsPath), text.replaceAll(`\`${testFile} > `, `\`${testFile.replace(/\.ts$/, '.js')} > `));
  }
}
if (existsSync(join(ROOT, 'tap-snapshots'))) mirrorSnapshots('tap-snapshots');

// The same package, but tap runs the compiled files without a TypeScript loader.
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
pkg.tap = {
  ...pkg.tap,
  'node-arg': pkg.tap['node-arg'].filter(arg => arg !== '--import=tsx'),
  include: ['test/**/*.js'],
};
writeFileSync(join(OUT, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);

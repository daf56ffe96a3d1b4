// Each way of saving a spec counts as one change (PRODUCT.md §6): the final content is what runs, a
// half-written or briefly missing file is never taken as final, and no save shows as a CANCELLED.
// Real editors where installed (vim; emacs is skipped with the reason when absent), and the exact
// file operations of the others. The resync interval is an hour: the watcher alone drives this.
import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, openSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { hashBytes } from '../../src/store/specs.js';
import { dropSpec, goalProject, goalRuns, specPath, startWatching, untilRecord } from '../fixtures/watch-helpers.js';

t.jobs = 1;

const run = promisify(execFile);
const pause = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms));
const FIRST = { goal: 'first' };
const FINAL = JSON.stringify({ goal: 'second' }, null, 2);

function which(program: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const VIM = which('vim');
const EMACS = which('emacs');

/** vim in batch mode, no vimrc and no viminfo; backupskip emptied, since its default skips backups under /tmp. */
function vim(backupcopy: string) {
  return async (file: string): Promise<void> => {
    await run(VIM ?? 'vim', ['-es', '-N', '-u', 'NONE', '-i', 'NONE', '-c', `set backupskip= writebackup backupcopy=${backupcopy}`, '-c', '%s/first/second/', '-c', 'wq', file]);
  };
}

/** The methods, each from a spec holding {"goal": "first"} to one whose goal is "second". */
const SAVES: Record<string, { save: (file: string) => Promise<void>; skip?: string }> = {
  'vim with backupcopy=yes (copy, then overwrite in place)': { save: vim('yes'), ...(VIM === undefined && { skip: 'vim is not installed' }) },
  'vim with backupcopy=no (rename to name~, write a new file)': { save: vim('no'), ...(VIM === undefined && { skip: 'vim is not installed' }) },
  'vim with backupcopy=auto (probe file 4913, then its choice)': { save: vim('auto'), ...(VIM === undefined && { skip: 'vim is not installed' }) },
  'emacs (lock link, backup by rename, new file)': {
    save: async file => {
      await run(EMACS ?? 'emacs', ['--batch', file, '--eval', '(progn (goto-char (point-min)) (while (search-forward "first" nil t) (replace-match "second")) (save-buffer))']);
    },
    ...(EMACS === undefined && { skip: 'emacs is not installed (`command -v emacs` found nothing); its file operations are replayed in the emacs-style case' }),
  },
  'sed -i (temp file in the folder, renamed over)': {
    save: async file => {
      await run('sed', ['-i', 's/first/second/', file]);
    },
  },
  'cp over the file (truncate, write in place)': {
    save: async file => {
      const source = join(dirname(file), '..', 'source.json');
      writeFileSync(source, FINAL);
      await run('cp', [source, file]);
    },
  },
  'mv of a temp file over it': {
    save: async file => {
      const temp = join(dirname(file), '..', 'temp.json');
      writeFileSync(temp, FINAL);
      await run('mv', [temp, file]);
    },
  },
  'shell > redirect': {
    save: async file => {
      await run('sh', ['-c', 'printf "%s" "$1" > "$2"', 'sh', FINAL, file]);
    },
  },
  'in-place truncate, then three chunks 50 ms apart (a slow writer)': {
    save: async file => {
      const fd = openSync(file, 'r+');
      try {
        ftruncateSync(fd, 0);
        const bytes = Buffer.from(FINAL);
        const third = Math.ceil(bytes.length / 3);
        for (let i = 0; i < 3; i++) {
          if (i > 0) await pause(50); // the scenario: a writer that pauses between chunks
          writeSync(fd, bytes, i * third, Math.min(third, bytes.length - i * third), i * third);
        }
      } finally {
        closeSync(fd);
      }
    },
  },
  'JetBrains safe write (name___jb_tmp___, name___jb_old___, renames)': {
    save: async file => {
      writeFileSync(`${file}___jb_tmp___`, FINAL);
      renameSync(file, `${file}___jb_old___`);
      renameSync(`${file}___jb_tmp___`, file);
      rmSync(`${file}___jb_old___`);
    },
  },
  'emacs-style (dangling .#name lock link beside the file, backup by rename, new file)': {
    save: async file => {
      const lock = join(dirname(file), `.#${file.split('/').at(-1) ?? ''}`);
      symlinkSync('root@host.4242:1700000000', lock); // emacs's lock: a symlink to nowhere
      renameSync(file, `${file}~`);
      writeFileSync(file, FINAL);
      rmSync(lock);
    },
  },
  'rm, then the file created again 50 ms later': {
    save: async file => {
      rmSync(file);
      await pause(50); // the scenario: a tool that deletes and rewrites
      writeFileSync(file, FINAL);
    },
  },
};

for (const [name, { save, skip }] of Object.entries(SAVES)) {
  t.test(`${name}: one change, the final content runs, no CANCELLED`, { ...(skip !== undefined && { skip }) }, async t => {
    const { root, log } = goalProject(t);
    await startWatching(t, root, { env: { ...process.env, GOAL_LOG: log } });
    dropSpec(root, 'A', FIRST);
    await untilRecord(root, 'A', 'to be DONE', r => r.state === 'DONE');
    const file = specPath(root, 'A');
    await save(file);
    const bytes = readFileSync(file);
    t.match(JSON.parse(bytes.toString('utf8')), { goal: 'second' }, 'the save wrote the final content');
    const r = await untilRecord(root, 'A', 'to be DONE on the final content', r => r.spec_hash === hashBytes(bytes) && r.state === 'DONE');
    t.same(goalRuns(log, 'A').map(run => run.goal), ['first', 'second'], 'one run per content: the final one last');
    t.equal(r.generation, 2, 'the save counted as one change');
    t.same(r.history.filter(h => h.to === 'CANCELLED'), [], 'no transient CANCELLED');
  });
}

// Every git call: a lock held by the person's own git is waited out, never deleted; a failure names
// the command and git's words; calls on one repository run one at a time. Real git, real repositories.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { git, indexLockOf, waitForIndexLock } from '../../src/git/run-git.js';

function repo(dir: string): string {
  execFileSync('git', ['init', '--quiet', dir]);
  writeFileSync(join(dir, 'a.txt'), 'a\n');
  return dir;
}

t.test('an index.lock held by another git is waited for, then the call goes through; the lock is never removed by orch', async t => {
  const dir = repo(t.testdir());
  const lock = join(dir, '.git/index.lock');
  writeFileSync(lock, '');
  // The other git finishes when the first wait has begun: the call must not fail in between.
  const call = git(dir, ['add', 'a.txt']);
  const released = new Promise<void>(resolve => {
    const check = setInterval(() => {
      if (!existsSync(lock)) return;
      clearInterval(check);
      setTimeout(() => {
        rmSync(lock);
        resolve();
      }, 300);
    }, 10);
  });
  await released;
  await call;
  t.equal(execFileSync('git', ['diff', '--cached', '--name-only'], { cwd: dir, encoding: 'utf8' }).trim(), 'a.txt');
});

t.test('a lock held past the wait: a clear error naming the lock, which is left where it is', async t => {
  const dir = repo(t.testdir());
  const lock = join(dir, '.git/index.lock');
  writeFileSync(lock, '');
  await t.rejects(git(dir, ['add', 'a.txt'], { lockWaitMs: 300 }), { code: 'ORCH_GIT_FAILED', hint: /another git holds .*index\.lock: orch never deletes it/ });
  t.ok(existsSync(lock));
});

t.test('a failing call names the command, where, and git\'s own words', async t => {
  const dir = repo(t.testdir());
  await t.rejects(git(dir, ['rev-parse', '--verify', 'no-such-ref']), { code: 'ORCH_GIT_FAILED', message: /git rev-parse --verify no-such-ref failed in .*: fatal: Needed a single revision/ });
});

t.test('calls on one repository run one at a time, in the order asked', async t => {
  const dir = repo(t.testdir());
  const order: string[] = [];
  await Promise.all(['1', '2', '3', '4'].map(n => git(dir, ['config', `test.v${n}`, n]).then(() => order.push(n))));
  t.same(order, ['1', '2', '3', '4']);
});

t.test('waitForIndexLock: waits while another git holds the index (a worktree\'s too), then names the lock it gave up on', async t => {
  const dir = repo(t.testdir());
  await waitForIndexLock(dir, 50); // nothing held: at once
  const lock = join(dir, '.git/index.lock');
  writeFileSync(lock, '');
  await t.rejects(waitForIndexLock(dir, 200), { code: 'ORCH_GIT_FAILED', message: new RegExp(`another git holds ${lock.replace(/[.]/g, '\\.')}: waited 0 s`) });
  t.ok(existsSync(lock), 'never removed');
  const worktree = join(dir, 'wt');
  rmSync(lock);
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '--quiet', '--allow-empty', '-m', 'one'], { cwd: dir });
  execFileSync('git', ['worktree', 'add', '--quiet', '--detach', worktree], { cwd: dir });
  t.match(indexLockOf(worktree), /\.git\/worktrees\/wt\/index\.lock$/, 'a linked worktree\'s index lock is in its admin dir');
});

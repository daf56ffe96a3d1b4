// The ssh executor (issue 17) against a real sshd on 127.0.0.1 (the test fixture): the dispatch of an
// attempt (one round trip: spool files, environment, the wrapper's start) beside a bare `ssh host true`
// on the same multiplexed connection, interleaved; and end detection: the wrapper's exitcode file
// written → the host's watch reporting it here.
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { HostLink } from '../src/executors/ssh/host-link.js';
import { controlDir, sshArgv } from '../src/executors/ssh/ssh-argv.js';
import { startSshd } from '../test/fixtures/sshd.js';
import type { Benchmark } from './lib/context.js';
import { teardowns } from './lib/teardowns.js';
import { p50RatioRow, summarize, type Row } from './lib/stats.js';

function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export const sshDispatch: Benchmark = {
  name: 'ssh-dispatch',
  about: 'an attempt dispatched over ssh (start script + wrapper) vs a bare `ssh host true` on the same master; end detection',
  async run(ctx) {
    const rounds = ctx.quick ? 10 : 60;
    const cleanup = teardowns();
    try {
      const sshd = await startSshd(cleanup.t, { alias: 'bench1', env: { SHLVL: '1' } });
      const workdir = join(ctx.workDir, 'remote');
      execFileSync('mkdir', ['-p', workdir]);
      const host = { host: 'bench1', ssh_config: sshd.configFile, workdir };
      const options = { controlDir: controlDir(), connectTimeoutS: 10 };
      const link = new HostLink({ host, ...options, spoolRoot: '.orch/spool/bench', onReachable: () => undefined });
      await link.prepare();
      const bare = sshArgv(host, options, 'true');
      const dispatch: number[] = [];
      const bareTrue: number[] = [];
      const detect: number[] = [];
      for (let i = 0; i <= rounds; i++) {
        const spoolName = `1.${i}.B${i}`;
        const spool = `.orch/spool/bench/${spoolName}`;
        let began = process.hrtime.bigint();
        await link.start({ spool, attemptId: `bench/B${i}/1/${i}`, env: { ORCH_TASK_ID: `B${i}` }, files: { 'task-spec.md': `# task ${i}\n` }, argv: ['true'] });
        const d = elapsedMs(began);
        began = process.hrtime.bigint();
        execFileSync('ssh', bare, { stdio: 'ignore' });
        const b = elapsedMs(began);
        await link.waitEnd(spoolName);
        const seen = Date.now();
        const written = statSync(join(workdir, spool, 'exitcode')).mtimeMs;
        await link.remove(spool);
        if (i === 0) continue; // the first start copies nothing but warms the master and the page cache
        dispatch.push(d);
        bareTrue.push(b);
        detect.push(seen - written);
      }
      await link.close();
      const end = summarize(detect);
      ctx.log(`ssh-dispatch: bare ssh true p50 ${summarize(bareTrue).p50.toFixed(1)} ms; end detection p50 ${end.p50.toFixed(0)} ms, p99 ${end.p99.toFixed(0)} ms`);
      const rows: Row[] = [
        p50RatioRow({ bench: 'ssh-dispatch', case: 'dispatch of an attempt (one round trip)', unit: 'ms', note: `${rounds} rounds, interleaved; baseline: ssh host true on the same master` }, summarize(dispatch), summarize(bareTrue), 1.5),
        {
          bench: 'ssh-dispatch',
          case: 'end detection: exitcode written → seen here',
          unit: 'ms',
          note: `${rounds} attempts; the watch polls every 0.2 s`,
          subject: end,
          target: '≤ 1000 ms (p99)',
          verdict: end.p99 <= 1000 ? 'PASS' : 'FAIL',
        },
      ];
      return rows;
    } finally {
      await cleanup.run();
    }
  },
};

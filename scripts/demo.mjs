#!/usr/bin/env node
// `npm run demo`: copies examples/hello into a fresh folder and runs `orch --once` on it. The stub
// agents need no AI account and no network. Prints where the run log is and what to try next.
import { cpSync, mkdtempSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'orch-demo-'));
cpSync(join(repo, 'examples', 'hello'), target, { recursive: true });
const orch = join(repo, 'dist', 'src', 'bundle', 'main.js');
console.log(`orch demo: a copy of examples/hello in ${target}\n`);
const run = spawnSync(process.execPath, [orch, '--once', '--root', target], { stdio: 'inherit' });
console.log(`
Run log:  ${join(target, 'ORCHESTRATOR_RUN_LOG.md')}
Records:  ${join(target, '.isollm', 'state', 'tasks')}/

Try next:
  node ${orch} --root ${target} --review
  node ${orch} --root ${target} approve needs-approval --note "ok to delete"
  node ${orch} --root ${target} --once
`);
process.exit(run.status ?? 1);

// The floor for drop-to-start: what any tool must do between a task file appearing and its command
// starting. fs.watch on the tasks folder; on a new *.json: read and parse it, one durable write (temp
// file, write, fsync, rename, fsync of the dir), one log line (O_APPEND), and spawn the command in its
// own process group. Run: node drop-floor.mjs <dir> '<argv as JSON>'; prints "ready" once watching.
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, constants as fsc, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, watch, writeSync } from 'node:fs';
import { join } from 'node:path';

const [dir, argvJson] = process.argv.slice(2);
const argv = JSON.parse(argvJson);
const tasks = join(dir, 'tasks');
const records = join(dir, 'records');
mkdirSync(tasks, { recursive: true });
mkdirSync(join(records, '.tmp'), { recursive: true });
const seen = new Set();
let counter = 0;

function durableWrite(target, text) {
  const temp = join(records, '.tmp', `${counter++}.tmp`);
  const fd = openSync(temp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o644);
  writeSync(fd, text);
  fsyncSync(fd);
  closeSync(fd);
  renameSync(temp, target);
  const dirFd = openSync(records, fsc.O_RDONLY | fsc.O_DIRECTORY);
  fsyncSync(dirFd);
  closeSync(dirFd);
}

watch(tasks, (_event, name) => {
  if (typeof name !== 'string' || !name.endsWith('.json') || seen.has(name)) return;
  let spec;
  try {
    spec = JSON.parse(readFileSync(join(tasks, name), 'utf8'));
  } catch {
    return; // not there (yet): a later event brings it
  }
  seen.add(name);
  const id = name.slice(0, -'.json'.length);
  durableWrite(join(records, name), JSON.stringify({ id, state: 'IMPLEMENTING', spec }));
  appendFileSync(join(dir, 'log.md'), `- ${new Date().toISOString()} task ${id} started\n`);
  const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore', detached: true, env: { ...process.env, ORCH_TASK_ID: id } });
  child.unref();
});
process.stdout.write('ready\n');

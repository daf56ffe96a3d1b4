// `orch --clean-state` / `orch clean-state [--yes]`: every task starts over. Refused (exit 3) while
// a live orchestrator holds the state dir, before anything is asked.
import { OrchError } from '../../errors.js';
import { cleanState, planCleanState } from '../../project/clean.js';
import { describeHolder, judgeHolder, readSession, HOLDER_STATES } from '../../store/session.js';
import { projectPaths } from '../context.js';
import { good, warn } from '../format/colour.js';
import { printJson, println, type GlobalOptions } from '../output.js';
import { confirm, describeItems, formatBytes } from './clean.js';

export interface CleanStateCommandOptions extends GlobalOptions {
  yes?: boolean;
}

export async function cleanStateCommand(options: CleanStateCommandOptions): Promise<number> {
  const paths = projectPaths(options);
  const session = await readSession(paths);
  if (session !== undefined && judgeHolder(session).state === HOLDER_STATES.held) {
    throw new OrchError('ORCH_SESSION_HELD', `refusing to clean the state: a live orch holds this state dir: ${describeHolder(session)}`, {
      details: { file: paths.session, pid: session.owner.pid, host: session.owner.host, since: session.started_at, run_id: session.run_id },
      hint: `stop it first (kill ${session.owner.pid} on ${session.owner.host}), then run this again`,
    });
  }
  const items = await planCleanState(paths);
  const total = items.reduce((sum, item) => sum + item.bytes, 0);
  if (options.json !== true) {
    println(`--clean-state removes every task record and its archived copy, worker, inbox decision, run artifact, events.jsonl and the record index (${items.length} item(s), ${formatBytes(total)});`);
    println('specs, config, session.json and the run log stay. Every task starts over.');
    if (options.verbose === true) for (const line of describeItems(items)) println(line);
  }
  if (!(await confirm('Clean the state?', { yes: options.yes, what: 'orch --clean-state' }))) {
    println('nothing removed');
    return 0;
  }
  const result = await cleanState(paths);
  if (options.json === true) {
    printJson(result);
    return 0;
  }
  for (const stop of result.stopped) println(`${warn('stopped')} process group ${stop.pgid} left running for task ${stop.task}`);
  println(`${good('cleaned')} ${result.removed.length} item(s); every task starts over on the next run`);
  return 0;
}

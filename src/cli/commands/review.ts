// `orch review` and `orch --review`: the tasks waiting for a person, their plans, and the commands that
// act on each. Its cold start matters: it imports only the record reader and the text helpers.
import { listAwaitingHuman, REVIEW_ITEM_FIELDS, type ReviewItem, type ReviewPlan, type ReviewStep } from '../../project/review.js';
import { page, pageInfo, parseFields, parseLimit, parseOffset, pickFields, type ReadOptions } from '../format/bounds.js';
import { bad, dim, heading, warn } from '../format/colour.js';
import { relative, shellQuote, shorten, when } from '../format/text.js';
import { projectPaths } from '../context.js';
import { printJson, println } from '../output.js';

/** Steps of a plan printed per task; the rest are counted (orch show ID, or --json, has them all). */
export const PLAN_STEPS_SHOWN = 20;

function stepText(step: ReviewStep): string {
  const goal = step.goal === null ? null : (step.goal.split(/\r?\n/).find(line => line.trim() !== '') ?? '').trim();
  return [step.title, goal].filter(text => text !== null && text !== '').join(': ') || '(no title or goal)';
}

function printPlan(plan: ReviewPlan, id: string, orch: string): void {
  let from: string;
  switch (plan.source) {
    case 'none':
      println(`  plan: none, the task runs as one step (its goal)`);
      return;
    case 'spec':
      from = 'from the spec';
      break;
    case 'planner':
      from = 'from the planner';
      break;
    default: {
      const never: never = plan.source;
      throw new Error(`unknown plan source ${String(never)}`);
    }
  }
  println(`  plan (${plan.steps.length} step${plan.steps.length === 1 ? '' : 's'}, ${from}):`);
  const shown = plan.steps.slice(0, PLAN_STEPS_SHOWN);
  const idWidth = Math.max(...shown.map(step => step.id.length));
  const stateWidth = Math.max(...shown.map(step => step.state.length));
  for (const step of shown) {
    const attempts = step.attempts === 0 ? '' : dim(` (${step.attempts} attempt${step.attempts === 1 ? '' : 's'})`);
    println(`  ${step.current ? '→' : ' '} ${step.id.padEnd(idWidth)}  ${step.state.padEnd(stateWidth)}  ${shorten(stepText(step), 120)}${attempts}`);
  }
  if (plan.steps.length > shown.length) println(dim(`    … and ${plan.steps.length - shown.length} more (${orch} show ${id})`));
}

function printItem(item: ReviewItem, now: number, orch: string): void {
  println(`${heading(item.id)}  ${shorten(item.title, 100)}`);
  println(`  waiting since ${when(item.since, now)}`);
  println(`  why: ${warn(item.kind ?? 'unknown')}${item.phase === null ? '' : ` at ${item.phase}`}: ${shorten(item.reason, 300)}`);
  if (item.last_error !== null) {
    const e = item.last_error;
    println(`  last error: ${bad(shorten(e.message, 200))} ${dim(`(${[e.phase, e.reason, relative(e.at, now)].filter(t => t !== null).join(', ')})`)}`);
  }
  if (item.last_review !== null) {
    const r = item.last_review;
    println(`  last review: ${r.outcome} by ${r.by}${r.phase === undefined ? '' : ` (${r.phase})`} ${relative(r.at, now)}${r.notes === undefined ? '' : `: ${shorten(r.notes, 200)}`}`);
  }
  printPlan(item.plan, item.id, orch);
  const width = Math.max(...item.commands.map(c => c.command.length));
  println('  act:');
  for (const command of item.commands) println(`    ${command.command.padEnd(width)}  ${dim(command.effect)}`);
}

export async function reviewCommand(options: ReadOptions): Promise<number> {
  const paths = projectPaths(options);
  const fields = parseFields(options.fields, REVIEW_ITEM_FIELDS, 'orch review');
  const limit = parseLimit(options.limit);
  const offset = parseOffset(options.offset);
  // The commands shown must work as typed: keep the --root the user gave.
  const orch = options.root === undefined ? 'orch' : `orch --root ${shellQuote(options.root)}`;
  const list = await listAwaitingHuman(paths, { orch });
  const shown = page(list.items, limit, offset);
  if (options.json === true) {
    printJson({ tasks: shown.items.map(item => pickFields(item, fields)), page: pageInfo(shown), invalid: list.invalid.slice(0, limit), invalid_total: list.invalid.length });
    return 0;
  }
  const now = Date.now();
  if (list.items.length === 0) {
    println('No task is waiting for a human.');
  } else {
    const range = shown.items.length === 0 ? `none from --offset ${offset}` : `${offset + 1}-${offset + shown.items.length} shown`;
    println(heading(`${list.items.length} task${list.items.length === 1 ? ' is' : 's are'} waiting for a human${shown.more || offset > 0 ? ` (${range}; --limit N and --offset N for others)` : ''}:`));
    for (const item of shown.items) {
      println();
      printItem(item, now, orch);
    }
    println();
    println(dim('Each command takes --note "why"; the note is kept in the record and handed to the next attempt.'));
  }
  if (list.invalid.length > 0) {
    println();
    println(bad(`${list.invalid.length} record file(s) could not be read (run \`orch status\`): ${list.invalid.slice(0, 3).map(f => f.path).join(', ')}${list.invalid.length > 3 ? ', …' : ''}`));
  }
  return 0;
}

// Demo reviewer (plan, step and code review): approves, except that a task with
// DEMO_REJECT_FIRST_PLAN=1 has its first plan rejected with a note the planner receives.
import { readFileSync, writeFileSync } from 'node:fs';

const phase = process.env.ORCH_PHASE;
const record = JSON.parse(readFileSync(process.env.ORCH_RECORD_FILE, 'utf8'));
const plans = record.attempts.filter(a => a.phase === 'plan').length;
const reject = phase === 'plan_review' && process.env.DEMO_REJECT_FIRST_PLAN === '1' && plans === 1;
const result = reject
  ? { outcome: 'rejected', reason: 'The plan has no step that checks the result: add one.' }
  : { outcome: 'approved', reason: 'Looks good.' };
console.log(`${phase} of ${process.env.ORCH_TASK_ID}: ${result.outcome}`);
writeFileSync(process.env.ORCH_RESULT_FILE, JSON.stringify({ ...result, cost_usd: 0.001, tokens: 400 }));

// Demo planner: reads the task from ORCH_TASK_FILE and writes a two-step plan to ORCH_RESULT_FILE.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';

const task = JSON.parse(readFileSync(process.env.ORCH_TASK_FILE, 'utf8'));
const feedback = process.env.ORCH_FEEDBACK_FILE && existsSync(process.env.ORCH_FEEDBACK_FILE) ? readFileSync(process.env.ORCH_FEEDBACK_FILE, 'utf8').trim() : '';
console.log(`planning ${process.env.ORCH_TASK_ID} (attempt ${process.env.ORCH_ATTEMPT})${feedback ? `, taking feedback into account: ${feedback}` : ''}`);
const plan = [
  { id: 'S1', title: 'Draft', goal: `draft: ${task.goal}` },
  { id: 'S2', title: feedback ? 'Polish, with the reviewer notes' : 'Polish', goal: `polish: ${task.goal}` },
];
writeFileSync(process.env.ORCH_RESULT_FILE, JSON.stringify({ plan, cost_usd: 0.0045, tokens: { input: 1200, output: 300 } }));

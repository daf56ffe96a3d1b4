// Demo quality check: the task's output file exists and has one line per step.
import { readFileSync } from 'node:fs';

const task = process.env.ORCH_TASK_ID;
try {
  const lines = readFileSync(`out/${task}.txt`, 'utf8').trim().split('\n');
  console.log(`out/${task}.txt has ${lines.length} line(s)`);
  process.exit(lines.length >= 1 ? 0 : 1);
} catch {
  console.error(`out/${task}.txt is missing`);
  process.exit(1);
}

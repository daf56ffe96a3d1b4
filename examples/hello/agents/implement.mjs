// Demo implementer: appends the step's goal to out/<task>.txt. With DEMO_FAIL_FIRST_ATTEMPT=1 the
// first attempt of each step fails like a dropped connection (retryable: orch backs off and retries).
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';

const { ORCH_TASK_ID: task, ORCH_STEP_ID: step, ORCH_ATTEMPT: attempt } = process.env;
if (process.env.DEMO_FAIL_FIRST_ATTEMPT === '1' && attempt === '1') {
  console.error(`step ${step}: ECONNRESET: connection reset by peer`);
  process.exit(1);
}
mkdirSync('out', { recursive: true });
appendFileSync(`out/${task}.txt`, `${step}: ${process.argv[2] ?? ''}\n`);
console.log(`implemented ${task} step ${step} (attempt ${attempt})`);
writeFileSync(process.env.ORCH_RESULT_FILE, JSON.stringify({ outcome: 'done', cost_usd: 0.012, tokens: { input: 3000, output: 900 } }));

// What a phase command is told: the `{{...}}` placeholder values, among them `{{prompt}}`, a
// plain-language instruction for agent CLIs (`claude -p {{prompt}}`) built from the task and phase.
import type { PhaseName, Step, TaskRecord } from '../generated/types.js';

const PHASE_ASKS: { [P in PhaseName]: string } = {
  plan: 'Plan this task: break it into small steps. Write the plan as JSON {"plan": [{"id", "title", "goal"}]} to the file named by ORCH_RESULT_FILE.',
  plan_review: 'Review the plan of this task. Write {"outcome": "approved"} or {"outcome": "rejected", "reason": "..."} to the file named by ORCH_RESULT_FILE.',
  implement: 'Implement this step of the task in the working tree.',
  step_review: 'Review the change made for this step. Write {"outcome": "approved"} or {"outcome": "rejected", "reason": "..."} to ORCH_RESULT_FILE.',
  code_review: 'Review the whole change of this task. Write {"outcome": "approved"} or {"outcome": "rejected", "reason": "..."} to ORCH_RESULT_FILE.',
  quality_gate: 'Run the quality checks.',
};

export interface PromptInput {
  record: TaskRecord;
  phase: PhaseName;
  step: Step | undefined;
  attempt: number;
  feedback: string | undefined;
}

export function phasePrompt({ record, phase, step, attempt, feedback }: PromptInput): string {
  const spec = record.spec;
  const lines = [`Task ${record.id}: ${spec.title ?? ''}`.trim(), '', spec.goal ?? spec.title ?? '', ''];
  if (step !== undefined && (phase === 'implement' || phase === 'step_review')) {
    lines.push(`Step ${step.id}: ${step.title ?? ''}`.trim(), step.goal ?? '', '');
  }
  if (phase === 'plan_review' || phase === 'code_review') {
    lines.push('Plan:', ...record.steps.map(s => `- ${s.id}: ${s.title ?? s.goal ?? ''}`), '');
  }
  lines.push(PHASE_ASKS[phase]);
  if (attempt > 1) lines.push('', `This is attempt ${attempt}.`);
  if (feedback !== undefined && feedback !== '') lines.push('', 'The previous attempt was sent back with this feedback:', feedback);
  return lines.join('\n');
}

/** The values `{{...}}` placeholders can name. */
export function placeholderValues(input: PromptInput & { model: string | undefined; provider: string | undefined }): Record<string, unknown> {
  const { record, phase, step, attempt, feedback } = input;
  return {
    task: { ...record.spec, id: record.id, title: record.spec.title ?? '', goal: record.spec.goal ?? record.spec.title ?? '' },
    step: { id: step?.id ?? '', title: step?.title ?? '', goal: step?.goal ?? '' },
    phase,
    attempt,
    feedback: feedback ?? '',
    model: input.model ?? '',
    provider: input.provider ?? '',
    prompt: phasePrompt(input),
  };
}

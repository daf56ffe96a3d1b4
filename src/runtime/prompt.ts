// What a phase command is told: the `{{...}}` placeholder values, among them `{{prompt}}`, a
// plain-language instruction for agent CLIs (`claude -p {{prompt}}`) built from the task and phase.
import { isDecisionPhase } from '../agents/index.js';
import type { PhaseName, Step, TaskRecord, Worktree } from '../generated/types.js';
import { specFieldNames } from '../schema/spec-fields.js';

const VERDICT = '{"outcome": "approved"} or {"outcome": "rejected", "reason": "what must change"}';

/**
 * What each phase asks for. Phases that decide ask for their JSON in a fenced block at the end of the
 * final message: every client can deliver that without permission to write a file (Claude Code refused
 * a shell write to $ORCH_RESULT_FILE). The result file stays offered, by absolute path, for those that can.
 */
const PHASE_ASKS: { [P in PhaseName]: string } = {
  plan: `Plan this task: break it into small steps. Do not change any file. End your final message with the plan as a fenced \`\`\`json block: {"plan": [{"id": "S1", "title": "...", "goal": "..."}]}`,
  plan_review: `Review the plan of this task. Do not change any file. End your final message with your verdict as a fenced \`\`\`json block: ${VERDICT}`,
  implement: 'Implement this step of the task: edit the files in the working directory.',
  step_review: `Review the change made for this step. Do not change any file. End your final message with your verdict as a fenced \`\`\`json block: ${VERDICT}`,
  code_review: `Review the whole change of this task. Do not change any file. End your final message with your verdict as a fenced \`\`\`json block: ${VERDICT}`,
  quality_gate: 'Run the quality checks.',
};

export interface PromptInput {
  record: TaskRecord;
  phase: PhaseName;
  step: Step | undefined;
  attempt: number;
  feedback: string | undefined;
  /** Absolute path of ORCH_RESULT_FILE. */
  resultFile: string;
  /** A reviewer's diff of the task's branch against its base (isolation worktree): its file, and its text. */
  diff?: { file: string; text: string } | undefined;
  /** The task's own worktree (isolation worktree): the implementer is told where it works, and that orch commits. */
  worktree?: Pick<Worktree, 'path' | 'branch'> | undefined;
}

/** The most of a diff `{{diff}}` carries: one argv string may not pass 128 KiB on Linux. */
export const DIFF_PLACEHOLDER_MAX_CHARS = 64 * 1024;

export function phasePrompt({ record, phase, step, attempt, feedback, resultFile, diff, worktree }: PromptInput): string {
  const spec = record.spec;
  const lines = [`Task ${record.id}: ${spec.title ?? ''}`.trim(), '', spec.goal ?? spec.title ?? '', ''];
  if (step !== undefined && (phase === 'implement' || phase === 'step_review')) {
    lines.push(`Step ${step.id}: ${step.title ?? ''}`.trim(), step.goal ?? '', '');
  }
  if (phase === 'plan_review' || phase === 'code_review') {
    lines.push('Plan:', ...record.steps.map(s => `- ${s.id}: ${s.title ?? s.goal ?? ''}`), '');
  }
  if (diff !== undefined) {
    lines.push(diff.text === '' ? 'The task\'s branch has no change against its base commit yet.' : `The change to review, as a diff of the task's branch against its base commit, is in the file ${diff.file}; the working directory holds the changed tree.`, '');
  }
  lines.push(phase === 'implement' && worktree !== undefined ? implementInWorktree(worktree) : PHASE_ASKS[phase]);
  if (isDecisionPhase(phase)) lines.push(`(Instead of the block, you may write the same JSON to the file ${resultFile}.)`);
  if (attempt > 1) lines.push('', `This is attempt ${attempt}.`);
  if (feedback !== undefined && feedback !== '') lines.push('', 'The previous attempt was sent back with this feedback:', feedback);
  return lines.join('\n');
}

/**
 * An implementer in the task's own worktree is told where that is (an agent that looks for "the
 * repository" elsewhere would edit the person's checkout) and that orch commits its changes.
 */
function implementInWorktree(worktree: Pick<Worktree, 'path' | 'branch'>): string {
  return `Implement this step of the task: edit the files in the working directory, ${worktree.path} (the task's own git worktree, on branch ${worktree.branch}). orch commits what you change there: do not commit, and do not change files outside it.`;
}

/** The values `{{...}}` placeholders can name. */
export function placeholderValues(input: PromptInput & { model: string | undefined; provider: string | undefined }): Record<string, unknown> {
  const { record, phase, step, attempt, feedback } = input;
  return {
    // Every spec field is there ('' when this spec leaves it out): config validation accepts
    // {{task.<any spec field>}}, so a task without an `area` must not fail a command that names it.
    task: {
      ...Object.fromEntries(specFieldNames().map(field => [field, ''])),
      ...record.spec,
      id: record.id,
      title: record.spec.title ?? '',
      goal: record.spec.goal ?? record.spec.title ?? '',
    },
    step: { id: step?.id ?? '', title: step?.title ?? '', goal: step?.goal ?? '' },
    phase,
    attempt,
    feedback: feedback ?? '',
    model: input.model ?? '',
    provider: input.provider ?? '',
    result_file: input.resultFile,
    diff: clipDiff(input.diff?.text ?? '', input.diff?.file ?? ''),
    diff_file: input.diff?.file ?? '',
    prompt: phasePrompt(input),
  };
}

/** `{{diff}}`: the diff, or its head and where the whole of it is. */
function clipDiff(text: string, file: string): string {
  if (text.length <= DIFF_PLACEHOLDER_MAX_CHARS) return text;
  return `${text.slice(0, DIFF_PLACEHOLDER_MAX_CHARS)}\n… (clipped at ${DIFF_PLACEHOLDER_MAX_CHARS} characters: the whole diff is in ${file})\n`;
}

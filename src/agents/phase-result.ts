// Where a phase's result comes from, in order (PRODUCT.md §13): the result file, the client's structured
// output, a fenced JSON block in the agent's final message. A phase that must decide and produced no
// decision has failed: a review that said nothing never approves, a plan that named no steps never
// becomes a one-step plan. Pure: the caller reads the file and parses the client's output.
import type { CommandResult, PhaseName } from '../generated/types.js';
import { validateDocument } from '../store/load.js';
import { lastFencedJson } from './fenced-result.js';
import type { AgentReport } from './types.js';

/** The phases whose result is a decision: without one, the attempt failed. */
export const DECISION_PHASES = ['plan', 'plan_review', 'step_review', 'code_review'] as const satisfies readonly PhaseName[];

export function isDecisionPhase(phase: PhaseName): boolean {
  return (DECISION_PHASES as readonly PhaseName[]).includes(phase);
}

export interface PhaseResultInput {
  readonly phase: PhaseName;
  /** The result file's content, validated, if the command wrote one. */
  readonly fromFile: CommandResult | undefined;
  /** The path of the result file, for messages. */
  readonly resultFile: string;
  /** What the adapter read from the client's output ({} for plain commands). */
  readonly report: AgentReport;
}

export interface PhaseResult {
  /** The result, with the client's reported model, cost and tokens taken over where the client gave them. */
  readonly result: CommandResult | undefined;
  /** Where the decision came from, for the run log and tests. */
  readonly source: 'result_file' | 'structured' | 'final_message' | undefined;
  /** Set when the phase must count as failed: why, in one line a person understands. */
  readonly problem: string | undefined;
}

/** Does `result` carry what `phase` must decide? */
function decides(phase: PhaseName, result: CommandResult): boolean {
  if (result.outcome === 'failed') return true; // a command that says it failed has said enough
  if (phase === 'plan') return result.plan !== undefined && result.plan.length > 0;
  if (phase === 'plan_review' || phase === 'step_review' || phase === 'code_review') {
    return result.outcome === 'approved' || result.outcome === 'rejected';
  }
  return true;
}

export function resolvePhaseResult(input: PhaseResultInput): PhaseResult {
  const { phase, report } = input;
  const channels: { source: NonNullable<PhaseResult['source']>; value: unknown; where: string }[] = [];
  if (input.fromFile !== undefined) channels.push({ source: 'result_file', value: input.fromFile, where: input.resultFile });
  if (report.structured !== undefined) channels.push({ source: 'structured', value: report.structured, where: "the client's structured output" });
  const fenced = lastFencedJson(report.final_message);
  if (fenced !== undefined) channels.push({ source: 'final_message', value: fenced, where: 'the JSON block of the final message' });

  let chosen: { source: NonNullable<PhaseResult['source']>; result: CommandResult } | undefined;
  let firstValid: typeof chosen;
  let malformed: string | undefined;
  for (const channel of channels) {
    let result: CommandResult;
    try {
      result = validateDocument('result', channel.where, channel.value);
    } catch (error) {
      const problem = `the result in ${channel.where} is invalid: ${(error as Error).message}`;
      // A result file is written on purpose: a malformed one fails the attempt. A JSON block in the
      // agent's prose (or its bare-JSON answer) may be something else: it only counts when nothing decided.
      if (channel.source === 'result_file') return { result: undefined, source: channel.source, problem };
      malformed ??= problem;
      continue;
    }
    firstValid ??= { source: channel.source, result };
    if (decides(phase, result)) {
      chosen = { source: channel.source, result };
      break;
    }
  }
  const picked = chosen ?? firstValid;
  const result = withClientReport(picked?.result, report);
  if (chosen === undefined && isDecisionPhase(phase)) {
    if (malformed !== undefined) return { result, source: picked?.source, problem: malformed };
    const what = phase === 'plan' ? 'no plan (a non-empty "plan" list)' : 'no verdict ("outcome": "approved" or "rejected")';
    return { result, source: picked?.source, problem: `${what} in the output of ${phase}` };
  }
  return { result, source: picked?.source, problem: undefined };
}

/**
 * The client's own figures win over what the agent wrote about itself: the model the API served, the
 * cost and tokens the client counted. A plain command's result file is its only report.
 */
function withClientReport(result: CommandResult | undefined, report: AgentReport): CommandResult | undefined {
  const tokens = report.tokens;
  const hasTokens = tokens !== undefined && (tokens.total ?? (tokens.input ?? 0) + (tokens.output ?? 0)) > 0;
  if (result === undefined && report.model === undefined && report.cost_usd === undefined && !hasTokens) return undefined;
  return {
    ...result,
    ...(report.model !== undefined && { model: report.model }),
    ...(report.cost_usd !== undefined && { cost_usd: report.cost_usd }),
    ...(hasTokens && {
      tokens: {
        ...(tokens.input !== undefined && { input: tokens.input }),
        ...(tokens.output !== undefined && { output: tokens.output }),
        total: tokens.total ?? (tokens.input ?? 0) + (tokens.output ?? 0),
      },
    }),
  };
}

// How an agent client's attempt ended, judged from the client's own output first (PRODUCT.md §13): its
// structured error and exit code before any text rule; the text rules see only the client's final error
// and the tail of its stderr, never the tool output inside its transcript (a tool that printed
// "command not found" says nothing about why the client failed). The result comes from the result file,
// the client's structured output or the final message's JSON block; a phase that must decide and did not
// has failed.
import { classifyAgentError, usageErrorOf } from '../agents/classify-error.js';
import { resolvePhaseResult, type AgentAdapter, type AgentError, type AgentReport } from '../agents/index.js';
import type { AttemptReason, CommandResult, PhaseName } from '../generated/types.js';
import type { AttemptAgentFacts } from '../machine/events.js';
import type { ResolvedRetryPolicy } from '../retry/defaults.js';
import { classifyFailure } from '../runner/classify.js';
import type { CommandOutcome } from '../runner/outcome.js';
import { readFileTail } from '../runner/output-sink.js';
import type { CommandResultRead } from '../runner/result-file.js';
import type { AttemptFinishedEvent } from './attempt.js';

/** Most bytes of a client's stdout that are parsed (its transcript; the output file's cap is larger). */
export const MAX_TRANSCRIPT_BYTES = 32 * 1024 * 1024;
/** How much of the end of stderr the text rules and the error message see. */
export const STDERR_TAIL_BYTES = 8 * 1024;

export interface AgentOutput {
  readonly stdout: string;
  readonly stderrTail: string;
}

/** The client's transcript and the tail of its stderr, from the attempt's output files. */
export function readAgentOutput(stdoutPath: string, stderrPath: string): AgentOutput {
  return { stdout: readFileTail(stdoutPath, MAX_TRANSCRIPT_BYTES).text, stderrTail: readFileTail(stderrPath, STDERR_TAIL_BYTES).text };
}


export interface AgentRunInput {
  readonly adapter: AgentAdapter;
  readonly outcome: CommandOutcome;
  readonly output: AgentOutput;
  readonly read: CommandResultRead;
  readonly phase: PhaseName;
  readonly resultFile: string;
  readonly retry: ResolvedRetryPolicy;
  readonly now: number;
}

export interface AgentRunJudgement {
  readonly reason: AttemptReason;
  readonly extra: Partial<AttemptFinishedEvent>;
}

export function judgeAgentRun(input: AgentRunInput): AgentRunJudgement {
  const { adapter, outcome, output, read, phase } = input;
  const report: AgentReport = adapter.parse(output.stdout, output.stderrTail, outcome.exit_code);
  const judged = resolvePhaseResult({ phase, fromFile: read.result, resultFile: input.resultFile, report });
  const result: CommandResult | undefined = judged.result;
  const clientError: AgentError | undefined =
    report.error ?? (outcome.reason === 'failed' ? usageErrorOf(outcome.exit_code, output.stderrTail) : undefined);
  const facts: AttemptAgentFacts = {
    ...(report.session_id !== undefined && { session_id: report.session_id }),
    ...(clientError !== undefined && { error_kind: clientError.kind }),
    ...(clientError?.status !== undefined && { http_status: clientError.status }),
    ...(judged.source !== undefined && { result_source: judged.source }),
  };
  const base = { agent: facts, ...(result !== undefined && { result }) };

  if (outcome.reason === 'succeeded' && clientError === undefined) {
    const problem = read.error !== undefined ? `the result file is invalid: ${read.error.message}` : judged.problem;
    if (problem !== undefined) return { reason: 'failed', extra: { ...base, retryable: true, error: problem } };
    if (result?.outcome === 'failed') return { reason: 'failed', extra: { ...base, retryable: true, error: result.reason ?? `the ${phase} command reported outcome "failed"` } };
    return { reason: 'succeeded', extra: base };
  }
  if (outcome.reason === 'cancelled') return { reason: 'cancelled', extra: { ...base, retryable: false, ...(outcome.error !== undefined && { error: outcome.error }) } };

  // A timeout or a stall is the clock's verdict, whatever the client printed.
  if (clientError !== undefined && outcome.reason !== 'timed_out' && outcome.reason !== 'stalled') {
    const verdict = classifyAgentError(clientError, input.now);
    return {
      reason: verdict.rate_limited_until !== undefined ? 'rate_limited' : 'failed',
      extra: {
        ...base,
        retryable: verdict.retryable,
        error: `${adapter.binary}: ${clientError.message}`,
        signature: `${clientError.kind}${clientError.status === undefined ? '' : ` ${clientError.status}`}: ${clientError.message.slice(0, 200)}`,
        ...(verdict.config_problem && { config_problem: true }),
        ...(verdict.rate_limited_until !== undefined && { rate_limited_until: verdict.rate_limited_until }),
      },
    };
  }
  // No structured error: the configured text rules, on the client's last words only.
  const lastWords = [report.final_message?.slice(-2000) ?? '', output.stderrTail].filter(text => text !== '').join('\n');
  const failure = { ...outcome, reason: outcome.reason === 'succeeded' ? ('failed' as const) : outcome.reason, output_tail: lastWords };
  const verdict = classifyFailure(failure, input.retry, input.now);
  const stderrLine = output.stderrTail.trim().split('\n').at(-1)?.trim();
  const error = [outcome.error ?? `${adapter.binary} failed`, stderrLine].filter(part => part !== undefined && part !== '').join(': ');
  return {
    reason: verdict.rate_limited_until !== undefined ? 'rate_limited' : failure.reason,
    extra: {
      ...base,
      retryable: verdict.retryable,
      error: error.slice(0, 1000),
      signature: verdict.signature,
      ...(verdict.rate_limited_until !== undefined && { rate_limited_until: verdict.rate_limited_until }),
    },
  };
}

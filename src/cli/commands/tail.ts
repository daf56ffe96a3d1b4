// `orch tail [-f] [ID]`: the end of an attempt's stdout and stderr; -f follows until the attempt ends.
import { errnoCode } from '../../errors.js';
import { followAttempts, lastLinesOf, STREAMS, tailTargets, type StreamName, type TailTarget } from '../../project/tail.js';
import { parseFields, parseLimit, pickFields, refuseOffset, type ReadOptions } from '../format/bounds.js';
import { agentRenderer, type StreamRenderer } from '../format/agent-render.js';
import { dim, heading } from '../format/colour.js';
import { projectPaths } from '../context.js';
import { printJson, println } from '../output.js';

export interface TailOptions extends ReadOptions {
  follow?: boolean;
  /** An agent client's output as written, not rendered. */
  raw?: boolean;
}

/** Lines of each stream shown before following, without --limit. */
export const DEFAULT_TAIL_LINES = 50;

const TAIL_FIELDS = ['task_id', 'n', 'phase', 'step', 'running', 'reason', 'exit_code', 'started_at', 'ended_at', 'stdout_path', 'stderr_path', 'stdout', 'stderr'] as const;

function label(target: TailTarget): string {
  return `${target.task_id} #${target.n} ${target.phase}${target.step === null ? '' : ` ${target.step}`}`;
}

function state(target: TailTarget): string {
  if (target.running) return 'running';
  return `${target.reason ?? 'ended'}${target.exit_code === null ? '' : `, exit ${target.exit_code}`}`;
}

export async function tailCommand(id: string | undefined, options: TailOptions): Promise<number> {
  const paths = projectPaths(options);
  refuseOffset(options.offset, 'orch tail');
  const lines = parseLimit(options.limit, DEFAULT_TAIL_LINES);
  const fields = parseFields(options.fields, TAIL_FIELDS, 'orch tail --json');
  const targets = await tailTargets(paths, id);
  if (targets.length === 0) {
    const none = id === undefined ? 'no attempt is running' : `task ${id} has no attempt yet`;
    if (options.json === true) printJson({ attempts: [], message: none });
    else println(none);
    return 0;
  }
  // The end of each stream, and where following carries on from.
  const from = new Map<string, number>();
  const initial = await Promise.all(targets.map(async target => {
    const texts = { stdout: '', stderr: '' };
    for (const stream of STREAMS) {
      const read = await lastLinesOf(paths, target, stream, lines);
      texts[stream] = read?.text ?? '';
      from.set(target[stream], read?.size ?? 0);
    }
    return { target, texts };
  }));

  // An agent client's stdout is its machine-readable stream: rendered for people, one renderer per
  // attempt (it keeps a partial line until the rest arrives).
  const renderers = new Map<TailTarget, StreamRenderer | undefined>();
  const rendered = (target: TailTarget, stream: StreamName, text: string, end = false): string => {
    if (options.raw === true || stream !== 'stdout') return text;
    if (!renderers.has(target)) renderers.set(target, agentRenderer(target.provider));
    const renderer = renderers.get(target);
    if (renderer === undefined) return text;
    return renderer.push(text) + (end ? renderer.end() : '');
  };
  if (options.json !== true) for (const entry of initial) entry.texts.stdout = rendered(entry.target, 'stdout', entry.texts.stdout, options.follow !== true);

  if (options.follow !== true) {
    if (options.json === true) {
      printJson({
        attempts: initial.map(({ target, texts }) => pickFields({
          task_id: target.task_id, n: target.n, phase: target.phase, step: target.step, running: target.running, reason: target.reason,
          exit_code: target.exit_code, started_at: target.started_at, ended_at: target.ended_at, stdout_path: target.stdout,
          stderr_path: target.stderr, stdout: texts.stdout, stderr: texts.stderr,
        }, fields)),
        lines,
      });
      return 0;
    }
    for (const { target, texts } of initial) {
      for (const stream of STREAMS) {
        println(heading(`==> ${label(target)} ${stream} (${state(target)}) <==`));
        process.stdout.write(texts[stream] === '' ? `${dim('(empty)')}\n` : texts[stream].endsWith('\n') ? texts[stream] : `${texts[stream]}\n`);
      }
    }
    return 0;
  }

  // -f: text with a header whenever the source changes (as tail does with several files), or one
  // JSON object a line with --json.
  let current = '';
  let atLineStart = true;
  const write = (target: TailTarget, stream: StreamName, raw: string, fromFile = true): void => {
    if (raw === '') return;
    if (options.json === true) {
      process.stdout.write(`${JSON.stringify({ task_id: target.task_id, n: target.n, stream, text: raw })}\n`);
      return;
    }
    const text = fromFile ? rendered(target, stream, raw) : raw;
    if (text === '') return;
    const source = `${label(target)} ${stream}`;
    if (source !== current) {
      if (!atLineStart) process.stdout.write('\n');
      println(heading(`==> ${source} <==`));
      current = source;
    }
    process.stdout.write(text);
    atLineStart = text.endsWith('\n');
  };
  for (const { target, texts } of initial) for (const stream of STREAMS) write(target, stream, texts[stream], false);

  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // A closed pipe (`orch tail -f | head`) ends the follow instead of crashing on EPIPE.
  const onPipeError = (error: unknown): void => {
    if (errnoCode(error) === 'EPIPE') stop();
  };
  process.stdout.on('error', onPipeError);
  try {
    await followAttempts(paths, targets, {
      signal: controller.signal,
      from,
      onOutput: write,
      onEnd: (target, why) => {
        const rest = options.json === true ? '' : (renderers.get(target)?.end() ?? '');
        if (rest !== '') write(target, 'stdout', rest, false);
        if (options.json === true) {
          process.stdout.write(`${JSON.stringify({ task_id: target.task_id, n: target.n, ended: why })}\n`);
          return;
        }
        if (!atLineStart) process.stdout.write('\n');
        println(dim(`==> ${label(target)}: ${why} <==`));
        current = '';
        atLineStart = true;
      },
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.stdout.off('error', onPipeError);
  }
  return 0;
}

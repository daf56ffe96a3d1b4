// `orch tail` for people: an agent client's machine-readable stream (claude's stream-json, codex's
// --json events) rendered line by line through its adapter: what it says, the tools it calls with their
// files and commands, the results, the cost. `--raw` shows the bytes as written.
import { adapterFor, type RenderedLine } from '../../agents/index.js';
import { dim, heading } from './colour.js';

const MARKS: { readonly [K in RenderedLine['kind']]: (text: string) => string } = {
  text: text => text,
  // A tool's result (`  ↳ …`, indented under its call) keeps its own mark.
  tool: text => (text.trimStart().startsWith('↳') ? text : `→ ${text}`),
  result: text => heading(`✔ ${text}`),
  error: text => `✖ ${text}`,
  info: text => dim(text),
};

export interface StreamRenderer {
  /** The rendered text of the complete lines in `chunk` (a partial last line waits for the rest). */
  push(chunk: string): string;
  /** Whatever is left (the output ended without a newline). */
  end(): string;
}

/** A renderer for the stdout of `provider`'s client; undefined for a plain command (shown as it is). */
export function agentRenderer(provider: string | null | undefined): StreamRenderer | undefined {
  const adapter = adapterFor(provider ?? undefined);
  if (adapter.provider === 'command') return undefined;
  let partial = '';
  const render = (lines: string[]): string =>
    lines
      .flatMap(line => adapter.render(line))
      .map(line => `${MARKS[line.kind](line.text)}\n`)
      .join('');
  return {
    push(chunk) {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      return render(lines);
    },
    end() {
      const rest = partial;
      partial = '';
      return rest === '' ? '' : render([rest]);
    },
  };
}

// JSON.parse with the place of a syntax error as file:line:column, so a user can jump to it.
import { OrchError } from '../errors.js';

/** Line and column (both from 1) of a character offset in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line += 1;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** The character offset V8 reports for a JSON syntax error, or the end of the text if it reports none. */
function errorOffset(message: string, text: string): number {
  const position = /at position (\d+)/.exec(message);
  if (position) return Number(position[1]);
  const lineCol = /line (\d+) column (\d+)/.exec(message);
  if (lineCol) {
    const lines = text.split('\n').slice(0, Number(lineCol[1]) - 1);
    return lines.reduce((sum, l) => sum + l.length + 1, 0) + Number(lineCol[2]) - 1;
  }
  return text.length;
}

export function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const offset = errorOffset((error as Error).message, text);
    const { line, column } = lineColumn(text, offset);
    const what = (error as Error).message.replace(/ in JSON at position \d+.*$/, '').replace(/^JSON\.parse: /, '');
    throw new OrchError('ORCH_INVALID_JSON', `${file}:${line}:${column}: invalid JSON: ${what}`, {
      cause: error,
      details: { file, line, column },
      hint: 'fix the JSON syntax at that place; the file is kept as it is and checked again when it changes',
    });
  }
}

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

/**
 * The character offset of a JSON syntax error: V8's "at position N" when its message has one, else
 * our own scan (V8 omits the position for "Unexpected token 'x'", as in `[1,]` or `{"a": tru}`).
 */
function errorOffset(message: string, text: string): number {
  const position = /at position (\d+)/.exec(message);
  if (position) return Number(position[1]);
  return syntaxErrorOffset(text);
}

/** Thrown inside the scanner to stop at the first error; `i` then holds its offset. */
const STOP = Symbol('json syntax error');

/** Offset of the first JSON syntax error in `text` (RFC 8259 grammar), or its length if none is found. */
export function syntaxErrorOffset(text: string): number {
  let i = 0;
  const skipSpace = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text.charAt(i))) i++;
  };
  const expect = (char: string): void => {
    if (text.charAt(i) !== char) throw STOP;
    i++;
  };
  const string = (): void => {
    expect('"');
    for (;;) {
      const c = text.charAt(i);
      if (c === '' || c < ' ') throw STOP;
      i++;
      if (c === '"') return;
      if (c !== '\\') continue;
      const escape = text.charAt(i);
      if (escape === 'u') {
        i++;
        for (let k = 0; k < 4; k++) {
          if (!/[0-9a-fA-F]/.test(text.charAt(i))) throw STOP;
          i++;
        }
      } else if (escape !== '' && '"\\/bfnrt'.includes(escape)) i++;
      else throw STOP;
    }
  };
  const value = (): void => {
    skipSpace();
    const c = text.charAt(i);
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      skipSpace();
      if (text.charAt(i) === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === '{') {
          skipSpace();
          string();
          skipSpace();
          expect(':');
        }
        value();
        skipSpace();
        if (text.charAt(i) !== ',') return expect(close);
        i++;
      }
    }
    if (c === '"') return string();
    const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    number.lastIndex = i;
    const match = number.exec(text);
    if (match !== null) {
      i += match[0].length;
      return;
    }
    const word = c === 't' ? 'true' : c === 'f' ? 'false' : c === 'n' ? 'null' : undefined;
    if (word === undefined) throw STOP;
    for (const char of word) expect(char);
  };
  try {
    value();
    skipSpace();
    return i < text.length ? i : text.length;
  } catch (error) {
    if (error === STOP) return i;
    return text.length; // too deeply nested for the scanner's stack: point at the end
  }
}

export function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const offset = errorOffset((error as Error).message, text);
    const { line, column } = lineColumn(text, offset);
    // V8 appends the position, or for an unexpected token a snippet of the text: the place is ours to say.
    const what = (error as Error).message
      .replace(/(?: in JSON)? at position \d+.*$/s, '')
      .replace(/, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, '');
    throw new OrchError('ORCH_INVALID_JSON', `${file}:${line}:${column}: invalid JSON: ${what}`, {
      cause: error,
      details: { file, line, column },
      hint: 'fix the JSON syntax at that place; the file is kept as it is and checked again when it changes',
    });
  }
}

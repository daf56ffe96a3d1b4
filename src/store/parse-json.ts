// JSON.parse with the place of a syntax error as file:line:column, so a user can jump to it, and no
// duplicate keys: JSON.parse keeps the last of `{"goal":"a","goal":"b"}` silently, and a person who
// wrote both cannot know which one orch used.
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
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
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
  // Every state file comes through here (`orch status` reads thousands): a duplicate is looked for
  // only when the two cheap counts say there is one.
  if (keyTokenBound(text) > parsedKeyCount(value)) {
    const duplicate = findDuplicateKey(text);
    if (duplicate !== undefined) throw duplicateKeyError(file, text, duplicate);
  }
  return value;
}

/** The keys of every object in a parsed tree, counted (iteratively: a parsed tree may be deep). */
export function parsedKeyCount(value: unknown): number {
  let count = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (item === null || typeof item !== 'object') continue;
    // Object.values: own keys only (a polluted Object.prototype adds none), __proto__ included.
    const children = Array.isArray(item) ? item : Object.values(item);
    if (!Array.isArray(item)) count += children.length;
    for (const child of children) if (child !== null && typeof child === 'object') stack.push(child);
  }
  return count;
}

/**
 * At least the number of key tokens in valid JSON `text`: colons whose previous non-space character
 * is a `"`. Every key ends so; inside a string, only an escaped `\"` before a colon counts too, which
 * errs high (the exact scan then runs for nothing), never low. One native indexOf per colon and no
 * regex: /"(?:[^"\\]|\\.)*"/ over a 16 MB string overflows the regex engine's stack (RangeError).
 */
export function keyTokenBound(text: string): number {
  let count = 0;
  for (let colon = text.indexOf(':'); colon !== -1; colon = text.indexOf(':', colon + 1)) {
    let before = colon - 1;
    while (isJsonSpace(text.charCodeAt(before))) before--;
    if (text.charCodeAt(before) === QUOTE) count++;
  }
  return count;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isJsonSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

export interface DuplicateKey {
  key: string;
  /** Offsets of the opening quotes of the first and the second occurrence. */
  first: number;
  second: number;
}

/**
 * The first key that appears twice in one object of valid JSON `text`, by one flat pass (no recursion:
 * the nesting may be deep). Keys are compared decoded, so "a" and "\u0061" are the same key.
 */
export function findDuplicateKey(text: string): DuplicateKey | undefined {
  const open: (Map<string, number> | undefined)[] = []; // one per open object (a Map) or array
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x7b) open.push(new Map());
    else if (code === 0x5b) open.push(undefined);
    else if (code === 0x7d || code === 0x5d) open.pop();
    else if (code === QUOTE) {
      const start = i;
      let escaped = false;
      for (i++; i < text.length && text.charCodeAt(i) !== QUOTE; i++) {
        if (text.charCodeAt(i) === BACKSLASH) {
          escaped = true;
          i++;
        }
      }
      let next = i + 1;
      while (isJsonSpace(text.charCodeAt(next))) next++;
      const keys = open.at(-1);
      if (text.charCodeAt(next) !== 0x3a || keys === undefined) continue;
      const raw = text.slice(start, i + 1);
      const key = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
      const first = keys.get(key);
      if (first !== undefined) return { key, first, second: start };
      keys.set(key, start);
    }
  }
  return undefined;
}

function duplicateKeyError(file: string, text: string, duplicate: DuplicateKey): OrchError {
  const { line, column } = lineColumn(text, duplicate.second);
  const first = lineColumn(text, duplicate.first);
  const shown = JSON.stringify(duplicate.key.length > 80 ? `${duplicate.key.slice(0, 80)}…` : duplicate.key);
  return new OrchError(
    'ORCH_INVALID_JSON',
    `${file}:${line}:${column}: invalid JSON: duplicate key ${shown} (first at line ${first.line}, column ${first.column})`,
    {
      details: { file, line, column, key: duplicate.key, first: { line: first.line, column: first.column } },
      hint: `remove one of the two ${shown} keys: JSON keeps only the last one, so orch refuses to guess which you meant`,
    },
  );
}

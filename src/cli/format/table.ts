// Plain-text tables for the read commands: columns padded to their widest cell, measured without
// colour escapes, so coloured and NO_COLOR output line up the same.
import { shorten } from './text.js';

export interface Column<R> {
  /** The key --fields uses for this column. */
  key: string;
  header: string;
  /** The cell's text (uncoloured), already one line. */
  cell(row: R): string;
  /** Colour for the cell (applied after padding is measured). */
  paint?(text: string, row: R): string;
  /** Cut longer cells to this many characters. */
  max?: number;
  /** Right-align (numbers). */
  right?: boolean;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** Characters a terminal shows for `text` (colour escapes excluded). */
export function visibleWidth(text: string): number {
  return [...text.replace(ANSI, '')].length;
}

function pad(text: string, width: number, right: boolean): string {
  const gap = ' '.repeat(Math.max(0, width - visibleWidth(text)));
  return right ? gap + text : text + gap;
}

/** The table as lines: a header, then one line per row; trailing spaces trimmed. */
export function renderTable<R>(columns: readonly Column<R>[], rows: readonly R[], header: (text: string) => string = text => text): string[] {
  const cells = rows.map(row => columns.map(column => shorten(column.cell(row), column.max ?? 200)));
  const widths = columns.map((column, i) => Math.max(visibleWidth(column.header), ...cells.map(line => visibleWidth(line[i] ?? ''))));
  const lines = [header(columns.map((column, i) => pad(column.header, widths[i] ?? 0, column.right === true)).join('  ').trimEnd())];
  rows.forEach((row, r) => {
    const line = columns.map((column, i) => {
      const text = cells[r]?.[i] ?? '';
      const padded = pad(text, widths[i] ?? 0, column.right === true);
      // Colour only the text, not the padding, so widths stay right whatever paint does.
      return column.paint === undefined || text === '' ? padded : padded.replace(text, column.paint(text, row));
    });
    lines.push(line.join('  ').trimEnd());
  });
  return lines;
}

/** The columns --fields asked for (in that order), or the default ones. */
export function chooseColumns<R>(all: readonly Column<R>[], fields: readonly string[] | undefined, defaults: readonly string[]): Column<R>[] {
  const keys = fields ?? defaults;
  return keys.map(key => all.find(column => column.key === key)).filter((column): column is Column<R> => column !== undefined);
}

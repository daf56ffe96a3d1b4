import t from 'tap';
import { listTotals, page, parseFields, parseLimit, parseOffset, pickFields } from '../../src/cli/format/bounds.js';
import { chooseColumns, renderTable, visibleWidth, type Column } from '../../src/cli/format/table.js';
import { duration, firstLine, money, relative, shellQuote, shorten } from '../../src/cli/format/text.js';

t.test('--limit and --offset take whole numbers in range; anything else is ORCH_USAGE', async t => {
  t.equal(parseLimit(undefined), 50);
  t.equal(parseLimit(undefined, 1), 1);
  t.equal(parseLimit(' 7 '), 7);
  t.equal(parseOffset(undefined), 0);
  t.equal(parseOffset('0'), 0);
  for (const bad of ['0', '-1', '1.5', 'ten', '', '10001', '1e3']) t.throws(() => parseLimit(bad), { code: 'ORCH_USAGE' }, `--limit ${bad}`);
  t.throws(() => parseOffset('-2'), { code: 'ORCH_USAGE' });
});

t.test('--fields keeps the order asked, drops repeats, and refuses unknown names listing the known ones', async t => {
  const known = ['id', 'state', 'cost'] as const;
  t.equal(parseFields(undefined, known, 'x'), undefined);
  t.same(parseFields('cost, id,cost', known, 'x'), ['cost', 'id']);
  t.throws(() => parseFields('id,colour', known, 'orch x'), { code: 'ORCH_USAGE', message: 'unknown field "colour" for orch x', hint: 'known fields: id, state, cost' });
  t.throws(() => parseFields(' , ', known, 'orch x'), { code: 'ORCH_USAGE' });
  t.same(Object.keys(pickFields({ id: 1, state: 's', cost: 2 }, ['cost', 'id'])), ['cost', 'id']);
  t.same(pickFields({ id: 1 }, undefined), { id: 1 });
  t.same(listTotals({ attempts: 3, history: 4 }, ['id', 'history']), { history: 4 });
  t.equal(listTotals({ attempts: 3 }, ['id']), undefined);
});

t.test('page slices and says whether more follow', async t => {
  const items = [1, 2, 3, 4, 5];
  t.same(page(items, 2), { items: [1, 2], total: 5, offset: 0, limit: 2, more: true });
  t.same(page(items, 2, 4), { items: [5], total: 5, offset: 4, limit: 2, more: false });
  t.same(page(items, 10, 9), { items: [], total: 5, offset: 9, limit: 10, more: false });
});

t.test('tables align on visible width, so coloured cells line up with plain ones', async t => {
  interface Row { id: string; n: number }
  const columns: Column<Row>[] = [
    { key: 'id', header: 'ID', cell: r => r.id, paint: text => `\u001b[31m${text}\u001b[39m` },
    { key: 'n', header: 'N', cell: r => String(r.n), right: true },
  ];
  const lines = renderTable(columns, [{ id: 'a', n: 10 }, { id: 'long-id', n: 2 }]);
  t.same(lines.map(visibleWidth), [11, 11, 11]);
  t.equal(lines[0], `ID${' '.repeat(8)}N`);
  t.equal(lines[2], '\u001b[31mlong-id\u001b[39m   2');
  t.same(chooseColumns(columns, ['n'], ['id']).map(c => c.key), ['n']);
  t.same(chooseColumns(columns, undefined, ['id']).map(c => c.key), ['id']);
});

t.test('text helpers: first line, no control characters, money, durations, relative times, quoting', async t => {
  t.equal(firstLine('\n  \n second \nthird'), 'second');
  t.equal(firstLine(undefined), '');
  t.equal(shorten('a\u001b[2Jb\nc', 100), 'a[2Jb c', 'a terminal escape from a command is defanged');
  t.equal(shorten('abcdef', 4), 'abc…');
  t.equal(money(0.38), '$0.38');
  t.equal(money(0.0045), '$0.0045');
  t.equal(money(0), '$0.00');
  t.equal(duration(12.34), '12.3s');
  t.equal(duration(245), '4m 05s');
  t.equal(duration(7380), '2h 03m');
  t.equal(relative('2025-01-01T00:00:00.000Z', Date.parse('2025-01-01T00:03:00.000Z')), '3m 00s ago');
  t.equal(relative('2025-01-01T00:00:20.000Z', Date.parse('2025-01-01T00:00:00.000Z')), 'in 20s');
  t.equal(shellQuote('../my project'), `'../my project'`);
  t.equal(shellQuote('/srv/app'), '/srv/app');
});

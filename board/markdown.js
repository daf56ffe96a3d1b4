// The run log's markdown (PRODUCT.md §9), rendered line by line for the board: headings, `**Label**:`
// lines, list items (nested by indent), rules, `code` and **bold**. Only that subset: the run log is
// written by orch in that shape. Built with DOM nodes and textContent, never parsed as HTML, so a task's
// title in the log cannot inject anything.

function element(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.append(...children);
  return node;
}

/** `code` and **bold** of one line's text, as nodes. */
export function inline(text) {
  const nodes = [];
  // Backticks first: what is inside code is shown as it is.
  for (const [index, part] of text.split('`').entries()) {
    if (index % 2 === 1) nodes.push(element('code', '', part));
    else for (const [at, piece] of part.split('**').entries()) if (piece !== '') nodes.push(at % 2 === 1 ? element('strong', '', piece) : piece);
  }
  return nodes;
}

/** One line of the run log as a node; undefined for a blank line. */
export function renderMarkdownLine(line) {
  if (line.trim() === '') return undefined;
  const heading = /^(#{1,6})\s+(.*)$/.exec(line);
  if (heading) return element(`h${Math.min(6, heading[1].length + 2)}`, 'md-heading', ...inline(heading[2]));
  if (/^\s*(-{3,}|\*{3,})\s*$/.test(line)) return element('hr', 'md-rule');
  const item = /^(\s*)[-*]\s+(.*)$/.exec(line);
  if (item) return element('div', `md-item md-depth-${Math.min(4, Math.floor(item[1].length / 2))}`, ...inline(item[2]));
  return element('p', 'md-line', ...inline(line));
}

// The last channel a phase result can come through (PRODUCT.md §13): a fenced JSON block in the agent's
// final message, which orch's prompt asks for. Any client can deliver it, with no permission to write files.

/** ```json … ``` (or a bare ``` fence whose body is a JSON object): the body of each. */
const FENCE = /```[ \t]*(json|JSON)?[ \t]*\r?\n([\s\S]*?)\r?\n?```/g;

/**
 * The last fenced block of `text` that parses as a JSON object, or undefined. The last one wins: an
 * agent that quotes an example early in its answer and gives its verdict at the end means the verdict.
 */
export function lastFencedJson(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let found: Record<string, unknown> | undefined;
  for (const match of text.matchAll(FENCE)) {
    const body = (match[2] ?? '').trim();
    if (!body.startsWith('{')) continue;
    try {
      const value: unknown = JSON.parse(body);
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) found = value as Record<string, unknown>;
    } catch {
      // Not JSON: prose in a fence. Keep looking.
    }
  }
  return found;
}

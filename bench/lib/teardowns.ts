// The test fixtures (a real sshd…) want a tap Test only for its teardown: a benchmark runs that itself.
import type { Test } from 'tap';

export function teardowns(): { t: Test; run: () => Promise<void> } {
  const pending: (() => unknown)[] = [];
  return {
    t: { teardown: (fn: () => unknown) => pending.push(fn) } as unknown as Test,
    run: async () => {
      for (const fn of pending.reverse()) await fn();
    },
  };
}

// One run at a time of an async step (watching a changed folder anew twice at once would leave two
// watches): a call while it runs joins that run, and the step runs once more before the run ends, so
// a change seen during a run is never missed.

/** Wraps `step`; `stop()` true ends the repeats (the watcher was closed). */
export function singleFlight(step: () => Promise<void>, stop: () => boolean): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  return function run(): Promise<void> {
    if (running !== undefined) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await step();
        } while (again && !stop());
      } finally {
        // Cleared in the same step as the last look at `again`: a .finally() callback would come a
        // microtask later, and a call in between would join a run that is already over.
        running = undefined;
      }
    })();
    return running;
  };
}

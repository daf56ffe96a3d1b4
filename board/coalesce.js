// One run at a time for a burst of triggers: a trigger while a run is under way asks for one more run
// after it, never two at once and never one per event (a burst of a hundred events draws twice).

/** A trigger that runs `run` (async) coalesced; `onError` gets what a run threw. */
export function coalesced(run, onError) {
  let running = Promise.resolve();
  let again = false;
  return () => {
    if (again) return;
    again = true;
    running = running.then(async () => {
      again = false;
      await run().catch(onError);
    });
  };
}

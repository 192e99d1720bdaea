import { setImmediate as yieldToLoop } from "node:timers/promises";

/** How long a loop of synchronous work may hold the event loop's thread before it lets others run. */
export const SLICE_MS = 4;

/**
 * Long synchronous work (a batch of memories screened, indexed or written) in slices of at most
 * `ms` milliseconds of the thread: the function returned yields one turn of the event loop once the
 * current slice has run that long, and costs nothing otherwise, so short work never waits and long
 * work never stalls the requests that arrive meanwhile.
 *
 * @example
 * const slice = timeSlices();
 * for (const m of batch) { await slice(); screen(m); }
 */
export function timeSlices(ms = SLICE_MS): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < ms) return;
    await yieldToLoop();
    since = performance.now();
  };
}

import { performance } from "node:perf_hooks";

/** Below this share of the serving thread's time in use, exports read at their whole budget. */
const IDLE_BELOW = 0.5;
/** At or above this share, exports read at the floor. */
const BUSY_FROM = 0.9;
/** The share of the budget exports keep however busy the thread is, so an export always ends. */
const FLOOR = 0.25;

/**
 * How busy the serving thread has been lately: the event loop's utilisation (the share of time it
 * ran callbacks rather than waited) over the last stretch of at least 100 ms.
 */
export function loopBusy(): () => number {
  let mark = performance.eventLoopUtilization();
  let last = 0;
  return () => {
    const now = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(now, mark);
    if (delta.idle + delta.active >= 100) {
      last = delta.utilization;
      mark = now;
    }
    return last;
  };
}

/**
 * A budget of rows per second shared by every export of the process (a token bucket holding at most
 * one second's worth). An export takes its page's rows from it before reading the next page and
 * waits when it is empty, so exports together never use more than the budget, however many run.
 * The budget shrinks while the serving thread is busy with other requests (`busy`, 0–1: linearly
 * from the whole budget at half the thread's time to a quarter of it at 90%), so an export is
 * background work: it streams at full rate on a quiet server and yields the thread on a loaded one.
 * `now`, `sleep` and `busy` are injected.
 */
export function createRowPacer(
  rowsPerSecond: number,
  now: () => number = () => performance.now(),
  sleep: (ms: number) => Promise<unknown> = (ms) => new Promise((r) => setTimeout(r, ms)),
  busy: () => number = loopBusy(),
) {
  let tokens = rowsPerSecond;
  let last = now();
  const rate = () => {
    const b = busy();
    const share =
      b <= IDLE_BELOW
        ? 1
        : b >= BUSY_FROM
          ? FLOOR
          : 1 - ((1 - FLOOR) * (b - IDLE_BELOW)) / (BUSY_FROM - IDLE_BELOW);
    return rowsPerSecond * share;
  };
  return {
    /** Resolves once `rows` may be read; a page larger than the budget takes it whole and waits longer. */
    async take(rows: number): Promise<void> {
      const perSecond = rate();
      const t = now();
      tokens = Math.min(rowsPerSecond, tokens + ((t - last) / 1000) * perSecond);
      last = t;
      tokens -= rows;
      if (tokens < 0) await sleep((-tokens / perSecond) * 1000);
    },
  };
}

export type RowPacer = ReturnType<typeof createRowPacer>;

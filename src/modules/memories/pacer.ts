/**
 * A budget of rows per second shared by every export of the process (a token bucket holding at most
 * one second's worth). An export takes its page's rows from it before reading the next page and
 * waits when it is empty, so exports together never use more than the budget, however many run,
 * and the rest of the server keeps its share of the CPU. `now` and `sleep` are injected.
 */
export function createRowPacer(
  rowsPerSecond: number,
  now: () => number = () => performance.now(),
  sleep: (ms: number) => Promise<unknown> = (ms) => new Promise((r) => setTimeout(r, ms)),
) {
  let tokens = rowsPerSecond;
  let last = now();
  const refill = () => {
    const t = now();
    tokens = Math.min(rowsPerSecond, tokens + ((t - last) / 1000) * rowsPerSecond);
    last = t;
  };
  return {
    /** Resolves once `rows` may be read; a page larger than the budget takes it whole and waits longer. */
    async take(rows: number): Promise<void> {
      refill();
      tokens -= rows;
      if (tokens < 0) await sleep((-tokens / rowsPerSecond) * 1000);
    },
  };
}

export type RowPacer = ReturnType<typeof createRowPacer>;

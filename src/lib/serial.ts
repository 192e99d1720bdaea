/**
 * Runs one pass at a time: a caller arriving during a pass waits for it and then runs its own.
 * `idle()` resolves once no pass is running (for shutdown).
 */
export function createSerialRunner() {
  let running: Promise<number> | null = null;
  return {
    async run(fn: () => Promise<number>): Promise<number> {
      while (running) await running.catch(() => 0);
      running = fn();
      try {
        return await running;
      } finally {
        running = null;
      }
    },
    async idle(): Promise<void> {
      while (running) await running.catch(() => 0);
    },
  };
}

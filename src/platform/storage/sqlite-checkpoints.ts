import { createThreadCalls } from "../../lib/thread-calls.ts";

/**
 * Checkpoints of the embedded store, off the event loop. In WAL mode SQLite copies the log back
 * into the database file and syncs it (a checkpoint) on the connection that commits, every 1,000
 * pages by default: on a busy vault that is tens of milliseconds of file copying and fsync, about
 * once a second, during which a synchronous driver holds the only thread that serves requests.
 * Here the serving connections turn automatic checkpoints off and one worker thread, with its own
 * connection per database file, runs them instead; it shares no memory with the serving thread and
 * SQLite's WAL locking keeps the two connections consistent (a passive checkpoint never blocks a
 * writer or a reader).
 */

export type CheckpointMode = "PASSIVE" | "TRUNCATE";

export type CheckpointOutcome = { busy: number; log: number; checkpointed: number };

export type Checkpoints = {
  /** Runs one checkpoint of the database file at `path` on the worker (null: the file is gone). */
  run(path: string, mode: CheckpointMode): Promise<CheckpointOutcome | null>;
  /** Closes the worker's connection to `path` (before the file is closed for good or removed). */
  forget(path: string): Promise<void>;
  /** Stops the worker once the calls made so far have been answered. */
  close(): Promise<void>;
};

export type CheckpointRequest = { op: "checkpoint" | "forget"; path: string; mode?: CheckpointMode };

export function createCheckpoints(): Checkpoints {
  const thread = createThreadCalls<CheckpointRequest, CheckpointOutcome | null>(
    new URL("./sqlite-checkpoints.worker.ts", import.meta.url),
    "checkpoint",
  );
  return {
    async run(path, mode) {
      try {
        return await thread.call({ op: "checkpoint", path, mode });
      } catch (err) {
        throw new Error(`checkpoint failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
    async forget(path) {
      if (thread.running()) await thread.call({ op: "forget", path });
    },
    close: () => thread.close(),
  };
}

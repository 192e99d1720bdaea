import { Worker } from "node:worker_threads";

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

type Reply = { id: number; outcome?: CheckpointOutcome | null; error?: string };

export function createCheckpoints(): Checkpoints {
  let worker: Worker | null = null;
  const waiting = new Map<number, { resolve(r: Reply): void; reject(err: Error): void }>();
  let nextId = 0;

  const start = (): Worker => {
    const w = new Worker(new URL("./sqlite-checkpoints.worker.ts", import.meta.url));
    w.on("message", (reply: Reply) => {
      const call = waiting.get(reply.id);
      waiting.delete(reply.id);
      // The thread keeps the process alive only while an answer is awaited.
      if (waiting.size === 0) w.unref();
      call?.resolve(reply);
    });
    const fail = (err: Error) => {
      if (worker === w) worker = null;
      for (const call of waiting.values()) call.reject(err);
      waiting.clear();
    };
    w.on("error", fail);
    w.on("exit", (code) => fail(new Error(`the checkpoint thread exited (${code})`)));
    w.unref();
    return w;
  };

  const call = (msg: { op: "checkpoint" | "forget"; path: string; mode?: CheckpointMode }): Promise<Reply> =>
    new Promise<Reply>((resolve, reject) => {
      worker ??= start();
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...msg, id });
    });

  return {
    async run(path, mode) {
      const reply = await call({ op: "checkpoint", path, mode });
      if (reply.error !== undefined) throw new Error(`checkpoint failed: ${reply.error}`);
      return reply.outcome ?? null;
    },
    async forget(path) {
      if (!worker) return;
      await call({ op: "forget", path });
    },
    async close() {
      const w = worker;
      if (!w) return;
      // Messages are answered in order: once this one is, every earlier one has been.
      await call({ op: "forget", path: "" }).catch(() => undefined);
      worker = null;
      await w.terminate();
    },
  };
}

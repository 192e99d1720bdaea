import { existsSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { parentPort } from "node:worker_threads";
import type { CheckpointMode, CheckpointOutcome } from "./sqlite-checkpoints.ts";

/**
 * The checkpoint thread of the embedded store (see sqlite-checkpoints.ts): its own connection to
 * each database file it is asked about, on which it copies the write-ahead log into the database
 * file and syncs it, so that work never runs on the event loop's thread.
 */

type Request = { id: number; op: "checkpoint" | "forget"; path: string; mode?: CheckpointMode };

const connections = new Map<string, DatabaseSync>();

function connection(path: string): DatabaseSync | null {
  const open = connections.get(path);
  if (open) return open;
  // A file removed since (a dropped tenant) is not created again by opening it.
  if (!existsSync(path)) return null;
  const db = new DatabaseSync(path);
  db.exec("PRAGMA busy_timeout = 5000");
  connections.set(path, db);
  return db;
}

parentPort?.on("message", (req: Request) => {
  try {
    if (req.op === "forget") {
      connections.get(req.path)?.close();
      connections.delete(req.path);
      parentPort?.postMessage({ id: req.id });
      return;
    }
    const mode = req.mode === "TRUNCATE" ? "TRUNCATE" : "PASSIVE";
    const db = connection(req.path);
    const outcome = db?.prepare(`PRAGMA wal_checkpoint(${mode})`).get() as CheckpointOutcome | undefined;
    parentPort?.postMessage({ id: req.id, outcome: outcome ?? null });
  } catch (err) {
    parentPort?.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) });
  }
});

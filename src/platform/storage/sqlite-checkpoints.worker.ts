import { existsSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { answerThreadCalls } from "../../lib/thread-calls.ts";
import type { CheckpointOutcome, CheckpointRequest } from "./sqlite-checkpoints.ts";

/**
 * The checkpoint thread of the embedded store (see sqlite-checkpoints.ts): its own connection to
 * each database file it is asked about, on which it copies the write-ahead log into the database
 * file and syncs it, so that work never runs on the event loop's thread.
 */

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

answerThreadCalls<CheckpointRequest, CheckpointOutcome | null>((req) => {
  if (req.op === "forget") {
    connections.get(req.path)?.close();
    connections.delete(req.path);
    return null;
  }
  const mode = req.mode === "TRUNCATE" ? "TRUNCATE" : "PASSIVE";
  const outcome = connection(req.path)?.prepare(`PRAGMA wal_checkpoint(${mode})`).get();
  return (outcome as CheckpointOutcome | undefined) ?? null;
});

import type { SqlExecutor, Storage } from "../../platform/storage/port.ts";

type Job = { write: (tx: SqlExecutor) => Promise<void>; resolve: () => void; reject: (err: unknown) => void };

/**
 * Group commit for the audit events of reads. A read (recall) does its work on the read connection
 * and then hands its audit write here; writes that arrive while a group is committing wait for the
 * next one, so one transaction (one write-lock turn) records many reads. `commit` resolves only after
 * the transaction holding the write has committed to the database's log: the event is recorded
 * before the answer leaves. It does not wait for the log's flush to disk, which follows within a
 * bounded window shared by every read meanwhile: a power loss in that window can take back the last
 * reads' events (never a write), where waiting would add a disk flush to every recall.
 * A write that throws fails its own caller only; the others in its group still commit.
 */
export function createGroupCommit(storage: Storage) {
  const pending = new Map<string, Job[]>();
  const running = new Set<string>();

  async function flush(tenantId: string): Promise<void> {
    running.add(tenantId);
    try {
      for (;;) {
        const jobs = pending.get(tenantId);
        if (!jobs || jobs.length === 0) break;
        pending.delete(tenantId);
        const failed = new Map<Job, unknown>();
        try {
          const db = await storage.tenant(tenantId);
          // Logged, not flushed: the answer waits for the event's commit to the log, not for the disk.
          await db.transaction(
            async (tx) => {
              for (const job of jobs) {
                try {
                  await job.write(tx);
                } catch (err) {
                  failed.set(job, err);
                }
              }
            },
            { durability: "logged" },
          );
        } catch (err) {
          for (const job of jobs) if (!failed.has(job)) failed.set(job, err);
        }
        for (const job of jobs) {
          if (failed.has(job)) job.reject(failed.get(job));
          else job.resolve();
        }
      }
    } finally {
      running.delete(tenantId);
    }
  }

  return {
    /** Runs `write` in the tenant's next group transaction; resolves once that transaction committed. */
    commit(tenantId: string, write: (tx: SqlExecutor) => Promise<void>): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        let jobs = pending.get(tenantId);
        if (!jobs) {
          jobs = [];
          pending.set(tenantId, jobs);
        }
        jobs.push({ write, resolve, reject });
        if (!running.has(tenantId)) {
          running.add(tenantId);
          setImmediate(() => {
            running.delete(tenantId);
            void flush(tenantId);
          });
        }
      });
    },
  };
}

export type GroupCommit = ReturnType<typeof createGroupCommit>;

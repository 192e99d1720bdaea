import type { Database, Migration } from "./storage/port.ts";

/**
 * Named leases in the control store, so periodic work (the TTL sweeper) runs on one gateway at a
 * time when several share a database. A lease is held until `expires_at`; its holder renews it by
 * acquiring again, and anyone takes it over once it has expired (its holder stopped or died).
 * One upsert decides it, so two gateways asking together cannot both win.
 */
export const leasesMigrations: Migration[] = [
  {
    id: "leases.001",
    sqlite: `
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);`,
    postgres: `
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);`,
  },
];

export function createLeases(control: Database) {
  return {
    /** True when `holder` now holds `name` until `now + ttlMs` (taken, renewed, or taken over). */
    async acquire(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
      const r = await control.run(
        `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE leases.expires_at <= ? OR leases.holder = excluded.holder`,
        [name, holder, now + ttlMs, now],
      );
      return r.changes === 1;
    },
    /** Gives the lease up at once (a clean shutdown), if `holder` still holds it. */
    async release(name: string, holder: string): Promise<void> {
      await control.run("DELETE FROM leases WHERE name = ? AND holder = ?", [name, holder]);
    },
  };
}

export type Leases = ReturnType<typeof createLeases>;

import type { Migration } from "../../platform/storage/port.ts";

export const tenantKeysMigrations = {
  // One wrapped data key per tenant (and one for the instance audit chain). Deleting a row is
  // crypto-shredding: nothing else can recover that tenant's data key.
  control: [
    {
      id: "tenant_keys.001",
      sqlite: `
CREATE TABLE tenant_keys (
  tenant_id TEXT PRIMARY KEY,
  master_version INTEGER NOT NULL,
  wrapped TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  rewrapped_at INTEGER
);`,
      postgres: `
CREATE TABLE tenant_keys (
  tenant_id TEXT PRIMARY KEY,
  master_version INTEGER NOT NULL,
  wrapped TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  rewrapped_at BIGINT
);`,
    },
  ] satisfies Migration[],
  tenant: [] satisfies Migration[],
};

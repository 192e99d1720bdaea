import type { Migration } from "../../platform/storage/port.ts";

export const tenantsMigrations = {
  control: [
    {
      id: "tenants.001",
      sqlite: `
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL DEFAULT 'active',
  created_at INTEGER NOT NULL
);`,
      postgres: `
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL DEFAULT 'active',
  created_at BIGINT NOT NULL
);`,
    },
    {
      // Tenants created before field encryption keep their plaintext rows ('none').
      id: "tenants.002",
      sqlite: `
ALTER TABLE tenants ADD COLUMN encryption TEXT NOT NULL DEFAULT 'none';
ALTER TABLE tenants ADD COLUMN storage TEXT NOT NULL DEFAULT 'sqlite';`,
      postgres: `
ALTER TABLE tenants ADD COLUMN encryption TEXT NOT NULL DEFAULT 'none';
ALTER TABLE tenants ADD COLUMN storage TEXT NOT NULL DEFAULT 'sqlite';`,
    },
  ] satisfies Migration[],
  tenant: [] satisfies Migration[],
};

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
    },
  ] satisfies Migration[],
  tenant: [] satisfies Migration[],
};

import type { Migration } from "../../platform/storage/port.ts";

export const grantsMigrations = {
  control: [] satisfies Migration[],
  tenant: [
    {
      id: "grants.001",
      sqlite: `
CREATE TABLE namespace_grants (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  grantee_namespace TEXT NOT NULL,
  source_namespace TEXT NOT NULL,
  types TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER
);
CREATE INDEX namespace_grants_active ON namespace_grants(tenant_id, revoked_at, expires_at);`,
    },
  ] satisfies Migration[],
};

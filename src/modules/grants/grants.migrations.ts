import type { Migration } from "../../platform/storage/port.ts";
import { rowSecurity, TENANT_COLUMN } from "../../platform/storage/postgres-ddl.ts";

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
      postgres: `
CREATE TABLE namespace_grants (
  id TEXT PRIMARY KEY,
  ${TENANT_COLUMN},
  grantee_namespace TEXT NOT NULL,
  source_namespace TEXT NOT NULL,
  types TEXT,
  created_at BIGINT NOT NULL,
  expires_at BIGINT,
  revoked_at BIGINT
);
CREATE INDEX namespace_grants_active ON namespace_grants(tenant_id, revoked_at, expires_at);
${rowSecurity("namespace_grants")}`,
    },
  ] satisfies Migration[],
};

import type { Migration } from "../../platform/storage/port.ts";
import { rowSecurity, TENANT_COLUMN } from "../../platform/storage/postgres-ddl.ts";

export const keysMigrations = {
  // Maps a key hash to its tenant so a request can find the right vault; the key itself lives there.
  control: [
    {
      id: "keys.001",
      sqlite: `
CREATE TABLE key_index (
  hash TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  key_id TEXT NOT NULL UNIQUE
);`,
      postgres: `
CREATE TABLE key_index (
  hash TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  key_id TEXT NOT NULL UNIQUE
);`,
    },
  ] satisfies Migration[],
  tenant: [
    {
      id: "keys.001",
      sqlite: `
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  agent TEXT NOT NULL,
  name TEXT,
  hash TEXT NOT NULL UNIQUE,
  start TEXT NOT NULL,
  scopes TEXT NOT NULL,
  namespaces TEXT,
  rate_limit_per_minute INTEGER,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER,
  last_used_at INTEGER
);
CREATE INDEX api_keys_created ON api_keys(tenant_id, created_at);`,
      postgres: `
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  ${TENANT_COLUMN},
  agent TEXT NOT NULL,
  name TEXT,
  hash TEXT NOT NULL UNIQUE,
  start TEXT NOT NULL,
  scopes TEXT NOT NULL,
  namespaces TEXT,
  rate_limit_per_minute INTEGER,
  created_at BIGINT NOT NULL,
  expires_at BIGINT,
  revoked_at BIGINT,
  last_used_at BIGINT
);
CREATE INDEX api_keys_created ON api_keys(tenant_id, created_at);
${rowSecurity("api_keys")}`,
    },
    {
      // Fine-grained capabilities, and the key a rotated key was replaced by.
      id: "keys.002",
      sqlite: `
ALTER TABLE api_keys ADD COLUMN capabilities TEXT;
ALTER TABLE api_keys ADD COLUMN rotated_to TEXT;`,
      postgres: `
ALTER TABLE api_keys ADD COLUMN capabilities TEXT;
ALTER TABLE api_keys ADD COLUMN rotated_to TEXT;`,
    },
    {
      // Who made a key (`user:<id>`, `key:<id>` or `instance_admin`), kept with the key so its
      // accountable person outlives the audit trail's retention. Null: made before this column.
      id: "keys.003",
      sqlite: "ALTER TABLE api_keys ADD COLUMN made_by TEXT;",
      postgres: "ALTER TABLE api_keys ADD COLUMN made_by TEXT;",
    },
  ] satisfies Migration[],
};

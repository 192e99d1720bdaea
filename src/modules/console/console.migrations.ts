import type { Migration } from "../../platform/storage/port.ts";
import { rowSecurity, TENANT_COLUMN } from "../../platform/storage/postgres-ddl.ts";

export const consoleMigrations = {
  tenant: [
    {
      id: "console.001",
      sqlite: `
CREATE TABLE console_passkeys (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  public_key BLOB NOT NULL,
  counter INTEGER NOT NULL,
  transports TEXT,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE INDEX console_passkeys_user ON console_passkeys(user_id);`,
      postgres: `
CREATE TABLE console_passkeys (
  id TEXT PRIMARY KEY,
  ${TENANT_COLUMN},
  user_id TEXT NOT NULL,
  public_key BYTEA NOT NULL,
  counter BIGINT NOT NULL,
  transports TEXT,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT
);
CREATE INDEX console_passkeys_user ON console_passkeys(tenant_id, user_id);
${rowSecurity("console_passkeys")}`,
    },
  ] satisfies Migration[],
};

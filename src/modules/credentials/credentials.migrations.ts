import type { Migration } from "../../platform/storage/port.ts";
import { rowSecurity, TENANT_COLUMN } from "../../platform/storage/postgres-ddl.ts";

/**
 * Credentials live in each tenant's database: the binding and metadata in clear, the secrets only as
 * one sealed value under the credential key (which the serving process may not hold), plus keyed
 * fingerprints for the memory leak check. `oauth_states` holds the single-use grant states.
 */
export const credentialsMigrations = {
  tenant: [
    {
      id: "credentials.001",
      sqlite: `
CREATE TABLE credentials (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  name TEXT NOT NULL,
  service TEXT NOT NULL,
  label TEXT,
  kind TEXT NOT NULL,
  allowed_hosts TEXT NOT NULL,
  injection TEXT NOT NULL,
  risk_tier TEXT NOT NULL,
  oauth_config TEXT,
  sealed TEXT NOT NULL,
  fingerprints TEXT NOT NULL,
  token_expires_at INTEGER,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  rotated_at INTEGER,
  last_used_at INTEGER,
  expires_at INTEGER,
  UNIQUE (tenant_id, name)
);
CREATE TABLE oauth_states (
  nonce TEXT PRIMARY KEY,
  credential_id TEXT NOT NULL,
  actor TEXT NOT NULL,
  verifier TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);`,
      postgres: `
CREATE TABLE credentials (
  id TEXT PRIMARY KEY,
  ${TENANT_COLUMN},
  name TEXT NOT NULL,
  service TEXT NOT NULL,
  label TEXT,
  kind TEXT NOT NULL,
  allowed_hosts TEXT NOT NULL,
  injection TEXT NOT NULL,
  risk_tier TEXT NOT NULL,
  oauth_config TEXT,
  sealed TEXT NOT NULL,
  fingerprints TEXT NOT NULL,
  token_expires_at BIGINT,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  rotated_at BIGINT,
  last_used_at BIGINT,
  expires_at BIGINT,
  UNIQUE (tenant_id, name)
);
CREATE TABLE oauth_states (
  nonce TEXT PRIMARY KEY,
  ${TENANT_COLUMN},
  credential_id TEXT NOT NULL,
  actor TEXT NOT NULL,
  verifier TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
${rowSecurity("credentials", "oauth_states")}`,
    },
  ] satisfies Migration[],
};

import type { Migration } from "../../platform/storage/port.ts";
import { rowSecurity, TENANT_COLUMN } from "../../platform/storage/postgres-ddl.ts";

export const identityMigrations = {
  control: [] satisfies Migration[],
  tenant: [
    {
      id: "identity.001",
      sqlite: `
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  email TEXT NOT NULL,
  password_hash TEXT,
  roles TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  oidc_subject TEXT,
  locked_until INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_login_at INTEGER,
  UNIQUE (tenant_id, email)
);
CREATE UNIQUE INDEX users_oidc_subject ON users(tenant_id, oidc_subject) WHERE oidc_subject IS NOT NULL;
CREATE TABLE jwt_secrets (
  version TEXT PRIMARY KEY,
  secret BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  family_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  csrf_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  revoked_at INTEGER
);
CREATE INDEX sessions_family ON sessions(family_id);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE TABLE oidc_config (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  config TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);`,
      postgres: `
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  ${TENANT_COLUMN},
  email TEXT NOT NULL,
  password_hash TEXT,
  roles TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  oidc_subject TEXT,
  locked_until BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  last_login_at BIGINT,
  UNIQUE (tenant_id, email)
);
CREATE UNIQUE INDEX users_oidc_subject ON users(tenant_id, oidc_subject) WHERE oidc_subject IS NOT NULL;
CREATE TABLE jwt_secrets (
  ${TENANT_COLUMN},
  version TEXT NOT NULL,
  secret BYTEA NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, version)
);
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  ${TENANT_COLUMN},
  family_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  csrf_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT,
  revoked_at BIGINT
);
CREATE INDEX sessions_family ON sessions(tenant_id, family_id);
CREATE INDEX sessions_user ON sessions(tenant_id, user_id);
CREATE TABLE oidc_config (
  ${TENANT_COLUMN},
  id INTEGER NOT NULL CHECK (id = 1),
  config TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
${rowSecurity("users", "jwt_secrets", "sessions", "oidc_config")}`,
    },
    {
      // Signing secrets are sealed with the tenant cipher from now on; plaintext ones are dropped
      // (secure_delete zeroes them) and a new sealed secret is made on first use.
      id: "identity.002",
      sqlite: `
DELETE FROM jwt_secrets;
DROP TABLE jwt_secrets;
CREATE TABLE jwt_secrets (
  version TEXT PRIMARY KEY,
  sealed TEXT NOT NULL,
  created_at INTEGER NOT NULL
);`,
      postgres: `
DROP TABLE jwt_secrets;
CREATE TABLE jwt_secrets (
  ${TENANT_COLUMN},
  version TEXT NOT NULL,
  sealed TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, version)
);
${rowSecurity("jwt_secrets")}`,
    },
    {
      // When a person's sessions were last ended (a sign-out everywhere, a new password, a disable),
      // to the second: access tokens issued before it are refused at once, not when they expire.
      id: "identity.003",
      sqlite: "ALTER TABLE users ADD COLUMN sessions_ended_at INTEGER;",
      postgres: "ALTER TABLE users ADD COLUMN sessions_ended_at BIGINT;",
    },
  ] satisfies Migration[],
};

import type { Migration } from "../../platform/storage/port.ts";
import { rowSecurity, TENANT_COLUMN } from "../../platform/storage/postgres-ddl.ts";

export const governanceMigrations = {
  // Freezes live in the control database: a global freeze spans tenants, and every one survives restarts.
  control: [
    {
      id: "governance.001",
      sqlite: `
CREATE TABLE agent_freezes (
  target TEXT PRIMARY KEY,
  scope TEXT NOT NULL CHECK (scope IN ('global', 'tenant', 'agent')),
  tenant_id TEXT,
  agent TEXT,
  key_id TEXT,
  reason TEXT NOT NULL,
  set_by TEXT NOT NULL,
  set_at INTEGER NOT NULL
);
CREATE INDEX agent_freezes_tenant ON agent_freezes(tenant_id);`,
      postgres: `
CREATE TABLE agent_freezes (
  target TEXT PRIMARY KEY,
  scope TEXT NOT NULL CHECK (scope IN ('global', 'tenant', 'agent')),
  tenant_id TEXT,
  agent TEXT,
  key_id TEXT,
  reason TEXT NOT NULL,
  set_by TEXT NOT NULL,
  set_at BIGINT NOT NULL
);
CREATE INDEX agent_freezes_tenant ON agent_freezes(tenant_id);`,
    },
  ] satisfies Migration[],
  tenant: [
    {
      id: "governance.001",
      sqlite: `
CREATE TABLE tenant_policy (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  policy TEXT NOT NULL,
  version INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  updated_by TEXT NOT NULL
);
CREATE TABLE approvals (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  requester TEXT NOT NULL,
  key_id TEXT,
  agent TEXT,
  owner TEXT,
  operation TEXT NOT NULL,
  method TEXT NOT NULL,
  route TEXT NOT NULL,
  tier TEXT NOT NULL,
  payload_hash TEXT NOT NULL,
  required INTEGER NOT NULL,
  approvals INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'consumed', 'expired', 'cancelled')),
  version INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  decided_at INTEGER,
  consumed_at INTEGER
);
CREATE INDEX approvals_status ON approvals(tenant_id, status, id);
CREATE INDEX approvals_key ON approvals(key_id, status);
CREATE TABLE approval_votes (
  approval_id TEXT NOT NULL REFERENCES approvals(id),
  voter TEXT NOT NULL,
  decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
  comment TEXT,
  at INTEGER NOT NULL,
  PRIMARY KEY (approval_id, voter)
);
CREATE TABLE agent_pauses (
  key_id TEXT PRIMARY KEY,
  reason TEXT NOT NULL,
  paused_at INTEGER NOT NULL
);`,
      // Singletons per tenant (the policy) are keyed by (tenant_id, id).
      postgres: `
CREATE TABLE tenant_policy (
  ${TENANT_COLUMN},
  id INTEGER NOT NULL CHECK (id = 1),
  policy TEXT NOT NULL,
  version INTEGER NOT NULL,
  updated_at BIGINT NOT NULL,
  updated_by TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE TABLE approvals (
  id TEXT PRIMARY KEY,
  ${TENANT_COLUMN},
  requester TEXT NOT NULL,
  key_id TEXT,
  agent TEXT,
  owner TEXT,
  operation TEXT NOT NULL,
  method TEXT NOT NULL,
  route TEXT NOT NULL,
  tier TEXT NOT NULL,
  payload_hash TEXT NOT NULL,
  required INTEGER NOT NULL,
  approvals INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'consumed', 'expired', 'cancelled')),
  version INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  decided_at BIGINT,
  consumed_at BIGINT
);
CREATE INDEX approvals_status ON approvals(tenant_id, status, id);
CREATE INDEX approvals_key ON approvals(tenant_id, key_id, status);
CREATE TABLE approval_votes (
  ${TENANT_COLUMN},
  approval_id TEXT NOT NULL REFERENCES approvals(id),
  voter TEXT NOT NULL,
  decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
  comment TEXT,
  at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, approval_id, voter)
);
CREATE TABLE agent_pauses (
  ${TENANT_COLUMN},
  key_id TEXT NOT NULL,
  reason TEXT NOT NULL,
  paused_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, key_id)
);
${rowSecurity("tenant_policy", "approvals", "approval_votes", "agent_pauses")}`,
    },
  ] satisfies Migration[],
};

import type { Migration } from "../../platform/storage/port.ts";
import { rowSecurity, TENANT_COLUMN } from "../../platform/storage/postgres-ddl.ts";

/**
 * Connector tables live in each tenant's vault. `webhook_deliveries` is the durable inbox: a verified
 * delivery is committed here before the sender gets its 202, and the worker moves it to `done`,
 * `ignored` or `dead` (the dead-letter store). `webhook_replay` remembers replay keys for the replay
 * window, or for good when nothing signed ages a delivery (see `replay.ts`). `outbound_*` hold outbound webhook subscriptions and their persisted delivery queue.
 */
export const connectorsMigrations = {
  control: [] satisfies Migration[],
  tenant: [
    {
      id: "connectors.001",
      sqlite: `
CREATE TABLE connectors (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  name TEXT NOT NULL,
  source TEXT NOT NULL,
  config TEXT NOT NULL,
  secret TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (tenant_id, name)
);
CREATE TABLE connector_health (
  connector_id TEXT PRIMARY KEY,
  last_delivery_at INTEGER,
  last_rejected_at INTEGER,
  accepted INTEGER NOT NULL DEFAULT 0,
  duplicates INTEGER NOT NULL DEFAULT 0,
  signature_failures INTEGER NOT NULL DEFAULT 0,
  processed INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  latency_ms_total REAL NOT NULL DEFAULT 0,
  latency_samples INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE webhook_replay (
  connector_id TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (connector_id, delivery_id)
);
CREATE INDEX webhook_replay_expiry ON webhook_replay(expires_at);
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'ignored', 'dead')),
  headers TEXT NOT NULL,
  body BLOB NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  memory_ids TEXT,
  received_at INTEGER NOT NULL,
  processed_at INTEGER,
  dead_at INTEGER,
  UNIQUE (connector_id, delivery_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE TABLE outbound_webhooks (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  secret TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  disabled_at INTEGER,
  last_success_at INTEGER,
  last_failure_at INTEGER,
  last_error TEXT
);
CREATE TABLE outbound_deliveries (
  id TEXT PRIMARY KEY,
  webhook_id TEXT NOT NULL REFERENCES outbound_webhooks(id) ON DELETE CASCADE,
  event_type TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  delivered_at INTEGER
);
CREATE INDEX outbound_deliveries_due ON outbound_deliveries(status, next_attempt_at);`,
      // Connector, delivery and webhook ids are unique across tenants, so they stay the keys.
      postgres: `
CREATE TABLE connectors (
  id TEXT PRIMARY KEY,
  ${TENANT_COLUMN},
  name TEXT NOT NULL,
  source TEXT NOT NULL,
  config TEXT NOT NULL,
  secret TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (tenant_id, name)
);
CREATE TABLE connector_health (
  connector_id TEXT PRIMARY KEY,
  ${TENANT_COLUMN},
  last_delivery_at BIGINT,
  last_rejected_at BIGINT,
  accepted BIGINT NOT NULL DEFAULT 0,
  duplicates BIGINT NOT NULL DEFAULT 0,
  signature_failures BIGINT NOT NULL DEFAULT 0,
  processed BIGINT NOT NULL DEFAULT 0,
  failures BIGINT NOT NULL DEFAULT 0,
  latency_ms_total DOUBLE PRECISION NOT NULL DEFAULT 0,
  latency_samples BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE webhook_replay (
  ${TENANT_COLUMN},
  connector_id TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (connector_id, delivery_id)
);
CREATE INDEX webhook_replay_expiry ON webhook_replay(tenant_id, expires_at);
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  ${TENANT_COLUMN},
  connector_id TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'ignored', 'dead')),
  headers TEXT NOT NULL,
  body TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  last_error TEXT,
  memory_ids TEXT,
  received_at BIGINT NOT NULL,
  processed_at BIGINT,
  dead_at BIGINT,
  UNIQUE (connector_id, delivery_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(tenant_id, status, next_attempt_at);
CREATE TABLE outbound_webhooks (
  id TEXT PRIMARY KEY,
  ${TENANT_COLUMN},
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  secret TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  disabled_at BIGINT,
  last_success_at BIGINT,
  last_failure_at BIGINT,
  last_error TEXT
);
CREATE TABLE outbound_deliveries (
  id TEXT PRIMARY KEY,
  ${TENANT_COLUMN},
  webhook_id TEXT NOT NULL REFERENCES outbound_webhooks(id) ON DELETE CASCADE,
  event_type TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  last_error TEXT,
  created_at BIGINT NOT NULL,
  delivered_at BIGINT
);
CREATE INDEX outbound_deliveries_due ON outbound_deliveries(tenant_id, status, next_attempt_at);
${rowSecurity("connectors", "connector_health", "webhook_replay", "webhook_deliveries", "outbound_webhooks", "outbound_deliveries")}`,
    },
    {
      // What each processed delivery came to (stored, ignored for a reason, dead), and the previous
      // secret that keeps verifying while a rotation's grace period runs.
      id: "connectors.002",
      sqlite: `
CREATE TABLE connector_outcomes (
  connector_id TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('stored', 'ignored', 'dead')),
  reason TEXT NOT NULL,
  count INTEGER NOT NULL DEFAULT 0,
  last_at INTEGER NOT NULL,
  PRIMARY KEY (connector_id, outcome, reason)
);
ALTER TABLE connectors ADD COLUMN previous_secret TEXT;
ALTER TABLE connectors ADD COLUMN previous_secret_expires_at INTEGER;
ALTER TABLE connectors ADD COLUMN rotated_at INTEGER;
ALTER TABLE connector_health ADD COLUMN previous_secret_verified INTEGER NOT NULL DEFAULT 0;`,
      // Connector ids are random and instance-unique, so the same key serves the upsert on both.
      postgres: `
CREATE TABLE connector_outcomes (
  connector_id TEXT NOT NULL,
  ${TENANT_COLUMN},
  outcome TEXT NOT NULL CHECK (outcome IN ('stored', 'ignored', 'dead')),
  reason TEXT NOT NULL,
  count BIGINT NOT NULL DEFAULT 0,
  last_at BIGINT NOT NULL,
  PRIMARY KEY (connector_id, outcome, reason)
);
ALTER TABLE connectors ADD COLUMN previous_secret TEXT;
ALTER TABLE connectors ADD COLUMN previous_secret_expires_at BIGINT;
ALTER TABLE connectors ADD COLUMN rotated_at BIGINT;
ALTER TABLE connector_health ADD COLUMN previous_secret_verified BIGINT NOT NULL DEFAULT 0;
${rowSecurity("connector_outcomes")}`,
    },
  ] satisfies Migration[],
};

import type { Migration } from "../../platform/storage/port.ts";

const auditTable = `
CREATE TABLE audit_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  ts INTEGER NOT NULL,
  tenant_id TEXT,
  actor_type TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  action TEXT NOT NULL,
  target_ids TEXT NOT NULL,
  outcome TEXT NOT NULL,
  request_id TEXT,
  client_ip TEXT,
  user_agent TEXT,
  details TEXT,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_events_ts ON audit_events(ts);
CREATE INDEX audit_events_action ON audit_events(action, ts);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only');
END;
`;

/**
 * Retention: the only delete the trail allows. A retention run first records the signed anchor (the
 * hash of the last dropped event) in `audit_retention`, itself append-only, and the delete trigger lets
 * through exactly the rows at or below the highest recorded `through_seq`.
 */
const retention = `
CREATE TABLE audit_retention (
  through_seq INTEGER PRIMARY KEY,
  anchor TEXT NOT NULL,
  dropped INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TRIGGER audit_retention_no_update BEFORE UPDATE ON audit_retention
BEGIN
  SELECT RAISE(ABORT, 'retention records are append-only');
END;
CREATE TRIGGER audit_retention_no_delete BEFORE DELETE ON audit_retention
BEGIN
  SELECT RAISE(ABORT, 'retention records are append-only');
END;
DROP TRIGGER audit_events_no_delete;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN OLD.seq > COALESCE((SELECT MAX(through_seq) FROM audit_retention), 0)
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE INDEX audit_events_actor ON audit_events(actor_id, seq);
`;

/** The same append-only table sits in the control database (instance events) and in each vault. */
export const auditMigrations = {
  control: [
    { id: "audit.001", sqlite: auditTable },
    { id: "audit.002", sqlite: retention },
  ] satisfies Migration[],
  tenant: [
    { id: "audit.001", sqlite: auditTable },
    { id: "audit.002", sqlite: retention },
  ] satisfies Migration[],
};

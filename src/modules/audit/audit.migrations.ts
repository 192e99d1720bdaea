import type { Migration } from "../../platform/storage/port.ts";
import { rowSecurity, TENANT_COLUMN } from "../../platform/storage/postgres-ddl.ts";

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

/**
 * PostgreSQL: the control schema keeps the instance chain as SQLite does; the tenant schema holds
 * every tenant's chain in one table keyed by (tenant_id, seq). Updates are refused by a trigger;
 * deletes pass only below the tenant's retention anchor, or when the whole tenant is being erased
 * (`hypha.erasing` set to that tenant inside the deleting transaction).
 */
const pgAuditColumns = (tenantColumn: string, key: string) => `
CREATE TABLE audit_events (
  seq BIGINT NOT NULL,
  id TEXT NOT NULL UNIQUE,
  ts BIGINT NOT NULL,
  ${tenantColumn},
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
  hash TEXT NOT NULL,
  PRIMARY KEY (${key})
);`;

const pgControlAudit = `${pgAuditColumns("tenant_id TEXT", "seq")}
CREATE INDEX audit_events_ts ON audit_events(ts);
CREATE INDEX audit_events_action ON audit_events(action, ts);
CREATE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit events are append-only';
END $$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_guard();`;

const pgControlRetention = `
CREATE TABLE audit_retention (
  through_seq BIGINT PRIMARY KEY,
  anchor TEXT NOT NULL,
  dropped BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE FUNCTION audit_retention_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'retention records are append-only';
END $$;
CREATE TRIGGER audit_retention_no_change BEFORE UPDATE OR DELETE ON audit_retention
  FOR EACH ROW EXECUTE FUNCTION audit_retention_guard();
CREATE OR REPLACE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND OLD.seq <= COALESCE((SELECT MAX(through_seq) FROM hypha_control.audit_retention), 0) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit events are append-only';
END $$;
CREATE INDEX audit_events_actor ON audit_events(actor_id, seq);`;

const pgTenantAudit = `${pgAuditColumns(TENANT_COLUMN, "tenant_id, seq")}
CREATE INDEX audit_events_ts ON audit_events(tenant_id, ts);
CREATE INDEX audit_events_action ON audit_events(tenant_id, action, ts);
CREATE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('hypha.erasing', true) = OLD.tenant_id THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit events are append-only';
END $$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_guard();
${rowSecurity("audit_events")}`;

const pgTenantRetention = `
CREATE TABLE audit_retention (
  ${TENANT_COLUMN},
  through_seq BIGINT NOT NULL,
  anchor TEXT NOT NULL,
  dropped BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, through_seq)
);
CREATE FUNCTION audit_retention_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('hypha.erasing', true) = OLD.tenant_id THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'retention records are append-only';
END $$;
CREATE TRIGGER audit_retention_no_change BEFORE UPDATE OR DELETE ON audit_retention
  FOR EACH ROW EXECUTE FUNCTION audit_retention_guard();
CREATE OR REPLACE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND (current_setting('hypha.erasing', true) = OLD.tenant_id
      OR OLD.seq <= COALESCE((SELECT MAX(r.through_seq) FROM hypha_tenant.audit_retention r
                               WHERE r.tenant_id = OLD.tenant_id), 0)) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit events are append-only';
END $$;
CREATE INDEX audit_events_actor ON audit_events(tenant_id, actor_id, seq);
${rowSecurity("audit_retention")}`;

/** The same append-only table sits in the control database (instance events) and in each vault. */
export const auditMigrations = {
  control: [
    { id: "audit.001", sqlite: auditTable, postgres: pgControlAudit },
    { id: "audit.002", sqlite: retention, postgres: pgControlRetention },
  ] satisfies Migration[],
  tenant: [
    { id: "audit.001", sqlite: auditTable, postgres: pgTenantAudit },
    { id: "audit.002", sqlite: retention, postgres: pgTenantRetention },
  ] satisfies Migration[],
};

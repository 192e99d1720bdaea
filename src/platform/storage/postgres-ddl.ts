/**
 * Building blocks of the PostgreSQL migration texts. Tenant tables are shared by every tenant: each
 * carries `tenant_id` (filled from the transaction's `hypha.tenant_id` when a statement leaves it
 * out) and row-level security, enabled and forced, so the owner is bound too and a statement
 * without a tenant set sees and writes nothing. Each also references the tenant's row in the
 * control schema (`tenantForeignKey`), added by the migrator to every tenant table.
 */

/** The tenant column of every tenant table. */
export const TENANT_COLUMN = "tenant_id TEXT NOT NULL DEFAULT current_setting('hypha.tenant_id')";

/** Row-level security on tenant tables: rows of the tenant set for the transaction, nothing else. */
export function rowSecurity(...tables: string[]): string {
  return tables
    .map(
      (t) => `ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${t} FORCE ROW LEVEL SECURITY;
CREATE POLICY ${t}_tenant ON ${t}
  USING (tenant_id = current_setting('hypha.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('hypha.tenant_id', true));`,
    )
    .join("\n");
}

/** The name of a tenant table's foreign key to `hypha_control.tenants`. */
export const tenantForeignKey = (table: string): string => `${table}_tenant_fk`;

/**
 * A tenant table's rows belong to a tenant that exists: a row for a tenant whose `tenants` row is
 * gone is refused (SQLSTATE 23503), and deleting the `tenants` row deletes the tenant's rows in the
 * same transaction, including rows that a transaction racing the deletion committed meanwhile (the
 * check locks the tenant's row `FOR KEY SHARE`, so the deletion waits for it and then cascades).
 */
export const ownedByTenant = (table: string): string =>
  `ALTER TABLE ${table} ADD CONSTRAINT ${tenantForeignKey(table)}
  FOREIGN KEY (tenant_id) REFERENCES hypha_control.tenants (id) ON DELETE CASCADE`;

/**
 * SQLite's JSON helpers as the stores use them, over the TEXT columns that hold JSON: `json_each(x)`
 * yields the elements of an array as `value` (text), `json_extract(x, '$.key')` a top-level scalar
 * as SQLite returns it (booleans as 1/0). Created in each schema by the migrator.
 */
export const JSON_COMPAT = `
CREATE OR REPLACE FUNCTION json_each(doc TEXT) RETURNS TABLE (value TEXT)
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
  $$ SELECT e FROM jsonb_array_elements_text(CASE WHEN doc IS NULL THEN '[]'::jsonb ELSE doc::jsonb END) AS e $$;
CREATE OR REPLACE FUNCTION json_extract(doc TEXT, path TEXT) RETURNS TEXT
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
  $$ SELECT CASE jsonb_typeof(v) WHEN 'boolean' THEN (CASE WHEN v::boolean THEN '1' ELSE '0' END)
       WHEN 'null' THEN NULL ELSE v #>> '{}' END
     FROM (SELECT doc::jsonb -> substr(path, 3) AS v) AS x $$;`;

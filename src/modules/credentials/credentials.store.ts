import type { SqlExecutor } from "../../platform/storage/port.ts";

export type CredentialRow = {
  id: string;
  tenant_id: string;
  name: string;
  service: string;
  label: string | null;
  kind: "static" | "oauth2";
  allowed_hosts: string;
  injection: string;
  risk_tier: string;
  oauth_config: string | null;
  sealed: string;
  fingerprints: string;
  token_expires_at: number | null;
  created_by: string;
  created_at: number;
  rotated_at: number | null;
  last_used_at: number | null;
  expires_at: number | null;
};

export type OAuthStateRow = {
  nonce: string;
  credential_id: string;
  actor: string;
  verifier: string;
  expires_at: number;
  used_at: number | null;
};

const COLUMNS =
  "id, tenant_id, name, service, label, kind, allowed_hosts, injection, risk_tier, oauth_config, sealed, fingerprints, token_expires_at, created_by, created_at, rotated_at, last_used_at, expires_at";

/** The only place with credential SQL. Every read is filtered by tenant. */
export const credentialsStore = {
  async insert(tx: SqlExecutor, r: CredentialRow): Promise<void> {
    await tx.run(
      `INSERT INTO credentials (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        r.id,
        r.tenant_id,
        r.name,
        r.service,
        r.label,
        r.kind,
        r.allowed_hosts,
        r.injection,
        r.risk_tier,
        r.oauth_config,
        r.sealed,
        r.fingerprints,
        r.token_expires_at,
        r.created_by,
        r.created_at,
        r.rotated_at,
        r.last_used_at,
        r.expires_at,
      ],
    );
  },
  byName(db: SqlExecutor, tenantId: string, name: string) {
    return db.get<CredentialRow>(`SELECT ${COLUMNS} FROM credentials WHERE tenant_id = ? AND name = ?`, [
      tenantId,
      name,
    ]);
  },
  byId(db: SqlExecutor, tenantId: string, id: string) {
    return db.get<CredentialRow>(`SELECT ${COLUMNS} FROM credentials WHERE tenant_id = ? AND id = ?`, [
      tenantId,
      id,
    ]);
  },
  list(db: SqlExecutor, tenantId: string, after: string, limit: number) {
    return db.all<CredentialRow>(
      `SELECT ${COLUMNS} FROM credentials WHERE tenant_id = ? AND name > ? ORDER BY name LIMIT ?`,
      [tenantId, after, limit],
    );
  },
  fingerprints(db: SqlExecutor, tenantId: string) {
    return db.all<{ fingerprints: string }>("SELECT fingerprints FROM credentials WHERE tenant_id = ?", [
      tenantId,
    ]);
  },
  /** OAuth credentials whose token expires before `before` (the refresh worker's batch). */
  expiring(db: SqlExecutor, tenantId: string, before: number) {
    return db.all<CredentialRow>(
      `SELECT ${COLUMNS} FROM credentials WHERE tenant_id = ? AND kind = 'oauth2' AND token_expires_at IS NOT NULL AND token_expires_at <= ? ORDER BY token_expires_at LIMIT 50`,
      [tenantId, before],
    );
  },
  /** Replaces the sealed secrets only if they are still `previous` (compare-and-swap). */
  async reseal(
    tx: SqlExecutor,
    id: string,
    previous: string,
    next: { sealed: string; fingerprints: string; tokenExpiresAt: number | null; rotatedAt?: number },
  ): Promise<boolean> {
    const r = await tx.run(
      "UPDATE credentials SET sealed = ?, fingerprints = ?, token_expires_at = ?, rotated_at = COALESCE(?, rotated_at) WHERE id = ? AND sealed = ?",
      [next.sealed, next.fingerprints, next.tokenExpiresAt, next.rotatedAt ?? null, id, previous],
    );
    return r.changes === 1;
  },
  async touch(tx: SqlExecutor, id: string, now: number): Promise<void> {
    await tx.run("UPDATE credentials SET last_used_at = ? WHERE id = ?", [now, id]);
  },
  async remove(tx: SqlExecutor, id: string): Promise<void> {
    await tx.run("DELETE FROM oauth_states WHERE credential_id = ?", [id]);
    await tx.run("DELETE FROM credentials WHERE id = ?", [id]);
  },
  async insertState(tx: SqlExecutor, r: OAuthStateRow): Promise<void> {
    await tx.run(
      "INSERT INTO oauth_states (nonce, credential_id, actor, verifier, expires_at, used_at) VALUES (?, ?, ?, ?, ?, NULL)",
      [r.nonce, r.credential_id, r.actor, r.verifier, r.expires_at],
    );
  },
  state(db: SqlExecutor, nonce: string) {
    return db.get<OAuthStateRow>(
      "SELECT nonce, credential_id, actor, verifier, expires_at, used_at FROM oauth_states WHERE nonce = ?",
      [nonce],
    );
  },
  /** Marks a state used; false when it already was (single use). */
  async consumeState(tx: SqlExecutor, nonce: string, now: number): Promise<boolean> {
    const r = await tx.run("UPDATE oauth_states SET used_at = ? WHERE nonce = ? AND used_at IS NULL", [
      now,
      nonce,
    ]);
    return r.changes === 1;
  },
  async pruneStates(tx: SqlExecutor, before: number): Promise<void> {
    await tx.run("DELETE FROM oauth_states WHERE expires_at < ?", [before]);
  },
};

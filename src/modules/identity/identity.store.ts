import type { SqlExecutor } from "../../platform/storage/port.ts";
import type { UserRow } from "./users.schemas.ts";

export type SessionRow = {
  id: string;
  family_id: string;
  user_id: string;
  token_hash: string;
  csrf_hash: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  revoked_at: number | null;
};

/** A tenant's token signing secret, sealed with the tenant cipher (record `jwt:<version>`, field `secret`). */
export type JwtSecretRow = { version: string; sealed: string; created_at: number };

/** The only SQL of the identity module: users, sessions, JWT secrets and the OIDC configuration. */
export const identityStore = {
  insertUser: (tx: SqlExecutor, r: UserRow) =>
    tx.run(
      `INSERT INTO users (id, tenant_id, email, password_hash, roles, status, oidc_subject, locked_until,
         created_at, updated_at, last_login_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        r.id,
        r.tenant_id,
        r.email,
        r.password_hash,
        r.roles,
        r.status,
        r.oidc_subject,
        r.locked_until,
        r.created_at,
        r.updated_at,
        r.last_login_at,
      ],
    ),
  userById: (db: SqlExecutor, tenantId: string, id: string) =>
    db.get<UserRow>("SELECT * FROM users WHERE tenant_id = ? AND id = ?", [tenantId, id]),
  userByEmail: (db: SqlExecutor, tenantId: string, email: string) =>
    db.get<UserRow>("SELECT * FROM users WHERE tenant_id = ? AND email = ?", [tenantId, email]),
  userBySubject: (db: SqlExecutor, tenantId: string, subject: string) =>
    db.get<UserRow>("SELECT * FROM users WHERE tenant_id = ? AND oidc_subject = ?", [tenantId, subject]),
  listUsers: (db: SqlExecutor, tenantId: string, afterId: string, limit: number) =>
    db.all<UserRow>("SELECT * FROM users WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?", [
      tenantId,
      afterId,
      limit,
    ]),
  updateUser: (
    tx: SqlExecutor,
    tenantId: string,
    id: string,
    set: Partial<
      Pick<
        UserRow,
        | "roles"
        | "status"
        | "password_hash"
        | "oidc_subject"
        | "locked_until"
        | "last_login_at"
        | "sessions_ended_at"
      >
    >,
    now: number,
  ) => {
    const cols = Object.keys(set) as (keyof typeof set)[];
    if (cols.length === 0) return Promise.resolve({ changes: 0 });
    return tx.run(
      `UPDATE users SET ${cols.map((c) => `${c} = ?`).join(", ")}, updated_at = ? WHERE tenant_id = ? AND id = ?`,
      [...cols.map((c) => set[c] ?? null), now, tenantId, id],
    );
  },

  insertSession: (tx: SqlExecutor, r: SessionRow) =>
    tx.run(
      `INSERT INTO sessions (id, family_id, user_id, token_hash, csrf_hash, created_at, expires_at, used_at, revoked_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        r.id,
        r.family_id,
        r.user_id,
        r.token_hash,
        r.csrf_hash,
        r.created_at,
        r.expires_at,
        r.used_at,
        r.revoked_at,
      ],
    ),
  sessionByHash: (db: SqlExecutor, hash: string) =>
    db.get<SessionRow>("SELECT * FROM sessions WHERE token_hash = ?", [hash]),
  /** When a session family began: its person's sign-in (each refresh adds a row to the family). */
  familyStartedAt: async (db: SqlExecutor, familyId: string): Promise<number | null> =>
    (
      await db.get<{ at: number | null }>("SELECT MIN(created_at) AS at FROM sessions WHERE family_id = ?", [
        familyId,
      ])
    )?.at ?? null,
  markSessionUsed: (tx: SqlExecutor, id: string, at: number) =>
    tx.run("UPDATE sessions SET used_at = ? WHERE id = ? AND used_at IS NULL", [at, id]),
  revokeFamily: (tx: SqlExecutor, familyId: string, at: number) =>
    tx.run("UPDATE sessions SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL", [at, familyId]),
  /**
   * Ends every session of a person: their refresh tokens are revoked, and access tokens issued
   * before this second stop verifying (`sessions_ended_at`; to the second, as tokens carry `iat`).
   * Returns how many sessions were live (a refresh token neither spent, revoked nor expired).
   */
  endUserSessions: async (tx: SqlExecutor, tenantId: string, userId: string, at: number): Promise<number> => {
    const live = await tx.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND used_at IS NULL AND expires_at > ?",
      [userId, at],
    );
    await tx.run("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", [at, userId]);
    await tx.run("UPDATE users SET sessions_ended_at = ? WHERE tenant_id = ? AND id = ?", [
      Math.floor(at / 1000) * 1000,
      tenantId,
      userId,
    ]);
    return Number(live?.n ?? 0);
  },
  /** Spent and expired rows are kept a day for reuse detection, then dropped. */
  pruneSessions: (tx: SqlExecutor, before: number) =>
    tx.run("DELETE FROM sessions WHERE expires_at < ?", [before]),

  jwtSecrets: (db: SqlExecutor) =>
    db.all<JwtSecretRow>("SELECT * FROM jwt_secrets ORDER BY created_at DESC, version DESC"),
  /** Replaces every secret with one new version: tokens signed before stop verifying at once. */
  replaceJwtSecret: async (tx: SqlExecutor, row: JwtSecretRow) => {
    await tx.run("DELETE FROM jwt_secrets");
    await tx.run("INSERT INTO jwt_secrets (version, sealed, created_at) VALUES (?, ?, ?)", [
      row.version,
      row.sealed,
      row.created_at,
    ]);
  },

  oidcConfig: (db: SqlExecutor) =>
    db.get<{ config: string; updated_at: number }>("SELECT config, updated_at FROM oidc_config WHERE id = 1"),
  putOidcConfig: (tx: SqlExecutor, config: string, now: number) =>
    tx.run(
      `INSERT INTO oidc_config (id, config, updated_at) VALUES (1, ?, ?)
       ON CONFLICT (${tx.dialect === "postgres" ? "tenant_id, id" : "id"}) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
      [config, now],
    ),
};

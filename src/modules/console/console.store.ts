import type { SqlExecutor } from "../../platform/storage/port.ts";

/** A passkey: the WebAuthn credential id (base64url), its COSE public key and signature counter. */
export type PasskeyRow = {
  id: string;
  user_id: string;
  public_key: Uint8Array;
  counter: number;
  transports: string | null;
  created_at: number;
  last_used_at: number | null;
};

export const consoleStore = {
  passkeysOf: (db: SqlExecutor, userId: string) =>
    db.all<PasskeyRow>("SELECT * FROM console_passkeys WHERE user_id = ? ORDER BY created_at", [userId]),
  passkey: (db: SqlExecutor, id: string) =>
    db.get<PasskeyRow>("SELECT * FROM console_passkeys WHERE id = ?", [id]),
  insertPasskey: (tx: SqlExecutor, row: PasskeyRow) =>
    tx.run(
      "INSERT INTO console_passkeys (id, user_id, public_key, counter, transports, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      [row.id, row.user_id, row.public_key, row.counter, row.transports, row.created_at, row.last_used_at],
    ),
  /** Moves the counter forward only (compare-and-swap): a replayed or cloned assertion changes nothing. */
  usePasskey: (tx: SqlExecutor, id: string, from: number, to: number, at: number) =>
    tx.run("UPDATE console_passkeys SET counter = ?, last_used_at = ? WHERE id = ? AND counter = ?", [
      to,
      at,
      id,
      from,
    ]),
  removePasskey: (tx: SqlExecutor, userId: string, id: string) =>
    tx.run("DELETE FROM console_passkeys WHERE id = ? AND user_id = ?", [id, userId]),
  removePasskeysOf: (tx: SqlExecutor, userId: string) =>
    tx.run("DELETE FROM console_passkeys WHERE user_id = ?", [userId]),
  /** How many passkeys each person of the vault has (people without any are absent). */
  passkeyCounts: async (db: SqlExecutor): Promise<Map<string, number>> =>
    new Map(
      (
        await db.all<{ user_id: string; n: number }>(
          "SELECT user_id, COUNT(*) AS n FROM console_passkeys GROUP BY user_id",
        )
      ).map((r) => [r.user_id, Number(r.n)]),
    ),
};

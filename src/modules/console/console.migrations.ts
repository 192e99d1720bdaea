import type { Migration } from "../../platform/storage/port.ts";

export const consoleMigrations = {
  tenant: [
    {
      id: "console.001",
      sqlite: `
CREATE TABLE console_passkeys (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  public_key BLOB NOT NULL,
  counter INTEGER NOT NULL,
  transports TEXT,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE INDEX console_passkeys_user ON console_passkeys(user_id);`,
    },
  ] satisfies Migration[],
};

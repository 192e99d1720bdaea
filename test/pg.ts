import { randomBytes } from "node:crypto";
import pg from "pg";

/**
 * PostgreSQL for tests. `HYPHA_TEST_DATABASE_URL` names a server and a database the test may
 * connect to as a role that can create roles and databases (trust auth on loopback in CI). Each
 * call makes a fresh database owned by a migration role, and an application role (NOSUPERUSER,
 * NOBYPASSRLS) that owns nothing, so runs never collide and RLS binds as in production.
 */
export const TEST_DATABASE_URL = process.env.HYPHA_TEST_DATABASE_URL;

export const OWNER_ROLE = "hypha_test_owner";
export const APP_ROLE = "hypha_test_app";

async function ensureRole(client: pg.Client, role: string) {
  try {
    await client.query(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE`);
  } catch (err) {
    // another test file created it first
    if ((err as { code?: string }).code !== "42710" && (err as { code?: string }).code !== "23505") throw err;
  }
}

export type FreshDatabase = { url: string; migrationUrl: string; name: string; drop(): Promise<void> };

export async function freshDatabase(base = TEST_DATABASE_URL): Promise<FreshDatabase> {
  if (!base) throw new Error("HYPHA_TEST_DATABASE_URL is not set");
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  const name = `hypha_t_${randomBytes(6).toString("hex")}`;
  try {
    await ensureRole(admin, OWNER_ROLE);
    await ensureRole(admin, APP_ROLE);
    await admin.query(`CREATE DATABASE ${name} OWNER ${OWNER_ROLE}`);
  } finally {
    await admin.end();
  }
  const at = (role: string) => {
    const u = new URL(base);
    u.username = role;
    u.password = "";
    u.pathname = `/${name}`;
    return u.toString();
  };
  return {
    name,
    url: at(APP_ROLE),
    migrationUrl: at(OWNER_ROLE),
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

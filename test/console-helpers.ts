import assert from "node:assert/strict";
import type { TestServer } from "./harness.ts";
import { PASSWORD } from "./identity-helpers.ts";

export type ConsoleSession = { cookie: string; csrf: string; email: string; userId: string };

/** Cookie pairs from Set-Cookie answers, merged over a jar (a cleared cookie leaves it). */
export function mergeCookies(jar: string, setCookies: string[]): string {
  const map = new Map(
    jar
      .split(";")
      .map((p) => p.trim())
      .filter(Boolean)
      .map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)] as const),
  );
  for (const c of setCookies) {
    const pair = c.split(";")[0] ?? "";
    const name = pair.slice(0, pair.indexOf("="));
    const value = pair.slice(pair.indexOf("=") + 1);
    if (value === "" || /max-age=0/i.test(c)) map.delete(name);
    else map.set(name, value);
  }
  return [...map].map(([k, v]) => `${k}=${v}`).join("; ");
}

export const csrfOf = (jar: string): string => /hypha_console_csrf=([^;]+)/.exec(jar)?.[1] ?? "";

/** A person with `roles` in `tenantId`, signed in to the console through its sign-in form. */
export async function consoleSession(
  s: TestServer,
  tenantId: string,
  roles: string[],
): Promise<ConsoleSession> {
  const email = `c-${Math.random().toString(36).slice(2, 10)}@example.com`;
  const userId = await s.createUser(tenantId, { email, password: PASSWORD, roles });
  return consoleSignIn(s, tenantId, email, userId);
}

/** An existing person signs in to the console again, in a new browser (a new session family). */
export async function consoleSignIn(
  s: TestServer,
  tenantId: string,
  email: string,
  userId: string,
): Promise<ConsoleSession> {
  const page = await fetch(`${s.url}/console/login`);
  let jar = mergeCookies("", page.headers.getSetCookie());
  const res = await fetch(`${s.url}/console/login`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie: jar, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: csrfOf(jar), tenant_id: tenantId, email, password: PASSWORD }),
  });
  if (res.status !== 303) throw new Error(`console sign-in failed: ${res.status} ${await res.text()}`);
  jar = mergeCookies(jar, res.headers.getSetCookie());
  return { cookie: jar, csrf: csrfOf(jar), email, userId };
}

export type ConsoleRes = { status: number; location: string | null; text: string; headers: Headers };

/** A console request as a browser makes it: the cookie jar, forms url-encoded, redirects not followed. */
export async function consoleRequest(
  s: TestServer,
  method: string,
  path: string,
  opts: { cookie?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<ConsoleRes> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.cookie) headers.cookie = opts.cookie;
  let body: string | undefined;
  if (opts.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(opts.form).toString();
  }
  const res = await fetch(s.url + path, { method, headers, redirect: "manual", ...(body ? { body } : {}) });
  return {
    status: res.status,
    location: res.headers.get("location"),
    text: await res.text(),
    headers: res.headers,
  };
}

export type InstanceSession = { cookie: string; csrf: string; setCookies: string[] };

/** The instance admin, signed in to the console by exchanging the admin key on its sign-in form. */
export async function instanceAdminSession(s: TestServer): Promise<InstanceSession> {
  const page = await fetch(`${s.url}/console/admin/login`);
  let jar = mergeCookies("", page.headers.getSetCookie());
  const res = await fetch(`${s.url}/console/admin/login`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie: jar, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: csrfOf(jar), admin_key: s.adminKey }),
  });
  if (res.status !== 303) throw new Error(`instance admin sign-in failed: ${res.status} ${await res.text()}`);
  const setCookies = res.headers.getSetCookie();
  jar = mergeCookies(jar, setCookies);
  return { cookie: jar, csrf: csrfOf(jar), setCookies };
}

/** Points the tenant's single sign-on at `issuer` for the console (group `ops` → ADMIN, auto-provisioned). */
export async function configureConsoleOidc(s: TestServer, tenantId: string, issuer: string): Promise<void> {
  const put = await s.request("PUT", `/v1/tenants/${tenantId}/oidc`, {
    body: {
      issuer,
      client_id: "hypha-console",
      role_mapping: { claim: "groups", map: { ops: "ADMIN" } },
      auto_provision: true,
    },
  });
  assert.equal(put.status, 200, put.text);
}

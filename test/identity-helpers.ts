import { errorCode, type Res, type TestServer } from "./harness.ts";

export const PASSWORD = "correct horse battery staple";

export type Signed = { token: string; refresh: string; csrf: string; userId: string; res: Res };

/** The refresh token from a Set-Cookie answer. */
export function refreshCookie(res: Res): string | null {
  for (const c of res.headers.getSetCookie()) {
    const m = /^hypha_refresh=([^;]*)/.exec(c);
    if (m) return m[1] || null;
  }
  return null;
}

export async function login(
  s: TestServer,
  tenantId: string,
  email: string,
  password = PASSWORD,
  ip?: string,
) {
  return s.request("POST", "/v1/auth/login", {
    key: null,
    body: { tenant_id: tenantId, email, password },
    ...(ip ? { headers: { "x-forwarded-for": ip } } : {}),
  });
}

/** Creates a user with a password and signs them in. */
export async function signedInUser(s: TestServer, tenantId: string, roles: string[]): Promise<Signed> {
  const email = `p-${Math.random().toString(36).slice(2, 10)}@example.com`;
  const userId = await s.createUser(tenantId, { email, password: PASSWORD, roles });
  const res = await login(s, tenantId, email);
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text} ${errorCode(res)}`);
  const body = res.body as { access_token: string; csrf_token: string };
  return { token: body.access_token, refresh: refreshCookie(res) ?? "", csrf: body.csrf_token, userId, res };
}

export function refresh(
  s: TestServer,
  refreshToken: string,
  csrf: string | null,
  headers: Record<string, string> = {},
) {
  return s.request("POST", "/v1/auth/refresh", {
    key: null,
    headers: {
      cookie: `hypha_refresh=${refreshToken}`,
      ...(csrf === null ? {} : { "x-csrf-token": csrf }),
      ...headers,
    },
  });
}

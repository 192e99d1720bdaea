/**
 * The broker core: the only code that holds the credential key and sees credential values. It seals
 * secrets, and makes every outbound call that carries one: host binding, egress guard (every resolved
 * address, pinned connection, no redirects followed), size and time caps, injection, scrubbing of any
 * echo of the secret. It keeps no state and touches no database; the serving process stores what it
 * returns. It runs inside `hypha serve` (embedded) or alone as `hypha proxy`, reached over an
 * authenticated local channel (broker-channel.ts). Every input and output is plain JSON.
 *
 * A sealed value's associated data includes a digest of its binding (tenant, id, name, allowed hosts,
 * injection, OAuth endpoints): a serving process that edits the binding in its database to point a
 * credential at another host gets a ciphertext that no longer opens.
 */
import { createHash, randomBytes } from "node:crypto";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import type { MasterKeyring } from "../../lib/crypto/master-key.ts";
import {
  createEgressGuard,
  type EgressGuard,
  type EgressResult,
  egressAllowList,
  type Resolver,
} from "../../lib/egress/egress-guard.ts";
import { type Telemetry, tracedEgress } from "../../platform/telemetry.ts";
import { credentialCipher } from "./credential-key.ts";
import { HOST_PATTERN_RE, type Injection, PATH_PLACEHOLDER } from "./credentials.schemas.ts";
import { fingerprintsOf } from "./fingerprints.ts";

export type Binding = {
  tenantId: string;
  credentialId: string;
  name: string;
  kind: "static" | "oauth2";
  allowedHosts: readonly string[];
  injection: Injection;
  oauth: { tokenUrl: string; revokeUrl: string | null; clientId: string; redirectUri: string } | null;
};

/** Everything secret about one credential, sealed as one JSON value. */
export type Secrets = {
  secret?: string;
  client_secret?: string;
  access_token?: string;
  refresh_token?: string;
  /** When the access token expires (ms since the epoch), when the provider said. */
  token_expires_at?: number | null;
};

export type Sealed = { sealed: string; fingerprints: string[]; tokenExpiresAt: number | null };

export type OutboundRequest = {
  method: string;
  url: string;
  headers?: Record<string, string> | undefined;
  body?: string | undefined;
};

export type FailureCode =
  | "CREDENTIAL_HOST_FORBIDDEN"
  | "EGRESS_BLOCKED"
  | "VALIDATION_FAILED"
  | "UPSTREAM_TIMEOUT"
  | "UPSTREAM_FAILED"
  | "UPSTREAM_TOO_LARGE"
  | "CREDENTIAL_NOT_CONNECTED"
  | "CREDENTIAL_UNREADABLE"
  | "OAUTH_EXCHANGE_FAILED";

export type CoreFailure = {
  ok: false;
  code: FailureCode;
  message: string;
  /** Set when the egress guard refused the destination (the `proxy.ssrf_blocked` details). */
  blocked?: { host: string; reason: string; range?: string };
};

export type ExecuteResult =
  | {
      ok: true;
      status: number;
      headers: Record<string, string>;
      /** Base64 of the (scrubbed) body. */
      body: string;
      requestBytes: number;
      responseBytes: number;
      host: string;
      /** True when the upstream refused the credential (401/403) after any refresh. */
      authFailed: boolean;
      /** New sealed tokens when an OAuth credential was refreshed on the way. */
      refreshed: Sealed | null;
    }
  | (CoreFailure & { host: string | null });

export type BrokerCore = {
  seal(input: { binding: Binding; secrets: Secrets; fingerprintKey: string }): Promise<Sealed>;
  execute(input: {
    binding: Binding;
    sealed: string;
    request: OutboundRequest;
    fingerprintKey: string;
    now: number;
  }): Promise<ExecuteResult>;
  exchange(input: {
    binding: Binding;
    sealed: string;
    code: string;
    codeVerifier: string;
    fingerprintKey: string;
    now: number;
  }): Promise<({ ok: true } & Sealed) | CoreFailure>;
  refresh(input: {
    binding: Binding;
    sealed: string;
    fingerprintKey: string;
    now: number;
  }): Promise<({ ok: true } & Sealed) | CoreFailure>;
  revoke(input: { binding: Binding; sealed: string }): Promise<{ ok: boolean }>;
};

export type BrokerCoreOptions = {
  ring: MasterKeyring;
  egressAllow: readonly string[];
  timeoutMs: number;
  maxResponseBytes: number;
  resolver?: Resolver;
  /** A span and stage timing (`egress.fetch`) around every outbound call, in the serving process. */
  telemetry?: Telemetry;
};

/** Refresh an access token this long before the provider's expiry. */
export const REFRESH_MARGIN_MS = 60_000;
const REDACTED = "[REDACTED]";

/** A stable digest of the binding, authenticated as part of every sealed value. */
export function bindingDigest(b: Binding): string {
  const canonical = JSON.stringify([
    b.tenantId,
    b.credentialId,
    b.name,
    b.kind,
    [...b.allowedHosts].sort(),
    b.injection,
    b.oauth ? [b.oauth.tokenUrl, b.oauth.revokeUrl, b.oauth.clientId, b.oauth.redirectUri] : null,
  ]);
  return createHash("sha256").update(canonical).digest("base64url");
}

type Pattern = { scheme: "http:" | "https:"; wildcard: boolean; host: string; port: string | null | "*" };

function parsePattern(p: string): Pattern | null {
  const m = HOST_PATTERN_RE.exec(p);
  if (!m) return null;
  return {
    scheme: m[1] === "http" ? "http:" : "https:",
    wildcard: m[2] !== undefined,
    host: (m[3] ?? "").replace(/^\[|\]$/g, ""),
    port: m[4] === undefined ? null : m[4],
  };
}

/** Whether a URL's scheme, host and port fall inside one of the credential's host patterns. */
export function hostAllowed(patterns: readonly string[], url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "");
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return patterns.some((text) => {
    const p = parsePattern(text);
    if (!p || p.scheme !== url.protocol) return false;
    const hostOk = p.wildcard ? host.endsWith(`.${p.host}`) : host === p.host;
    const portOk = p.port === "*" || (p.port ?? (p.scheme === "https:" ? "443" : "80")) === port;
    return hostOk && portOk;
  });
}

/** The ways a JSON encoder may write `text` inside a string: as JSON.stringify does, with `\/`, with `\uXXXX`. */
function jsonEscapedForms(text: string): string[] {
  const escaped = JSON.stringify(text).slice(1, -1);
  const slashes = escaped.replaceAll("/", "\\/");
  const ascii = slashes.replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return [escaped, slashes, ascii];
}

/**
 * Every form of a secret that an echoing service could send back: raw, percent-encoded as
 * `encodeURIComponent` and as `URLSearchParams` write it (the query injection uses the latter, which
 * also encodes `! ' ( ) ~` and writes a space as `+`), either with lower-case hex digits, base64 (and
 * the Basic credential), and each of those as it reads inside a JSON string (a `"` or `\` escaped).
 */
function needlesOf(secrets: Secrets, injection: Injection): string[] {
  const values = [secrets.secret, secrets.access_token, secrets.refresh_token, secrets.client_secret].filter(
    (v): v is string => typeof v === "string" && v.length > 0,
  );
  const out = new Set<string>();
  for (const v of values) {
    const forms = [v, Buffer.from(v).toString("base64")];
    for (const encoded of [encodeURIComponent(v), new URLSearchParams({ v }).toString().slice("v=".length)]) {
      forms.push(
        encoded,
        encoded.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
      );
    }
    if (injection.type === "basic") forms.push(Buffer.from(`${injection.username}:${v}`).toString("base64"));
    for (const form of forms) for (const written of [form, ...jsonEscapedForms(form)]) out.add(written);
  }
  return [...out].filter((n) => n.length > 0).sort((a, b) => b.length - a.length);
}

/** Replaces every occurrence of any needle in a buffer. */
export function scrubBuffer(buf: Buffer, needles: readonly string[]): Buffer {
  let out = buf;
  for (const n of needles) {
    const needle = Buffer.from(n, "utf8");
    if (out.indexOf(needle) === -1) continue;
    const parts: Buffer[] = [];
    let from = 0;
    for (let at = out.indexOf(needle, from); at !== -1; at = out.indexOf(needle, from)) {
      parts.push(out.subarray(from, at), Buffer.from(REDACTED));
      from = at + needle.length;
    }
    parts.push(out.subarray(from));
    out = Buffer.concat(parts);
  }
  return out;
}

export function scrubText(text: string, needles: readonly string[]): string {
  let out = text;
  for (const n of needles) if (out.includes(n)) out = out.split(n).join(REDACTED);
  return out;
}

const HOP_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "content-length"]);

function flatHeaders(h: Record<string, string | string[] | undefined>, needles: readonly string[]) {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(h)) {
    if (value === undefined || HOP_HEADERS.has(name.toLowerCase())) continue;
    out[name.toLowerCase()] = scrubText(Array.isArray(value) ? value.join(", ") : value, needles);
  }
  return out;
}

function failureOf(r: Exclude<EgressResult, { ok: true }>): CoreFailure {
  switch (r.reason) {
    case "ADDRESS_BLOCKED":
      return {
        ok: false,
        code: "EGRESS_BLOCKED",
        message: `the destination ${r.host} resolves to a blocked address range (${r.range})`,
        blocked: { host: r.host, reason: r.reason, range: r.range },
      };
    case "SCHEME_NOT_ALLOWED":
    case "CREDENTIALS_IN_URL":
    case "INVALID_URL":
      return {
        ok: false,
        code: "EGRESS_BLOCKED",
        message: `the destination was refused (${r.reason})`,
        blocked: { host: "host" in r ? r.host : "", reason: r.reason },
      };
    case "PINNING_VIOLATION":
      return {
        ok: false,
        code: "EGRESS_BLOCKED",
        message: `the connection to ${r.host} reached an unchecked address`,
        blocked: { host: r.host, reason: r.reason },
      };
    case "DNS_FAILED":
      return { ok: false, code: "UPSTREAM_FAILED", message: `${r.host} does not resolve (${r.code})` };
    case "TIMEOUT":
      return { ok: false, code: "UPSTREAM_TIMEOUT", message: `${r.host} did not answer in time` };
    case "RESPONSE_TOO_LARGE":
      return {
        ok: false,
        code: "UPSTREAM_TOO_LARGE",
        message: `the response from ${r.host} is larger than ${r.limitBytes} bytes`,
      };
    case "REDIRECT_NOT_FOLLOWED":
      // Handled by the caller (the 3xx is returned as is); never reached.
      return { ok: false, code: "UPSTREAM_FAILED", message: "redirect not followed" };
    case "REQUEST_FAILED":
      // The message may quote the URL (and so a query-parameter secret): only the code leaves.
      return { ok: false, code: "UPSTREAM_FAILED", message: `the request to ${r.host} failed (${r.code})` };
  }
}

export function createBrokerCore(opts: BrokerCoreOptions): BrokerCore {
  const unwatched: EgressGuard = createEgressGuard({
    allow: egressAllowList(opts.egressAllow),
    timeoutMs: opts.timeoutMs,
    maxResponseBytes: opts.maxResponseBytes,
    ...(opts.resolver ? { resolver: opts.resolver } : {}),
  });
  const guard = opts.telemetry ? tracedEgress(opts.telemetry, unwatched, "credentials") : unwatched;
  const ciphers = new Map<string, ReturnType<typeof credentialCipher>>();
  const cipherOf = (tenantId: string) => {
    let c = ciphers.get(tenantId);
    if (!c) {
      c = credentialCipher(opts.ring, tenantId);
      ciphers.set(tenantId, c);
    }
    return c;
  };
  const field = (b: Binding) => `secrets:${bindingDigest(b)}`;

  function seal(b: Binding, secrets: Secrets, fingerprintKey: string): Sealed {
    const sealed = cipherOf(b.tenantId).encrypt(b.credentialId, field(b), JSON.stringify(secrets));
    const key = Buffer.from(fingerprintKey, "hex");
    return {
      sealed,
      fingerprints: fingerprintsOf(key, [
        secrets.secret,
        secrets.access_token,
        secrets.refresh_token,
        secrets.client_secret,
      ]),
      tokenExpiresAt: secrets.token_expires_at ?? null,
    };
  }

  function open(b: Binding, sealed: string): Secrets | null {
    const r = cipherOf(b.tenantId).decryptString(b.credentialId, field(b), sealed);
    if (!r.ok) return null;
    try {
      return JSON.parse(r.plaintext) as Secrets;
    } catch {
      return null;
    }
  }

  const unreadable = (): CoreFailure => ({
    ok: false,
    code: "CREDENTIAL_UNREADABLE",
    message: "the credential does not open under this proxy's key and binding",
  });

  /** One call to a token endpoint (form-encoded), through the egress guard. */
  async function tokenCall(
    b: Binding,
    secrets: Secrets,
    form: Record<string, string>,
    now: number,
  ): Promise<{ ok: true; secrets: Secrets } | CoreFailure> {
    if (!b.oauth) return { ok: false, code: "VALIDATION_FAILED", message: "not an OAuth credential" };
    const params = new URLSearchParams({ ...form, client_id: b.oauth.clientId });
    if (secrets.client_secret) params.set("client_secret", secrets.client_secret);
    const needles = needlesOf(secrets, b.injection);
    const res = await guard.fetch(b.oauth.tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: params.toString(),
    });
    if (!res.ok) {
      if (res.reason === "REDIRECT_NOT_FOLLOWED") {
        return { ok: false, code: "OAUTH_EXCHANGE_FAILED", message: "the token endpoint redirected" };
      }
      return failureOf(res);
    }
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(res.body.toString("utf8")) as Record<string, unknown>;
    } catch {
      return {
        ok: false,
        code: "OAUTH_EXCHANGE_FAILED",
        message: `token endpoint answered ${res.status}, not JSON`,
      };
    }
    const access = json.access_token;
    if (res.status !== 200 || typeof access !== "string" || access.length === 0) {
      const err =
        typeof json.error === "string" ? scrubText(json.error, needles).slice(0, 100) : String(res.status);
      return { ok: false, code: "OAUTH_EXCHANGE_FAILED", message: `the token endpoint refused: ${err}` };
    }
    const expiresIn = typeof json.expires_in === "number" ? json.expires_in : null;
    const next: Secrets = {
      ...secrets,
      access_token: access,
      token_expires_at: expiresIn !== null ? now + expiresIn * 1000 : null,
    };
    if (typeof json.refresh_token === "string" && json.refresh_token.length > 0) {
      next.refresh_token = json.refresh_token;
    }
    return { ok: true, secrets: next };
  }

  async function refreshSecrets(b: Binding, secrets: Secrets, now: number) {
    if (!secrets.refresh_token) {
      return { ok: false, code: "CREDENTIAL_NOT_CONNECTED", message: "no refresh token" } as CoreFailure;
    }
    return tokenCall(b, secrets, { grant_type: "refresh_token", refresh_token: secrets.refresh_token }, now);
  }

  /** Puts the secret into the URL or headers; false when a path placeholder is missing. */
  function inject(url: URL, headers: Record<string, string>, injection: Injection, value: string): boolean {
    const drop = (name: string) => {
      for (const k of Object.keys(headers)) if (k.toLowerCase() === name.toLowerCase()) delete headers[k];
    };
    switch (injection.type) {
      case "bearer":
        drop("authorization");
        headers.authorization = `Bearer ${value}`;
        return true;
      case "header":
        drop(injection.name);
        headers[injection.name] = `${injection.prefix ?? ""}${value}`;
        return true;
      case "basic":
        drop("authorization");
        headers.authorization = `Basic ${Buffer.from(`${injection.username}:${value}`).toString("base64")}`;
        return true;
      case "query":
        url.searchParams.set(injection.param, value);
        return true;
      case "path": {
        const encoded = encodeURI(PATH_PLACEHOLDER);
        if (!url.pathname.includes(encoded)) return false;
        url.pathname = url.pathname.split(encoded).join(encodeURIComponent(value));
        return true;
      }
    }
  }

  async function send(b: Binding, req: OutboundRequest, value: string) {
    const url = new URL(req.url);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers ?? {})) {
      // A compressed body could carry the secret past the scrubber: only identity encoding.
      if (!["accept-encoding", "te"].includes(k.toLowerCase())) headers[k] = v;
    }
    headers["accept-encoding"] = "identity";
    if (!inject(url, headers, b.injection, value)) {
      return {
        ok: false as const,
        code: "VALIDATION_FAILED" as const,
        message: `this credential is injected into the URL path: put ${PATH_PLACEHOLDER} in the path`,
      };
    }
    const res = await guard.fetch(url, {
      method: req.method,
      headers,
      ...(req.body !== undefined && req.method !== "GET" && req.method !== "HEAD" ? { body: req.body } : {}),
    });
    return { ok: true as const, res };
  }

  return {
    async seal({ binding, secrets, fingerprintKey }) {
      return seal(binding, secrets, fingerprintKey);
    },

    async execute({ binding: b, sealed, request, fingerprintKey, now }) {
      let url: URL;
      try {
        url = new URL(request.url);
      } catch {
        return { ok: false, code: "VALIDATION_FAILED", message: "url is not an absolute URL", host: null };
      }
      const host = url.hostname;
      if (url.username || url.password) {
        return { ok: false, code: "VALIDATION_FAILED", message: "url must not carry credentials", host };
      }
      if (!hostAllowed(b.allowedHosts, url)) {
        return {
          ok: false,
          code: "CREDENTIAL_HOST_FORBIDDEN",
          message: `credential ${b.name} is not bound to ${url.protocol}//${url.host}`,
          host,
        };
      }
      let secrets = open(b, sealed);
      if (!secrets) return { ...unreadable(), host };
      let refreshed: Sealed | null = null;
      if (b.kind === "oauth2") {
        if (!secrets.access_token) {
          return {
            ok: false,
            code: "CREDENTIAL_NOT_CONNECTED",
            message: `credential ${b.name} has no token yet: complete its OAuth grant`,
            host,
          };
        }
        const exp = secrets.token_expires_at;
        if (typeof exp === "number" && exp - REFRESH_MARGIN_MS <= now && secrets.refresh_token) {
          const r = await refreshSecrets(b, secrets, now);
          if (r.ok) {
            secrets = r.secrets;
            refreshed = seal(b, secrets, fingerprintKey);
          }
        }
      }
      const secretOf = (s: Secrets) => (b.kind === "oauth2" ? (s.access_token ?? "") : (s.secret ?? ""));
      let sent = await send(b, request, secretOf(secrets));
      if (!sent.ok) return { ...sent, host };
      if (b.kind === "oauth2" && sent.res.ok && sent.res.status === 401 && secrets.refresh_token) {
        const r = await refreshSecrets(b, secrets, now);
        if (r.ok) {
          secrets = r.secrets;
          refreshed = seal(b, secrets, fingerprintKey);
          sent = await send(b, request, secretOf(secrets));
          if (!sent.ok) return { ...sent, host };
        }
      }
      const needles = needlesOf(secrets, b.injection);
      const requestBytes = request.body ? Buffer.byteLength(request.body) : 0;
      const res = sent.res;
      if (!res.ok) {
        if (res.reason === "REDIRECT_NOT_FOLLOWED") {
          // The next hop would need its own binding and egress check: the 3xx goes back to the caller.
          const headers: Record<string, string> = {};
          if (res.location) headers.location = scrubText(res.location, needles);
          return {
            ok: true,
            status: res.status,
            headers,
            body: "",
            requestBytes,
            responseBytes: 0,
            host,
            authFailed: false,
            refreshed,
          };
        }
        return { ...failureOf(res), host };
      }
      // A server that compresses although asked not to: decoded (within the cap) so it can be scrubbed.
      const encoding = String(res.headers["content-encoding"] ?? "identity").toLowerCase();
      let plain = res.body;
      if (encoding !== "identity" && res.body.length > 0) {
        const zlibOpts = { maxOutputLength: opts.maxResponseBytes };
        try {
          if (encoding === "gzip" || encoding === "x-gzip") plain = gunzipSync(res.body, zlibOpts);
          else if (encoding === "deflate") plain = inflateSync(res.body, zlibOpts);
          else if (encoding === "br") plain = brotliDecompressSync(res.body, zlibOpts);
          else throw new Error("unknown encoding");
        } catch {
          return {
            ok: false,
            code: "UPSTREAM_FAILED",
            message: `the response from ${host} uses a content encoding that cannot be checked for the secret`,
            host,
          };
        }
      }
      const body = scrubBuffer(plain, needles);
      const headers = flatHeaders(res.headers, needles);
      delete headers["content-encoding"];
      return {
        ok: true,
        status: res.status,
        headers,
        body: body.toString("base64"),
        requestBytes,
        responseBytes: res.body.length,
        host,
        authFailed: res.status === 401 || res.status === 403,
        refreshed,
      };
    },

    async exchange({ binding: b, sealed, code, codeVerifier, fingerprintKey, now }) {
      const secrets = open(b, sealed);
      if (!secrets) return unreadable();
      if (!b.oauth) return { ok: false, code: "VALIDATION_FAILED", message: "not an OAuth credential" };
      const r = await tokenCall(
        b,
        secrets,
        {
          grant_type: "authorization_code",
          code,
          code_verifier: codeVerifier,
          redirect_uri: b.oauth.redirectUri,
        },
        now,
      );
      if (!r.ok) return r;
      return { ok: true, ...seal(b, r.secrets, fingerprintKey) };
    },

    async refresh({ binding: b, sealed, fingerprintKey, now }) {
      const secrets = open(b, sealed);
      if (!secrets) return unreadable();
      const r = await refreshSecrets(b, secrets, now);
      if (!r.ok) return r;
      return { ok: true, ...seal(b, r.secrets, fingerprintKey) };
    },

    async revoke({ binding: b, sealed }) {
      const secrets = open(b, sealed);
      if (!secrets || !b.oauth?.revokeUrl) return { ok: false };
      const token = secrets.refresh_token ?? secrets.access_token;
      if (!token) return { ok: true };
      const params = new URLSearchParams({ token, client_id: b.oauth.clientId });
      if (secrets.client_secret) params.set("client_secret", secrets.client_secret);
      const res = await guard.fetch(b.oauth.revokeUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: params.toString(),
      });
      return { ok: res.ok && res.status < 300 };
    },
  };
}

/** A PKCE verifier and its S256 challenge (RFC 7636). */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/**
 * Typed client for the Hypha REST API. One method per operation of /openapi.json, named by its
 * operationId (a test keeps the two in step). Retries 429 and 503 answers, honouring Retry-After,
 * a bounded number of times; every other failure is thrown as a HyphaError.
 *
 * @example
 * ```ts
 * import { createHyphaClient } from "hypha/client";
 * const hypha = createHyphaClient({ url: "http://127.0.0.1:7411", key: process.env.HYPHA_KEY ?? "" });
 * await hypha.storeMemory({ namespace: "user/prefs", content: "Prefers metric units" });
 * const { context } = await hypha.recallMemories({ query: "which units?" });
 * ```
 */
import type { z } from "zod";
import type { auditEventSchema, auditQuery, VerifyResponse } from "../modules/audit/audit.schemas.ts";
import type {
  bulkReplayBody,
  ConnectorHealth,
  ConnectorView,
  createConnectorBody,
  deadLetterSchema,
  replayResultSchema,
  rotateSecretBody,
  rotationResultSchema,
} from "../modules/connectors/connectors.contracts.ts";
import type { ConnectorConfig } from "../modules/connectors/connectors.schemas.ts";
import type {
  createdWebhookSchema,
  createWebhookBody,
  webhookSchema,
} from "../modules/connectors/outbound.service.ts";
import type {
  Credential,
  createCredentialBody,
  ProxyRequest,
  ProxyResponse,
} from "../modules/credentials/credentials.schemas.ts";
import type {
  Approval,
  approvalListQuery,
  freezeSchema,
  overrideBody,
  pauseSchema,
  policyBody,
  policyResponse,
} from "../modules/governance/governance.schemas.ts";
import type { createGrantBody, grantSchema } from "../modules/grants/grants.schemas.ts";
import type {
  jwtRotatedSchema,
  loginBody,
  oidcConfigBody,
  oidcConfigSchema,
  oidcLoginBody,
  sessionSchema,
} from "../modules/identity/auth.schemas.ts";
import type { createUserBody, updateUserBody, userSchema } from "../modules/identity/users.schemas.ts";
import type { ApiKey, createKeyBody, rotateKeyBody } from "../modules/keys/keys.schemas.ts";
import type {
  bulkDeleteBody,
  listQuery,
  Memory,
  memoryInput,
  patchBody,
  RecallResponse,
  recallBody,
} from "../modules/memories/memories.schemas.ts";
import type { createTenantBody, deletedTenantSchema, Tenant } from "../modules/tenants/tenants.schemas.ts";

export type {
  ApiKey,
  ConnectorConfig,
  ConnectorHealth,
  ConnectorView,
  Memory,
  RecallResponse,
  Tenant,
  VerifyResponse,
};
export type MemoryCreate = z.input<typeof memoryInput>;
export type MemoryPatch = z.input<typeof patchBody>;
export type RecallRequest = z.input<typeof recallBody>;
export type ListMemoriesQuery = Omit<Partial<z.input<typeof listQuery>>, "limit"> & { limit?: number };
export type BulkDeleteSelector = z.input<typeof bulkDeleteBody>;
export type CreateKeyRequest = z.input<typeof createKeyBody>;
export type CreateTenantRequest = z.input<typeof createTenantBody>;
export type PageQuery = { limit?: number; cursor?: string };
export type Page<T> = { items: T[]; next_cursor: string | null };
export type ExportQuery = { namespace?: string; cursor?: string; includeHistory?: boolean };
export type Status = { status: "ok" };
/** Readiness: `degraded` while a shared dependency (Redis) is down and the gateway runs on fallbacks. */
export type Readiness = {
  status: "ok" | "degraded";
  dependencies: { store: DependencyState; redis: DependencyState };
};
export type DependencyState = "ok" | "unavailable" | "not_configured";
export type DeletedTenant = z.infer<typeof deletedTenantSchema>;
export type CreateConnectorRequest = z.input<typeof createConnectorBody>;
/** A new `config` replaces the old one; leave out `secret`/`secretEnv` to keep the stored secret. */
export type UpdateConnectorRequest = {
  name?: string;
  config?: z.input<typeof createConnectorBody>["config"];
};
export type DeadLetter = z.infer<typeof deadLetterSchema>;
export type DeadLetterQuery = PageQuery & { connectorId?: string };
export type ReplayResult = z.infer<typeof replayResultSchema>;
export type BulkReplayRequest = z.input<typeof bulkReplayBody>;
export type Webhook = z.infer<typeof webhookSchema>;
export type CreatedWebhook = z.infer<typeof createdWebhookSchema>;
export type CreateWebhookRequest = z.input<typeof createWebhookBody>;
export type { Credential, ProxyRequest, ProxyResponse };
export type CreateCredentialRequest = z.input<typeof createCredentialBody>;
/** A proxied call's answer, or (when the credential's tier needs approval) the approval to decide. */
export type ProxyResult = ProxyResponse | { status: "approval_required"; approval: Approval };
export type AuditEvent = z.infer<typeof auditEventSchema>;
export type AuditEventsQuery = Omit<Partial<z.input<typeof auditQuery>>, "cursor" | "limit"> & {
  cursor?: number | string;
  limit?: number;
};
export type RotateConnectorSecretRequest = z.input<typeof rotateSecretBody>;
export type ConnectorRotation = z.infer<typeof rotationResultSchema>;
/** A signed delivery as the sender made it: the exact bytes and the headers carrying the signature. */
export type WebhookDelivery = { body: string | Uint8Array; headers: Record<string, string> };
export type IngestResult =
  | { status: "accepted"; id: string }
  | { status: "acknowledged" }
  | { status: "duplicate" }
  | { challenge: string };
export type StreamQuery = { follow?: boolean; lastEventId?: string };
/** One Server-Sent Event of a tenant's stream; `data` is its JSON payload. */
export type StreamEvent = { id: string | null; event: string; data: Record<string, unknown> };
export type User = z.infer<typeof userSchema>;
export type CreateUserRequest = z.input<typeof createUserBody>;
export type UpdateUserRequest = z.input<typeof updateUserBody>;
export type LoginRequest = z.input<typeof loginBody>;
export type OidcLoginRequest = z.input<typeof oidcLoginBody>;
export type Session = z.infer<typeof sessionSchema>;
export type SignedIn = Session & { refresh_token: string | null };
/** What `refreshSession` and `logout` need: the refresh token and the CSRF token of its session. */
export type SessionCookie = { refresh_token: string; csrf_token: string };
export type JwtRotated = z.infer<typeof jwtRotatedSchema>;
export type OidcConfig = z.infer<typeof oidcConfigSchema>;
export type OidcConfigRequest = z.input<typeof oidcConfigBody>;
export type RotateKeyRequest = z.input<typeof rotateKeyBody>;
export type Grant = z.infer<typeof grantSchema>;
export type CreateGrantRequest = z.input<typeof createGrantBody>;
export type { Approval };
export type TenantPolicy = z.infer<typeof policyResponse>;
/** Omitted fields take their defaults: `{}` restores the default policy. */
export type TenantPolicyRequest = z.input<typeof policyBody>;
export type ApprovalsQuery = Omit<Partial<z.input<typeof approvalListQuery>>, "limit"> & { limit?: number };
export type Freeze = z.infer<typeof freezeSchema>;
export type OverrideRequest = z.input<typeof overrideBody>;
export type OverrideResult = { frozen: boolean; override: Freeze; cancelled_approvals: number };
export type ResumedKey = Pick<z.infer<typeof pauseSchema>, "key_id" | "paused"> & { resumed: boolean };

/** A failed call: the server's stable error code, the HTTP status and the request id to quote. */
export class HyphaError extends Error {
  readonly code: string;
  readonly status: number;
  readonly requestId: string | null;
  readonly details: { path: string; message: string }[] | undefined;
  /** From Retry-After, when the server sent one. */
  readonly retryAfterMs: number | null;

  constructor(
    code: string,
    message: string,
    opts: {
      status: number;
      requestId?: string | null;
      details?: { path: string; message: string }[] | undefined;
      retryAfterMs?: number | null;
      cause?: unknown;
    },
  ) {
    super(message, { cause: opts.cause });
    this.name = "HyphaError";
    this.code = code;
    this.status = opts.status;
    this.requestId = opts.requestId ?? null;
    this.details = opts.details;
    this.retryAfterMs = opts.retryAfterMs ?? null;
  }
}

export type HyphaClientOptions = {
  /** Base URL of the server, e.g. http://127.0.0.1:7411 */
  url: string;
  /** An agent key (or the instance admin key for tenant and key management). */
  key: string;
  /** Retries of a 429 or 503 answer (default 3). */
  maxRetries?: number;
  /** The longest wait before a retry; a longer Retry-After is not waited for (default 30 s). */
  maxRetryDelayMs?: number;
  /** Injected for tests; defaults to a timer. */
  sleep?: (ms: number) => Promise<void>;
  /**
   * Sent as `X-Approval-Id`: a client made with the id of an approved request repeats that request
   * (the identical call) and the server runs it once.
   */
  approvalId?: string;
  fetch?: typeof fetch;
  now?: () => number;
};

export interface HyphaClient {
  healthz(): Promise<Status>;
  healthLive(): Promise<Status>;
  healthReady(): Promise<Readiness>;
  createTenant(input: CreateTenantRequest): Promise<Tenant>;
  listTenants(page?: PageQuery): Promise<Page<Tenant>>;
  getTenant(tenantId: string): Promise<Tenant>;
  createKey(tenantId: string, input: CreateKeyRequest): Promise<ApiKey & { key: string }>;
  listKeys(tenantId: string, page?: PageQuery): Promise<Page<ApiKey>>;
  revokeKey(tenantId: string, keyId: string): Promise<ApiKey>;
  /** Stores one memory, or a batch `{memories: [...]}` in one transaction (all or nothing). */
  storeMemory(input: MemoryCreate): Promise<Memory>;
  storeMemory(batch: { memories: MemoryCreate[] }): Promise<{ memories: Memory[] }>;
  listMemories(query?: ListMemoriesQuery): Promise<Page<Memory>>;
  getMemory(id: string): Promise<Memory>;
  updateMemory(id: string, patch: MemoryPatch): Promise<Memory>;
  memoryHistory(id: string): Promise<{ versions: Memory[] }>;
  deleteMemory(id: string): Promise<{ deleted: number }>;
  bulkDeleteMemories(selector: BulkDeleteSelector): Promise<{ deleted: number }>;
  recallMemories(input: RecallRequest): Promise<RecallResponse>;
  /** Streams memories (NDJSON) as they arrive; resume a cut export with `cursor` = last id seen. */
  exportMemories(query?: ExportQuery): AsyncGenerator<Memory>;
  listNamespaces(): Promise<{ items: { namespace: string; count: number }[] }>;
  /** Deletes a tenant and crypto-shreds its data (instance admin key). */
  deleteTenant(tenantId: string): Promise<DeletedTenant>;
  createConnector(tenantId: string, input: CreateConnectorRequest): Promise<ConnectorView>;
  listConnectors(tenantId: string, page?: PageQuery): Promise<Page<ConnectorView>>;
  getConnector(tenantId: string, connectorId: string): Promise<ConnectorView>;
  updateConnector(
    tenantId: string,
    connectorId: string,
    input: UpdateConnectorRequest,
  ): Promise<ConnectorView>;
  connectorHealth(tenantId: string, connectorId: string): Promise<ConnectorHealth>;
  deleteConnector(tenantId: string, connectorId: string): Promise<ConnectorView>;
  /** Rolls the signing secret; the previous one keeps verifying for `grace_seconds`. */
  rotateConnectorSecret(
    tenantId: string,
    connectorId: string,
    input: RotateConnectorSecretRequest,
  ): Promise<ConnectorRotation>;
  /** Ends a rotation now: the previous secret stops verifying. */
  endConnectorSecretRotation(tenantId: string, connectorId: string): Promise<ConnectorRotation>;
  /**
   * Sends a signed delivery to a connector (what GitHub, Slack or Stripe do). No API key is sent: the
   * signature is the credential.
   */
  ingestWebhook(tenantId: string, connectorId: string, delivery: WebhookDelivery): Promise<IngestResult>;
  listDeadLetters(tenantId: string, query?: DeadLetterQuery): Promise<Page<DeadLetter>>;
  replayDeadLetter(tenantId: string, deliveryId: string): Promise<ReplayResult>;
  replayDeadLetters(
    tenantId: string,
    input?: BulkReplayRequest,
  ): Promise<{ replayed: number; ids: string[] }>;
  createWebhook(tenantId: string, input: CreateWebhookRequest): Promise<CreatedWebhook>;
  listWebhooks(tenantId: string, page?: PageQuery): Promise<Page<Webhook>>;
  deleteWebhook(tenantId: string, webhookId: string): Promise<Webhook>;
  // Credential broker: third-party credentials used through the proxy, never returned.
  createCredential(tenantId: string, input: CreateCredentialRequest): Promise<Credential>;
  listCredentials(tenantId: string, page?: PageQuery): Promise<Page<Credential>>;
  getCredential(tenantId: string, name: string): Promise<Credential>;
  rotateCredential(tenantId: string, name: string, input: { secret: string }): Promise<Credential>;
  deleteCredential(tenantId: string, name: string): Promise<Credential>;
  startCredentialOAuth(
    tenantId: string,
    name: string,
  ): Promise<{ authorize_url: string; expires_at: string }>;
  completeCredentialOAuth(
    tenantId: string,
    name: string,
    input: { code: string; state: string },
  ): Promise<Credential>;
  /** An HTTP call with a stored credential the caller never sees (`credentials.use.<name>`). */
  proxyHttp(input: ProxyRequest): Promise<ProxyResult>;
  /** A tenant's live events (SSE). With `follow: false` it yields the buffered events and ends. */
  streamTenantEvents(tenantId: string, query?: StreamQuery): AsyncGenerator<StreamEvent>;
  listAuditEvents(query?: AuditEventsQuery): Promise<Page<AuditEvent>>;
  /** Verifies the instance chain, or a tenant's with `tenantId`. */
  verifyAuditChain(query?: { tenantId?: string }): Promise<VerifyResponse>;
  // Identity and access: people, sessions, OIDC, signing secrets, key rotation, namespace grants.
  createUser(tenantId: string, input: CreateUserRequest): Promise<User>;
  listUsers(tenantId: string, page?: PageQuery): Promise<Page<User>>;
  getUser(tenantId: string, userId: string): Promise<User>;
  updateUser(tenantId: string, userId: string, input: UpdateUserRequest): Promise<User>;
  /**
   * Signs a person in. No API key is sent. `refresh_token` is read from the Set-Cookie answer (null
   * where the platform hides it); pass it with `csrf_token` to `refreshSession` and `logout`.
   */
  login(input: LoginRequest): Promise<SignedIn>;
  /** Signs in with an ID token from the tenant's OpenID Connect provider. */
  loginOidc(input: OidcLoginRequest): Promise<SignedIn>;
  /** A new access token and a new refresh token; the one given is spent. */
  refreshSession(session: SessionCookie): Promise<SignedIn>;
  /** Ends the session family of the refresh token. */
  logout(session: SessionCookie): Promise<void>;
  rotateTenantJwtSecret(tenantId: string): Promise<JwtRotated>;
  getOidcConfig(tenantId: string): Promise<OidcConfig>;
  putOidcConfig(tenantId: string, input: OidcConfigRequest): Promise<OidcConfig>;
  /** A new key with the same agent, scopes and namespaces (shown once); the old works for the grace. */
  rotateKey(tenantId: string, keyId: string, input?: RotateKeyRequest): Promise<ApiKey & { key: string }>;
  createGrant(tenantId: string, input: CreateGrantRequest): Promise<Grant>;
  listGrants(tenantId: string, page?: PageQuery): Promise<Page<Grant>>;
  revokeGrant(tenantId: string, grantId: string): Promise<Grant>;
  // Governance: policy, approvals, the kill switch, paused keys.
  getTenantPolicy(tenantId: string): Promise<TenantPolicy>;
  putTenantPolicy(tenantId: string, policy: TenantPolicyRequest): Promise<TenantPolicy>;
  listApprovals(query?: ApprovalsQuery): Promise<Page<Approval>>;
  getApproval(approvalId: string): Promise<Approval>;
  /** A person's vote (DEVELOPER or ADMIN token); the requester and the key's creator cannot vote. */
  approveApproval(approvalId: string, input?: { comment?: string }): Promise<Approval>;
  rejectApproval(approvalId: string, input?: { comment?: string }): Promise<Approval>;
  getOverrides(): Promise<{ items: Freeze[] }>;
  /** Freezes or lifts agent work: global (instance admin), a tenant, a key or an agent name. */
  setOverride(input: OverrideRequest): Promise<OverrideResult>;
  resumeKey(tenantId: string, keyId: string): Promise<ResumedKey>;
}

type Query = Record<string, string | number | boolean | undefined>;
type Call = {
  method: string;
  path: string;
  query?: Query | undefined;
  body?: unknown;
  /** Sent as they are, without the API key (signed webhook deliveries). */
  raw?: WebhookDelivery;
  accept?: string;
};

const seg = encodeURIComponent;

/** Milliseconds to wait as Retry-After says (delta seconds or an HTTP date), or null. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null || value.trim() === "") return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export function createHyphaClient(opts: HyphaClientOptions): HyphaClient {
  const base = opts.url.endsWith("/") ? opts.url : `${opts.url}/`;
  const doFetch = opts.fetch ?? fetch;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = opts.now ?? Date.now;
  const maxRetries = opts.maxRetries ?? 3;
  const maxDelay = opts.maxRetryDelayMs ?? 30_000;

  async function toError(res: Response): Promise<HyphaError> {
    const requestId = res.headers.get("x-request-id");
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"), now());
    const text = await res.text().catch(() => "");
    try {
      const { error } = JSON.parse(text) as {
        error: {
          code: string;
          message: string;
          requestId?: string;
          details?: { path: string; message: string }[];
        };
      };
      if (typeof error?.code === "string") {
        return new HyphaError(error.code, error.message, {
          status: res.status,
          requestId: error.requestId ?? requestId,
          details: error.details,
          retryAfterMs,
        });
      }
    } catch {
      // not our envelope (a proxy's page): fall through
    }
    return new HyphaError(`HTTP_${res.status}`, `HTTP ${res.status}`, {
      status: res.status,
      requestId,
      retryAfterMs,
    });
  }

  async function send(call: Call): Promise<Response> {
    const url = new URL(call.path.replace(/^\//, ""), base);
    for (const [k, v] of Object.entries(call.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = call.raw
      ? { "content-type": "application/json", "user-agent": "hypha-client", ...call.raw.headers }
      : {
          authorization: `Bearer ${opts.key}`,
          "user-agent": "hypha-client",
          ...(opts.approvalId ? { "x-approval-id": opts.approvalId } : {}),
        };
    if (call.body !== undefined) headers["content-type"] = "application/json";
    if (call.accept) headers.accept = call.accept;
    const payload = call.raw
      ? call.raw.body
      : call.body !== undefined
        ? JSON.stringify(call.body)
        : undefined;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await doFetch(url, {
          method: call.method,
          headers,
          ...(payload !== undefined ? { body: payload } : {}),
        });
      } catch (err) {
        throw new HyphaError("NETWORK_ERROR", `cannot reach ${url.origin}`, { status: 0, cause: err });
      }
      if (res.ok) return res;
      if ((res.status === 429 || res.status === 503) && attempt < maxRetries) {
        const wait =
          parseRetryAfter(res.headers.get("retry-after"), now()) ?? Math.min(maxDelay, 500 * 2 ** attempt);
        if (wait <= maxDelay) {
          await res.body?.cancel();
          await sleep(wait);
          continue;
        }
      }
      throw await toError(res);
    }
  }

  const json = async <T>(call: Call): Promise<T> => (await (await send(call)).json()) as T;

  async function* exportMemories(q: ExportQuery = {}): AsyncGenerator<Memory> {
    const res = await send({
      method: "GET",
      path: "/v1/memories/export",
      query: {
        namespace: q.namespace,
        cursor: q.cursor,
        include_history: q.includeHistory ? "true" : undefined,
      },
    });
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of res.body) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim()) yield JSON.parse(line) as Memory;
        nl = buffered.indexOf("\n");
      }
    }
    buffered += decoder.decode();
    if (buffered.trim()) yield JSON.parse(buffered) as Memory;
  }

  async function* streamTenantEvents(tenantId: string, q: StreamQuery = {}): AsyncGenerator<StreamEvent> {
    const res = await send({
      method: "GET",
      path: `/admin/stream/${seg(tenantId)}`,
      query: { follow: q.follow === undefined ? undefined : String(q.follow), last_event_id: q.lastEventId },
      accept: "text/event-stream",
    });
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffered = "";
    const parse = (block: string): StreamEvent | null => {
      let id: string | null = null;
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line === "" || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "id") id = value;
        else if (field === "event") event = value;
        else if (field === "data") data.push(value);
      }
      if (data.length === 0) return null;
      return { id, event, data: JSON.parse(data.join("\n")) as Record<string, unknown> };
    };
    for await (const chunk of res.body) {
      buffered += decoder.decode(chunk, { stream: true });
      let end = buffered.indexOf("\n\n");
      while (end >= 0) {
        const parsed = parse(buffered.slice(0, end));
        buffered = buffered.slice(end + 2);
        if (parsed) yield parsed;
        end = buffered.indexOf("\n\n");
      }
    }
    buffered += decoder.decode();
    const last = buffered.trim() ? parse(buffered) : null;
    if (last) yield last;
  }

  const tenantPath = (tenantId: string, ...rest: string[]) =>
    [`/v1/tenants/${seg(tenantId)}`, ...rest.map(seg)].join("/");

  // Sign-in calls carry no API key: a password, an ID token, or the refresh cookie and CSRF token.
  const cookieDelivery = (session: SessionCookie): WebhookDelivery => ({
    body: "{}",
    headers: { cookie: `hypha_refresh=${session.refresh_token}`, "x-csrf-token": session.csrf_token },
  });
  async function signIn(path: string, raw: WebhookDelivery): Promise<SignedIn> {
    const res = await send({ method: "POST", path, raw });
    let refresh: string | null = null;
    for (const c of res.headers.getSetCookie()) {
      const m = /^hypha_refresh=([^;]+)/.exec(c);
      if (m?.[1]) refresh = m[1];
    }
    return { ...((await res.json()) as Session), refresh_token: refresh };
  }

  const client = {
    healthz: () => json<Status>({ method: "GET", path: "/healthz" }),
    healthLive: () => json<Status>({ method: "GET", path: "/health/live" }),
    healthReady: () => json<Readiness>({ method: "GET", path: "/health/ready" }),
    createTenant: (input: CreateTenantRequest) =>
      json<Tenant>({ method: "POST", path: "/v1/tenants", body: input }),
    listTenants: (page: PageQuery = {}) =>
      json<Page<Tenant>>({ method: "GET", path: "/v1/tenants", query: page }),
    getTenant: (tenantId: string) => json<Tenant>({ method: "GET", path: `/v1/tenants/${seg(tenantId)}` }),
    createKey: (tenantId: string, input: CreateKeyRequest) =>
      json<ApiKey & { key: string }>({
        method: "POST",
        path: `/v1/tenants/${seg(tenantId)}/keys`,
        body: input,
      }),
    listKeys: (tenantId: string, page: PageQuery = {}) =>
      json<Page<ApiKey>>({ method: "GET", path: `/v1/tenants/${seg(tenantId)}/keys`, query: page }),
    revokeKey: (tenantId: string, keyId: string) =>
      json<ApiKey>({ method: "DELETE", path: `/v1/tenants/${seg(tenantId)}/keys/${seg(keyId)}` }),
    storeMemory: (input: MemoryCreate | { memories: MemoryCreate[] }) =>
      json<Memory | { memories: Memory[] }>({ method: "POST", path: "/v1/memories", body: input }),
    listMemories: (query: ListMemoriesQuery = {}) =>
      json<Page<Memory>>({ method: "GET", path: "/v1/memories", query }),
    getMemory: (id: string) => json<Memory>({ method: "GET", path: `/v1/memories/${seg(id)}` }),
    updateMemory: (id: string, patch: MemoryPatch) =>
      json<Memory>({ method: "PATCH", path: `/v1/memories/${seg(id)}`, body: patch }),
    memoryHistory: (id: string) =>
      json<{ versions: Memory[] }>({ method: "GET", path: `/v1/memories/${seg(id)}/history` }),
    deleteMemory: (id: string) =>
      json<{ deleted: number }>({ method: "DELETE", path: `/v1/memories/${seg(id)}` }),
    bulkDeleteMemories: (selector: BulkDeleteSelector) =>
      json<{ deleted: number }>({ method: "DELETE", path: "/v1/memories", body: selector }),
    recallMemories: (input: RecallRequest) =>
      json<RecallResponse>({ method: "POST", path: "/v1/memories/recall", body: input }),
    exportMemories,
    listNamespaces: () =>
      json<{ items: { namespace: string; count: number }[] }>({ method: "GET", path: "/v1/namespaces" }),
    deleteTenant: (tenantId: string) => json<DeletedTenant>({ method: "DELETE", path: tenantPath(tenantId) }),
    createConnector: (tenantId: string, input: CreateConnectorRequest) =>
      json<ConnectorView>({ method: "POST", path: tenantPath(tenantId, "connectors"), body: input }),
    listConnectors: (tenantId: string, page: PageQuery = {}) =>
      json<Page<ConnectorView>>({ method: "GET", path: tenantPath(tenantId, "connectors"), query: page }),
    getConnector: (tenantId: string, connectorId: string) =>
      json<ConnectorView>({ method: "GET", path: tenantPath(tenantId, "connectors", connectorId) }),
    updateConnector: (tenantId: string, connectorId: string, input: UpdateConnectorRequest) =>
      json<ConnectorView>({
        method: "PATCH",
        path: tenantPath(tenantId, "connectors", connectorId),
        body: input,
      }),
    connectorHealth: (tenantId: string, connectorId: string) =>
      json<ConnectorHealth>({
        method: "GET",
        path: tenantPath(tenantId, "connectors", connectorId, "health"),
      }),
    deleteConnector: (tenantId: string, connectorId: string) =>
      json<ConnectorView>({ method: "DELETE", path: tenantPath(tenantId, "connectors", connectorId) }),
    rotateConnectorSecret: (tenantId: string, connectorId: string, input: RotateConnectorSecretRequest) =>
      json<ConnectorRotation>({
        method: "POST",
        path: tenantPath(tenantId, "connectors", connectorId, "secret", "rotate"),
        body: input,
      }),
    endConnectorSecretRotation: (tenantId: string, connectorId: string) =>
      json<ConnectorRotation>({
        method: "DELETE",
        path: tenantPath(tenantId, "connectors", connectorId, "secret", "previous"),
      }),
    ingestWebhook: async (tenantId: string, connectorId: string, delivery: WebhookDelivery) => {
      const res = await send({
        method: "POST",
        path: `/v1/ingest/${seg(tenantId)}/${seg(connectorId)}`,
        raw: delivery,
      });
      // Slack slash commands and interactions are acknowledged with an empty 200.
      const text = await res.text();
      return (text === "" ? { status: "acknowledged" } : JSON.parse(text)) as IngestResult;
    },
    listDeadLetters: (tenantId: string, q: DeadLetterQuery = {}) =>
      json<Page<DeadLetter>>({
        method: "GET",
        path: `/admin/webhooks/dead-letters/${seg(tenantId)}`,
        query: { limit: q.limit, cursor: q.cursor, connector_id: q.connectorId },
      }),
    replayDeadLetter: (tenantId: string, deliveryId: string) =>
      json<ReplayResult>({
        method: "POST",
        path: `/admin/webhooks/replay/${seg(tenantId)}/${seg(deliveryId)}`,
      }),
    replayDeadLetters: (tenantId: string, input: BulkReplayRequest = {}) =>
      json<{ replayed: number; ids: string[] }>({
        method: "POST",
        path: `/admin/webhooks/replay/${seg(tenantId)}`,
        body: input,
      }),
    createWebhook: (tenantId: string, input: CreateWebhookRequest) =>
      json<CreatedWebhook>({ method: "POST", path: tenantPath(tenantId, "webhooks"), body: input }),
    listWebhooks: (tenantId: string, page: PageQuery = {}) =>
      json<Page<Webhook>>({ method: "GET", path: tenantPath(tenantId, "webhooks"), query: page }),
    deleteWebhook: (tenantId: string, webhookId: string) =>
      json<Webhook>({ method: "DELETE", path: tenantPath(tenantId, "webhooks", webhookId) }),
    createCredential: (tenantId: string, input: CreateCredentialRequest) =>
      json<Credential>({ method: "POST", path: tenantPath(tenantId, "credentials"), body: input }),
    listCredentials: (tenantId: string, page: PageQuery = {}) =>
      json<Page<Credential>>({ method: "GET", path: tenantPath(tenantId, "credentials"), query: page }),
    getCredential: (tenantId: string, name: string) =>
      json<Credential>({ method: "GET", path: tenantPath(tenantId, "credentials", name) }),
    rotateCredential: (tenantId: string, name: string, input: { secret: string }) =>
      json<Credential>({
        method: "POST",
        path: tenantPath(tenantId, "credentials", name, "rotate"),
        body: input,
      }),
    deleteCredential: (tenantId: string, name: string) =>
      json<Credential>({ method: "DELETE", path: tenantPath(tenantId, "credentials", name) }),
    startCredentialOAuth: (tenantId: string, name: string) =>
      json<{ authorize_url: string; expires_at: string }>({
        method: "POST",
        path: tenantPath(tenantId, "credentials", name, "oauth", "start"),
      }),
    completeCredentialOAuth: (tenantId: string, name: string, input: { code: string; state: string }) =>
      json<Credential>({
        method: "POST",
        path: tenantPath(tenantId, "credentials", name, "oauth", "callback"),
        body: input,
      }),
    proxyHttp: (input: ProxyRequest) =>
      json<ProxyResult>({ method: "POST", path: "/v1/proxy/http", body: input }),
    streamTenantEvents,
    listAuditEvents: (query: AuditEventsQuery = {}) =>
      json<Page<AuditEvent>>({ method: "GET", path: "/v1/audit/events", query }),
    verifyAuditChain: (query: { tenantId?: string } = {}) =>
      json<VerifyResponse>({ method: "GET", path: "/v1/audit/verify", query: { tenant_id: query.tenantId } }),
    // Identity and access.
    createUser: (tenantId: string, input: CreateUserRequest) =>
      json<User>({ method: "POST", path: tenantPath(tenantId, "users"), body: input }),
    listUsers: (tenantId: string, page: PageQuery = {}) =>
      json<Page<User>>({ method: "GET", path: tenantPath(tenantId, "users"), query: page }),
    getUser: (tenantId: string, userId: string) =>
      json<User>({ method: "GET", path: tenantPath(tenantId, "users", userId) }),
    updateUser: (tenantId: string, userId: string, input: UpdateUserRequest) =>
      json<User>({ method: "PATCH", path: tenantPath(tenantId, "users", userId), body: input }),
    login: (input: LoginRequest) => signIn("/v1/auth/login", { body: JSON.stringify(input), headers: {} }),
    loginOidc: (input: OidcLoginRequest) =>
      signIn("/v1/auth/oidc", { body: JSON.stringify(input), headers: {} }),
    refreshSession: (session: SessionCookie) => signIn("/v1/auth/refresh", cookieDelivery(session)),
    logout: async (session: SessionCookie) => {
      const res = await send({ method: "POST", path: "/v1/auth/logout", raw: cookieDelivery(session) });
      await res.body?.cancel();
    },
    rotateTenantJwtSecret: (tenantId: string) =>
      json<JwtRotated>({ method: "POST", path: tenantPath(tenantId, "jwt", "rotate") }),
    getOidcConfig: (tenantId: string) =>
      json<OidcConfig>({ method: "GET", path: tenantPath(tenantId, "oidc") }),
    putOidcConfig: (tenantId: string, input: OidcConfigRequest) =>
      json<OidcConfig>({ method: "PUT", path: tenantPath(tenantId, "oidc"), body: input }),
    rotateKey: (tenantId: string, keyId: string, input: RotateKeyRequest = {}) =>
      json<ApiKey & { key: string }>({
        method: "POST",
        path: tenantPath(tenantId, "keys", keyId, "rotate"),
        body: input,
      }),
    createGrant: (tenantId: string, input: CreateGrantRequest) =>
      json<Grant>({ method: "POST", path: tenantPath(tenantId, "grants"), body: input }),
    listGrants: (tenantId: string, page: PageQuery = {}) =>
      json<Page<Grant>>({ method: "GET", path: tenantPath(tenantId, "grants"), query: page }),
    revokeGrant: (tenantId: string, grantId: string) =>
      json<Grant>({ method: "DELETE", path: tenantPath(tenantId, "grants", grantId) }),
    // Governance.
    getTenantPolicy: (tenantId: string) =>
      json<TenantPolicy>({ method: "GET", path: tenantPath(tenantId, "policy") }),
    putTenantPolicy: (tenantId: string, policy: TenantPolicyRequest) =>
      json<TenantPolicy>({ method: "PUT", path: tenantPath(tenantId, "policy"), body: policy }),
    listApprovals: (query: ApprovalsQuery = {}) =>
      json<Page<Approval>>({ method: "GET", path: "/v1/approvals", query }),
    getApproval: (approvalId: string) =>
      json<Approval>({ method: "GET", path: `/v1/approvals/${seg(approvalId)}` }),
    approveApproval: (approvalId: string, input: { comment?: string } = {}) =>
      json<Approval>({ method: "POST", path: `/v1/approvals/${seg(approvalId)}/approve`, body: input }),
    rejectApproval: (approvalId: string, input: { comment?: string } = {}) =>
      json<Approval>({ method: "POST", path: `/v1/approvals/${seg(approvalId)}/reject`, body: input }),
    getOverrides: () => json<{ items: Freeze[] }>({ method: "GET", path: "/admin/override" }),
    setOverride: (input: OverrideRequest) =>
      json<OverrideResult>({ method: "PUT", path: "/admin/override", body: input }),
    resumeKey: (tenantId: string, keyId: string) =>
      json<ResumedKey>({ method: "POST", path: tenantPath(tenantId, "keys", keyId, "resume") }),
  };
  return client as HyphaClient;
}

/** Every current memory matching `query`, page after page. */
export async function* listAllMemories(
  client: HyphaClient,
  query: Omit<ListMemoriesQuery, "cursor"> = {},
): AsyncGenerator<Memory> {
  let cursor: string | undefined;
  do {
    const page = await client.listMemories({ ...query, ...(cursor ? { cursor } : {}) });
    yield* page.items;
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
}

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
import type { Operations } from "./operations.ts";

export type { OperationId, Operations } from "./operations.ts";

type Res<O extends keyof Operations> = Operations[O]["response"];
type Body<O extends keyof Operations> = Operations[O]["body"];
type QueryOf<O extends keyof Operations> = Operations[O]["query"];
type Item<O extends keyof Operations> = Res<O> extends { items: (infer T)[] } ? T : never;

export type Memory = Res<"getMemory">;
/** A stored memory; `deduplicated` when the tenant's dedupe policy made the store a new version of a near-duplicate. */
export type StoredMemory = Exclude<Res<"storeMemory">, { memories: unknown }>;
export type RecallResponse = Res<"recallMemories">;
export type EmbeddingStatus = Res<"getEmbeddingStatus">;
export type ApiKey = Item<"listKeys">;
export type Tenant = Res<"getTenant">;
export type VerifyResponse = Res<"verifyAuditChain">;
export type ConnectorView = Res<"getConnector">;
export type ConnectorConfig = Body<"createConnector">["config"];
export type ConnectorHealth = Res<"connectorHealth">;
export type MemoryCreate = Exclude<Body<"storeMemory">, { memories: unknown }>;
export type MemoryPatch = Body<"updateMemory">;
export type RecallRequest = Body<"recallMemories">;
export type ListMemoriesQuery = Omit<Partial<QueryOf<"listMemories">>, "limit"> & { limit?: number };
export type BulkDeleteSelector = Body<"bulkDeleteMemories">;
export type CreateKeyRequest = Body<"createKey">;
export type CreateTenantRequest = Body<"createTenant">;
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
export type DeletedTenant = Res<"deleteTenant">;
export type CreateConnectorRequest = Body<"createConnector">;
/** A new `config` replaces the old one; leave out `secret`/`secretEnv` to keep the stored secret. */
export type UpdateConnectorRequest = Body<"updateConnector">;
export type DeadLetter = Item<"listDeadLetters">;
export type DeadLetterQuery = PageQuery & { connectorId?: string };
export type ReplayResult = Res<"replayDeadLetter">;
export type BulkReplayRequest = Body<"replayDeadLetters">;
export type Webhook = Item<"listWebhooks">;
export type CreatedWebhook = Res<"createWebhook">;
export type CreateWebhookRequest = Body<"createWebhook">;
export type Credential = Res<"getCredential">;
export type ProxyRequest = Body<"proxyHttp">;
export type ProxyResponse = Exclude<Res<"proxyHttp">, { status: "approval_required" }>;
export type CreateCredentialRequest = Body<"createCredential">;
/** A proxied call's answer, or (when the credential's tier needs approval) the approval to decide. */
export type ProxyResult = ProxyResponse | { status: "approval_required"; approval: Approval };
export type AuditEvent = Item<"listAuditEvents">;
export type AuditEventsQuery = Omit<Partial<QueryOf<"listAuditEvents">>, "cursor" | "limit"> & {
  cursor?: number | string;
  limit?: number;
};
export type RotateConnectorSecretRequest = Body<"rotateConnectorSecret">;
export type ConnectorRotation = Res<"rotateConnectorSecret">;
/** A signed delivery as the sender made it: the exact bytes and the headers carrying the signature. */
export type WebhookDelivery = { body: string | Uint8Array; headers: Record<string, string> };
export type IngestResult =
  | { status: "accepted"; id: string }
  | { status: "acknowledged" }
  | { status: "duplicate" }
  | { challenge: string };
export type StreamQuery = {
  /** `false` yields the buffered events and ends; by default the stream stays open. */
  follow?: boolean;
  /** Resume after this event id (sent as `Last-Event-ID`). */
  lastEventId?: string;
  /**
   * A followed stream that drops is reopened with `Last-Event-ID` set to the last id seen, after the
   * server's `retry:` delay, this many times in a row before the failure is thrown (default 5).
   */
  maxReconnects?: number;
};
/** One Server-Sent Event of a tenant's stream; `data` is its JSON payload. */
export type StreamEvent = { id: string | null; event: string; data: Record<string, unknown> };
export type User = Res<"getUser">;
export type CreateUserRequest = Body<"createUser">;
export type UpdateUserRequest = Body<"updateUser">;
export type EndedSessions = Res<"endUserSessions">;
export type LoginRequest = Body<"login">;
export type OidcLoginRequest = Body<"loginOidc">;
export type Session = Res<"login">;
export type SignedIn = Session & { refresh_token: string | null };
/** What `refreshSession` and `logout` need: the refresh token and the CSRF token of its session. */
export type SessionCookie = { refresh_token: string; csrf_token: string };
export type JwtRotated = Res<"rotateTenantJwtSecret">;
export type OidcConfig = Res<"getOidcConfig">;
export type OidcConfigRequest = Body<"putOidcConfig">;
export type RotateKeyRequest = Body<"rotateKey">;
export type Grant = Item<"listGrants">;
export type CreateGrantRequest = Body<"createGrant">;
export type Approval = Res<"getApproval">;
export type TenantPolicy = Res<"getTenantPolicy">;
/** Omitted fields take their defaults: `{}` restores the default policy. */
export type TenantPolicyRequest = Body<"putTenantPolicy">;
export type ApprovalsQuery = Omit<Partial<QueryOf<"listApprovals">>, "limit"> & { limit?: number };
export type Freeze = Item<"getOverrides">;
export type OverrideRequest = Body<"setOverride">;
export type OverrideResult = Res<"setOverride">;
export type ResumedKey = Res<"resumeKey">;

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

/**
 * A governed call the tenant's policy holds for a person's decision: the server answered 202
 * `approval_required`. Wait for the decision with `waitForApproval`, then repeat the identical call with
 * the approval id (`withApproval` does both).
 */
export class ApprovalRequiredError extends HyphaError {
  readonly approval: Approval;

  constructor(approval: Approval, requestId: string | null) {
    super("APPROVAL_REQUIRED", `the call waits for approval ${approval.id}`, { status: 202, requestId });
    this.name = "ApprovalRequiredError";
    this.approval = approval;
  }
}

/**
 * What an agent framework's tool hands back to the model when Hypha refuses: the stable code, and
 * for a call held for approval the approval's id (a client made with it repeats the call once
 * approved). Never a stack.
 */
export type ToolFailure = { error: { code: string; message: string; approval_id?: string } };

/** Runs one tool call: a refusal from Hypha becomes a {@link ToolFailure}; anything else is rethrown. */
export async function guardTool<T>(run: () => Promise<T>): Promise<T | ToolFailure> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof ApprovalRequiredError) {
      return { error: { code: err.code, message: err.message, approval_id: err.approval.id } };
    }
    if (err instanceof HyphaError) return { error: { code: err.code, message: err.message } };
    throw err;
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
  storeMemory(input: MemoryCreate): Promise<StoredMemory>;
  storeMemory(batch: { memories: MemoryCreate[] }): Promise<{ memories: StoredMemory[] }>;
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
  /** Hybrid recall: the active embedder and how many memories have a vector or wait for one. */
  getEmbeddingStatus(): Promise<EmbeddingStatus>;
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
  /** Signs a user out everywhere: refresh tokens revoked, earlier access tokens refused at once. */
  endUserSessions(tenantId: string, userId: string): Promise<EndedSessions>;
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
  headers?: Record<string, string>;
  /** The operation's own contract answers `approval_required` as a result (proxyHttp). */
  approvalAsResult?: boolean;
};

const seg = encodeURIComponent;

/** A body's chunks, read with a reader (async iteration of ReadableStream is not everywhere). */
async function* chunksOf(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    // Stops the download when the caller leaves early; a no-op once the body has ended.
    await reader.cancel().catch(() => {});
  }
}

/** Milliseconds to wait as Retry-After says (delta seconds or an HTTP date), or null. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null || value.trim() === "") return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function isApprovalRequired(body: unknown): body is { status: "approval_required"; approval: Approval } {
  return (
    typeof body === "object" &&
    body !== null &&
    (body as { status?: unknown }).status === "approval_required" &&
    typeof (body as { approval?: { id?: unknown } }).approval?.id === "string"
  );
}

/** The blocks of a Server-Sent Events body, split on blank lines (CRLF and CR read as LF). */
async function* sseBlocks(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of chunksOf(body)) {
    buffered += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, "\n");
    let end = buffered.indexOf("\n\n");
    while (end >= 0) {
      yield buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      end = buffered.indexOf("\n\n");
    }
  }
  buffered += decoder.decode();
  if (buffered.trim()) yield buffered;
}

function parseSse(block: string): { event: StreamEvent | null; retry: number | null } {
  let id: string | null = null;
  let event = "message";
  let retry: number | null = null;
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") id = value;
    else if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "retry" && /^\d+$/.test(value)) retry = Number(value);
  }
  if (data.length === 0) return { event: null, retry };
  return { event: { id, event, data: JSON.parse(data.join("\n")) as Record<string, unknown> }, retry };
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
    Object.assign(headers, call.headers);
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
          ...(payload !== undefined ? { body: payload as RequestInit["body"] } : {}),
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

  /** A streaming operation held for approval answers 202 JSON instead of its stream. */
  async function throwIfHeld(res: Response): Promise<void> {
    if (res.status !== 202) return;
    const body: unknown = await res.json();
    if (isApprovalRequired(body))
      throw new ApprovalRequiredError(body.approval, res.headers.get("x-request-id"));
    throw new HyphaError("UNEXPECTED_ANSWER", "202 without an approval", { status: 202 });
  }

  async function json<T>(call: Call): Promise<T> {
    const res = await send(call);
    const body = (await res.json()) as T;
    if (res.status === 202 && !call.approvalAsResult && isApprovalRequired(body)) {
      throw new ApprovalRequiredError(body.approval, res.headers.get("x-request-id"));
    }
    return body;
  }

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
    await throwIfHeld(res);
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of chunksOf(res.body)) {
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
    const follow = q.follow !== false;
    const maxReconnects = q.maxReconnects ?? 5;
    let lastId = q.lastEventId;
    let retryMs = 2000;
    let failures = 0;
    for (;;) {
      try {
        const res = await send({
          method: "GET",
          path: `/admin/stream/${seg(tenantId)}`,
          query: { follow: q.follow === undefined ? undefined : String(q.follow) },
          headers: lastId === undefined ? {} : { "last-event-id": lastId },
          accept: "text/event-stream",
        });
        await throwIfHeld(res);
        if (!res.body) return;
        for await (const block of sseBlocks(res.body)) {
          const parsed = parseSse(block);
          if (parsed.retry !== null) retryMs = parsed.retry;
          if (!parsed.event) continue;
          if (parsed.event.id !== null) lastId = parsed.event.id;
          failures = 0;
          yield parsed.event;
        }
        if (!follow) return;
      } catch (err) {
        // Only a dropped connection is worth another try; an answer such as 401 or 404 is final.
        const dropped = !(err instanceof HyphaError) || err.code === "NETWORK_ERROR";
        if (!follow || !dropped || failures >= maxReconnects) {
          throw err instanceof HyphaError
            ? err
            : new HyphaError("NETWORK_ERROR", "the event stream broke", { status: 0, cause: err });
        }
      }
      if (failures >= maxReconnects) return;
      failures++;
      await sleep(retryMs);
    }
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
    // getSetCookie is missing on some runtimes; there the cookie stays hidden (null).
    const cookies = typeof res.headers.getSetCookie === "function" ? res.headers.getSetCookie() : [];
    for (const c of cookies) {
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
      json<StoredMemory | { memories: StoredMemory[] }>({
        method: "POST",
        path: "/v1/memories",
        body: input,
      }),
    listMemories: (query: ListMemoriesQuery = {}) =>
      json<Page<Memory>>({ method: "GET", path: "/v1/memories", query }),
    getMemory: (id: string) => json<Memory>({ method: "GET", path: `/v1/memories/${seg(id)}` }),
    getEmbeddingStatus: () =>
      json<EmbeddingStatus>({ method: "GET", path: "/v1/memories/embeddings/status" }),
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
      json<ProxyResult>({ method: "POST", path: "/v1/proxy/http", body: input, approvalAsResult: true }),
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
    endUserSessions: (tenantId: string, userId: string) =>
      json<EndedSessions>({ method: "DELETE", path: tenantPath(tenantId, "users", userId, "sessions") }),
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

export type WaitOptions = {
  /** Between two looks at the approval (default 1 s). */
  intervalMs?: number;
  /** Gives up with `APPROVAL_TIMEOUT` after this long (default 10 minutes). */
  timeoutMs?: number;
  signal?: AbortSignal;
};

/** Polls an approval until a person decides it (or it expires); returns it in its final state. */
export async function waitForApproval(
  client: HyphaClient,
  approvalId: string,
  opts: WaitOptions & { sleep?: (ms: number) => Promise<void> } = {},
): Promise<Approval> {
  const interval = opts.intervalMs ?? 1000;
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (;;) {
    opts.signal?.throwIfAborted();
    const approval = await client.getApproval(approvalId);
    if (approval.status !== "pending") return approval;
    if (Date.now() + interval > deadline) {
      throw new HyphaError("APPROVAL_TIMEOUT", `approval ${approvalId} is still pending`, { status: 0 });
    }
    await sleep(interval);
  }
}

/** A call that ran, or one held for approval with what the caller needs to see it through. */
export type ApprovalOutcome<T> =
  | { status: "done"; value: T }
  | {
      status: "approval_required";
      approval: Approval;
      /** Waits for the decision; the approval in its final state. */
      wait(opts?: WaitOptions): Promise<Approval>;
      /** Repeats the identical call with `X-Approval-Id`; the server runs it once, if approved. */
      retry(): Promise<T>;
      /** `wait`, then `retry` when approved; a rejected or expired approval is thrown as APPROVAL_<STATUS>. */
      waitAndRetry(opts?: WaitOptions): Promise<T>;
    };

/**
 * Runs `call` and turns a 202 `approval_required` answer into a result to wait on and retry.
 *
 * @example
 * ```ts
 * const out = await withApproval(options, (c) => c.bulkDeleteMemories({ namespace: "scratch" }));
 * const { deleted } = out.status === "done" ? out.value : await out.waitAndRetry();
 * ```
 */
export async function withApproval<T>(
  options: HyphaClientOptions,
  call: (client: HyphaClient) => Promise<T>,
): Promise<ApprovalOutcome<T>> {
  const client = createHyphaClient({ ...options, approvalId: undefined });
  try {
    return { status: "done", value: await call(client) };
  } catch (err) {
    if (!(err instanceof ApprovalRequiredError)) throw err;
    const approval = err.approval;
    const wait = (opts: WaitOptions = {}) =>
      waitForApproval(client, approval.id, { ...opts, sleep: options.sleep });
    const retry = () => call(createHyphaClient({ ...options, approvalId: approval.id }));
    return {
      status: "approval_required",
      approval,
      wait,
      retry,
      waitAndRetry: async (opts?: WaitOptions) => {
        const decided = await wait(opts);
        if (decided.status !== "approved") {
          throw new HyphaError(
            `APPROVAL_${decided.status.toUpperCase()}`,
            `approval ${approval.id} was ${decided.status}`,
            {
              status: 0,
            },
          );
        }
        return retry();
      },
    };
  }
}

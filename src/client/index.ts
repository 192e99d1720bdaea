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
import type { ApiKey, createKeyBody } from "../modules/keys/keys.schemas.ts";
import type {
  bulkDeleteBody,
  listQuery,
  Memory,
  memoryInput,
  patchBody,
  RecallResponse,
  recallBody,
} from "../modules/memories/memories.schemas.ts";
import type { createTenantBody, Tenant } from "../modules/tenants/tenants.schemas.ts";

export type { ApiKey, Memory, RecallResponse, Tenant };
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
  fetch?: typeof fetch;
  now?: () => number;
};

export interface HyphaClient {
  healthz(): Promise<Status>;
  healthLive(): Promise<Status>;
  healthReady(): Promise<Status>;
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
}

type Query = Record<string, string | number | boolean | undefined>;
type Call = { method: string; path: string; query?: Query | undefined; body?: unknown };

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
    const headers: Record<string, string> = {
      authorization: `Bearer ${opts.key}`,
      "user-agent": "hypha-client",
    };
    if (call.body !== undefined) headers["content-type"] = "application/json";
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await doFetch(url, {
          method: call.method,
          headers,
          ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
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

  const client = {
    healthz: () => json<Status>({ method: "GET", path: "/healthz" }),
    healthLive: () => json<Status>({ method: "GET", path: "/health/live" }),
    healthReady: () => json<Status>({ method: "GET", path: "/health/ready" }),
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

import { type HyphaClient, HyphaError } from "../../client/index.ts";
import { AppError } from "../../lib/errors.ts";
import type { Logger } from "../../lib/logger.ts";
import { redactSecrets } from "../../lib/secret-patterns.ts";
import type { Action, Actor } from "../../platform/auth/actor.ts";
import type { MemoriesService } from "../memories/memories.service.ts";
import type { MemoryBackend, ToolError } from "./mcp.tools.ts";

/** The REST operation and action each tool stands for (its risk tier and approvals follow them). */
export const TOOL_OPERATIONS = {
  store: { operation: "storeMemory", action: "memories:write" },
  recall: { operation: "recallMemories", action: "memories:recall" },
  get: { operation: "getMemory", action: "memories:read" },
  list: { operation: "listMemories", action: "memories:read" },
  update: { operation: "updateMemory", action: "memories:write" },
  forget: { operation: "deleteMemory", action: "memories:delete" },
  history: { operation: "memoryHistory", action: "memories:history" },
  namespaces: { operation: "listNamespaces", action: "memories:read" },
} as const satisfies Record<keyof MemoryBackend, { operation: string; action: Action }>;

export type ToolGate = (
  actor: Actor,
  tool: (typeof TOOL_OPERATIONS)[keyof typeof TOOL_OPERATIONS],
) => Promise<void>;

/**
 * Tools bound to the memories service and one caller: the very path REST requests take. `gate`
 * runs before every call with the operation the tool stands for: the approval policy everywhere,
 * and the kill switch where no HTTP chokepoint stands in front (embedded mode).
 */
export function serviceBackend(
  memories: MemoriesService,
  actor: () => Actor,
  gate?: ToolGate,
): MemoryBackend {
  const caller = async (tool: keyof typeof TOOL_OPERATIONS): Promise<Actor> => {
    const a = actor();
    if (gate) await gate(a, TOOL_OPERATIONS[tool]);
    return a;
  };
  return {
    store: async (input) => {
      const [stored] = await memories.store(await caller("store"), [input]);
      if (!stored) throw new AppError("INTERNAL", "nothing stored");
      return stored;
    },
    recall: async (input) => memories.recall(await caller("recall"), input),
    get: async (id) => memories.get(await caller("get"), id),
    list: async (q) => memories.list(await caller("list"), q),
    update: async (id, patch) => memories.update(await caller("update"), id, patch),
    forget: async (id) => memories.remove(await caller("forget"), id),
    history: async (id) => memories.history(await caller("history"), id),
    namespaces: async () => memories.namespaces(await caller("namespaces")),
  };
}

/** Tools bound to a running gateway through the typed REST client (the stdio bridge). */
export function clientBackend(client: HyphaClient): MemoryBackend {
  return {
    store: (input) => client.storeMemory(input),
    recall: (input) => client.recallMemories(input),
    get: (id) => client.getMemory(id),
    list: (q) => client.listMemories(q),
    update: (id, patch) => client.updateMemory(id, patch),
    forget: (id) => client.deleteMemory(id),
    history: async (id) => (await client.memoryHistory(id)).versions,
    namespaces: async () => (await client.listNamespaces()).items,
  };
}

/**
 * Maps what a tool threw to the error the model sees: our stable code and message (secrets
 * redacted); anything unexpected is logged in full and reported with a fixed message.
 */
export function describeError(err: unknown, log: Logger, requestId?: () => string | undefined): ToolError {
  if (err instanceof AppError) {
    return { code: err.code, message: redactSecrets(err.message), requestId: requestId?.() };
  }
  if (err instanceof HyphaError) {
    return { code: err.code, message: redactSecrets(err.message), requestId: err.requestId ?? undefined };
  }
  log.error({ err }, "mcp tool failed");
  return { code: "INTERNAL", message: "internal error", requestId: requestId?.() };
}

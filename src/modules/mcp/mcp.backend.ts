import { type HyphaClient, HyphaError } from "../../client/index.ts";
import { AppError } from "../../lib/errors.ts";
import type { Logger } from "../../lib/logger.ts";
import { redactSecrets } from "../../lib/secret-patterns.ts";
import type { Actor } from "../../platform/auth/actor.ts";
import type { MemoriesService } from "../memories/memories.service.ts";
import type { MemoryBackend, ToolError } from "./mcp.tools.ts";

/**
 * Tools bound to the memories service and one caller: the very path REST requests take. `gate`
 * runs before every call (the kill switch where no HTTP chokepoint stands in front: embedded mode).
 */
export function serviceBackend(
  memories: MemoriesService,
  actor: () => Actor,
  gate?: (actor: Actor) => Promise<void>,
): MemoryBackend {
  const caller = async (): Promise<Actor> => {
    const a = actor();
    if (gate) await gate(a);
    return a;
  };
  return {
    store: async (input) => {
      const [stored] = await memories.store(await caller(), [input]);
      if (!stored) throw new AppError("INTERNAL", "nothing stored");
      return stored;
    },
    recall: async (input) => memories.recall(await caller(), input),
    get: async (id) => memories.get(await caller(), id),
    list: async (q) => memories.list(await caller(), q),
    update: async (id, patch) => memories.update(await caller(), id, patch),
    forget: async (id) => memories.remove(await caller(), id),
    history: async (id) => memories.history(await caller(), id),
    namespaces: async () => memories.namespaces(await caller()),
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

/**
 * Hypha memory for the Vercel AI SDK.
 *
 * @example
 * ```ts
 * import { generateText, wrapLanguageModel } from "ai";
 * import { createHyphaClient } from "@hypha/client";
 * import { hyphaMemoryMiddleware, hyphaTools } from "@hypha/ai-sdk";
 * const hypha = createHyphaClient({ url, key });
 * const model = wrapLanguageModel({ model: base, middleware: hyphaMemoryMiddleware({ client: hypha }) });
 * await generateText({ model, tools: hyphaTools({ client: hypha }), prompt: "Where is the offsite?" });
 * ```
 */
import { guardTool, type HyphaClient, type RecallRequest } from "@hypha/client";
import { type LanguageModelMiddleware, tool } from "ai";
import { z } from "zod";

export type { ToolFailure } from "@hypha/client";

export type HyphaToolsOptions = {
  client: HyphaClient;
  /** Where `remember` stores when the model names no namespace (default "agent"). */
  namespace?: string;
  /** How many memories `recall` returns (default 5). */
  k?: number;
};

export const rememberInput = z.object({
  content: z.string().min(1).max(262_144).describe("The fact to remember, in one or two sentences"),
  namespace: z.string().max(200).optional().describe("Where to file it, e.g. user/prefs"),
  tags: z.array(z.string().max(128)).max(32).optional(),
  entities: z
    .array(z.string().max(128))
    .max(32)
    .optional()
    .describe("People, projects or things it is about"),
});
export const recallInput = z.object({
  query: z.string().min(1).max(2000).describe("What to look for"),
  namespaces: z.array(z.string().max(200)).max(32).optional(),
});
export const forgetInput = z.object({
  id: z.string().describe("The id of the memory to forget (mem_…)"),
});

/** The remember, recall and forget tools, built with the AI SDK's `tool()` and zod schemas. */
export function hyphaTools(opts: HyphaToolsOptions) {
  const { client } = opts;
  return {
    remember: tool({
      description: "Store a durable fact in long-term memory so later conversations can use it.",
      inputSchema: rememberInput,
      execute: (input) =>
        guardTool(async () => {
          const m = await client.storeMemory({
            ...input,
            namespace: input.namespace ?? opts.namespace ?? "agent",
          });
          return { id: m.id, namespace: m.namespace };
        }),
    }),
    recall: tool({
      description: "Search long-term memory; answers the most relevant memories with their ids.",
      inputSchema: recallInput,
      execute: (input) =>
        guardTool(async () => {
          const r = await client.recallMemories({ ...input, k: opts.k ?? 5 });
          return {
            memories: r.results.map((x) => ({ id: x.memory.id, content: x.memory.content, score: x.score })),
          };
        }),
    }),
    forget: tool({
      description: "Delete a memory by id when the user asks to forget it or it is wrong.",
      inputSchema: forgetInput,
      execute: (input) => guardTool(() => client.deleteMemory(input.id)),
    }),
  };
}

export type HyphaMiddlewareOptions = {
  client: HyphaClient;
  /** The most tokens the context block may take (Hypha trims to it; default 800). */
  tokenBudget?: number;
  /** Extra recall filters (namespaces, tags, …). */
  recall?: Omit<RecallRequest, "query" | "token_budget">;
};

/**
 * Recalls for the latest user message and adds Hypha's context block (its delimiters intact) to the
 * prompt as a system message, within `tokenBudget`. A recall that finds nothing leaves the prompt as is.
 */
export function hyphaMemoryMiddleware(opts: HyphaMiddlewareOptions): LanguageModelMiddleware {
  return {
    transformParams: async ({ params }) => {
      const lastUser = [...params.prompt].reverse().find((m) => m.role === "user");
      const query =
        lastUser?.role === "user"
          ? lastUser.content
              .map((p) => (p.type === "text" ? p.text : ""))
              .join(" ")
              .trim()
          : "";
      if (!query) return params;
      const recalled = await opts.client.recallMemories({
        ...opts.recall,
        query: query.slice(0, 2000),
        token_budget: opts.tokenBudget ?? 800,
      });
      if (recalled.results.length === 0) return params;
      const firstOther = params.prompt.findIndex((m) => m.role !== "system");
      const at = firstOther < 0 ? params.prompt.length : firstOther;
      const block = { role: "system" as const, content: recalled.context };
      return { ...params, prompt: [...params.prompt.slice(0, at), block, ...params.prompt.slice(at)] };
    },
  };
}

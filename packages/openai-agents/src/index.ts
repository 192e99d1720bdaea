/**
 * Hypha memory for the OpenAI Agents SDK: remember, recall and forget as function tools.
 *
 * @example
 * ```ts
 * import { Agent, run } from "@openai/agents";
 * import { createHyphaClient } from "@hypha/client";
 * import { hyphaTools } from "@hypha/openai-agents";
 * const agent = new Agent({ name: "assistant", tools: hyphaTools({ client: createHyphaClient({ url, key }) }) });
 * ```
 */
import { guardTool, type HyphaClient } from "@hypha/client";
import { tool } from "@openai/agents";
import { z } from "zod";

export type { ToolFailure } from "@hypha/client";

export type HyphaToolsOptions = {
  client: HyphaClient;
  /** Where `remember` stores when the model names no namespace (default "agent"). */
  namespace?: string;
  /** How many memories `recall` returns (default 5). */
  k?: number;
};

// The Agents SDK sends strict JSON schemas: optional fields are nullable and always present.
export const rememberParameters = z.object({
  content: z.string().min(1).max(262_144).describe("The fact to remember, in one or two sentences"),
  namespace: z.string().max(200).nullable().describe("Where to file it, e.g. user/prefs (null: the default)"),
  entities: z
    .array(z.string().max(128))
    .max(32)
    .nullable()
    .describe("People, projects or things it is about"),
});
export const recallParameters = z.object({
  query: z.string().min(1).max(2000).describe("What to look for"),
});
export const forgetParameters = z.object({
  id: z.string().describe("The id of the memory to forget (mem_…)"),
});

/** The remember, recall and forget tools. */
export function hyphaTools(opts: HyphaToolsOptions) {
  const { client } = opts;
  return [
    tool({
      name: "remember",
      description: "Store a durable fact in long-term memory so later conversations can use it.",
      parameters: rememberParameters,
      execute: (input) =>
        guardTool(async () => {
          const m = await client.storeMemory({
            content: input.content,
            namespace: input.namespace ?? opts.namespace ?? "agent",
            ...(input.entities ? { entities: input.entities } : {}),
          });
          return { id: m.id, namespace: m.namespace };
        }),
    }),
    tool({
      name: "recall",
      description: "Search long-term memory; answers the most relevant memories with their ids.",
      parameters: recallParameters,
      execute: (input) =>
        guardTool(async () => {
          const r = await client.recallMemories({ query: input.query, k: opts.k ?? 5 });
          return {
            memories: r.results.map((x) => ({ id: x.memory.id, content: x.memory.content, score: x.score })),
          };
        }),
    }),
    tool({
      name: "forget",
      description: "Delete a memory by id when the user asks to forget it or it is wrong.",
      parameters: forgetParameters,
      execute: (input) => guardTool(() => client.deleteMemory(input.id)),
    }),
  ];
}

// Vercel AI SDK: recalled memories in every prompt, and tools to remember, recall and forget.
// The model here is the AI SDK's own mock (swap in any provider's model).
//   HYPHA_URL=http://127.0.0.1:7411 HYPHA_KEY=hyk_... node examples/frameworks/vercel-ai.ts
import { hyphaMemoryMiddleware, hyphaTools } from "@hypha/ai-sdk";
import { createHyphaClient } from "@hypha/client";
import { generateText, wrapLanguageModel } from "ai";
import { MockLanguageModelV4 } from "ai/test";

const hypha = createHyphaClient({
  url: process.env.HYPHA_URL ?? "http://127.0.0.1:7411",
  key: process.env.HYPHA_KEY ?? "",
});
await hypha.storeMemory({ namespace: "team", content: "The team offsite is in Lisbon" });

const base = new MockLanguageModelV4({
  doGenerate: async ({ prompt }) => ({
    content: [{ type: "text", text: JSON.stringify(prompt.filter((m) => m.role === "system")) }],
    finishReason: { unified: "stop", raw: "stop" },
    usage: {
      inputTokens: { total: 0, noCache: 0, cacheRead: 0, cacheWrite: 0 },
      outputTokens: { total: 0, text: 0, reasoning: 0 },
    },
    warnings: [],
  }),
});
const model = wrapLanguageModel({
  model: base,
  middleware: hyphaMemoryMiddleware({ client: hypha, tokenBudget: 400 }),
});
const { text } = await generateText({
  model,
  tools: hyphaTools({ client: hypha }),
  prompt: "Where is the offsite?",
});
console.log(`the model saw: ${text}`);

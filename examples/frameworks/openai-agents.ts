// OpenAI Agents SDK: remember, recall and forget as function tools. A scripted model stands in for a
// real one (pass any Agents SDK model instead).
//   HYPHA_URL=http://127.0.0.1:7411 HYPHA_KEY=hyk_... node examples/frameworks/openai-agents.ts
import { createHyphaClient } from "@hypha/client";
import { hyphaTools } from "@hypha/openai-agents";
import { Agent, type Model, type ModelResponse, run, setTracingDisabled, Usage } from "@openai/agents";

setTracingDisabled(true);
const hypha = createHyphaClient({
  url: process.env.HYPHA_URL ?? "http://127.0.0.1:7411",
  key: process.env.HYPHA_KEY ?? "",
});

const turns: ModelResponse["output"][] = [
  [
    {
      type: "function_call",
      callId: "c1",
      name: "remember",
      arguments: JSON.stringify({
        content: "The on-call rota changes on Mondays",
        namespace: null,
        entities: null,
      }),
      status: "completed",
    },
  ],
  [
    {
      type: "message",
      role: "assistant",
      status: "completed",
      content: [{ type: "output_text", text: "Noted." }],
    },
  ],
];
const model: Model = {
  getResponse: async () => ({ usage: new Usage(), output: turns.shift() ?? [] }),
  getStreamedResponse: () => {
    throw new Error("not streamed");
  },
};
const agent = new Agent({ name: "assistant", model, tools: hyphaTools({ client: hypha }) });
const result = await run(agent, "Remember: the on-call rota changes on Mondays.");
console.log(`agent: ${result.finalOutput}`);
const { results } = await hypha.recallMemories({ query: "when does the on-call rota change?" });
console.log(`stored: ${results[0]?.memory.content}`);

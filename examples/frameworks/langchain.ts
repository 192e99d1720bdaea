// LangChain.js: a retriever over Hypha and a chat history kept in Hypha. The model is a fake from
// @langchain/core/utils/testing that answers with what it was given.
//   HYPHA_URL=http://127.0.0.1:7411 HYPHA_KEY=hyk_... node examples/frameworks/langchain.ts
import { createHyphaClient } from "@hypha/client";
import { HyphaChatMessageHistory, HyphaRetriever } from "@hypha/langchain";
import { HumanMessage, SystemMessage } from "@langchain/core/messages";
import { FakeChatModel } from "@langchain/core/utils/testing";

const hypha = createHyphaClient({
  url: process.env.HYPHA_URL ?? "http://127.0.0.1:7411",
  key: process.env.HYPHA_KEY ?? "",
});
await hypha.storeMemory({ namespace: "team", content: "Standup is at 9:30 in room Kelp" });

const question = "When is standup?";
const docs = await new HyphaRetriever({ client: hypha, k: 3 }).invoke(question);
for (const d of docs)
  console.log(`document ${d.metadata.id} score=${d.metadata.score.toFixed(3)}: ${d.pageContent}`);

const history = new HyphaChatMessageHistory({ client: hypha, sessionId: "example" });
await history.addMessage(new HumanMessage(question));
const reply = await new FakeChatModel({}).invoke([
  new SystemMessage(docs.map((d) => d.pageContent).join("\n")),
  ...(await history.getMessages()),
]);
await history.addMessage(reply);
console.log(`history: ${(await history.getMessages()).length} messages`);

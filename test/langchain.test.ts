import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createHyphaClient, HyphaError } from "@hypha/client";
import { HyphaChatMessageHistory, HyphaRetriever } from "@hypha/langchain";
import { AIMessage, HumanMessage, SystemMessage } from "@langchain/core/messages";
import { RunnableLambda } from "@langchain/core/runnables";
import { FakeChatModel } from "@langchain/core/utils/testing";
import { startServer, type TestServer } from "./harness.ts";

describe("LangChain.js integration (@hypha/langchain)", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  test("the retriever returns documents with memory id, score and metadata; a chain hands them to the model", async () => {
    const { key } = await s.seedTenant();
    const client = createHyphaClient({ url: s.url, key });
    const lisbon = await client.storeMemory({
      namespace: "team",
      content: "The team offsite is in Lisbon",
      tags: ["travel"],
      metadata: { source: "wiki" },
    });
    await client.storeMemory({ namespace: "other", content: "The offsite budget is 20k" });
    const retriever = new HyphaRetriever({ client, k: 3, filter: { namespaces: ["team"] } });
    const docs = await retriever.invoke("where is the offsite?");
    assert.equal(docs.length, 1, "the namespace filter applies");
    const [doc] = docs;
    assert.equal(doc?.id, lisbon.id);
    assert.equal(doc?.pageContent, "The team offsite is in Lisbon");
    assert.equal(doc?.metadata.id, lisbon.id);
    assert.ok((doc?.metadata.score ?? 0) > 0);
    assert.deepEqual(doc?.metadata.tags, ["travel"]);
    assert.deepEqual(doc?.metadata.metadata, { source: "wiki" });

    // FakeChatModel answers with the messages it received: the retrieved memory reached the model.
    const chain = retriever
      .pipe(
        RunnableLambda.from((found: { pageContent: string }[]) => [
          new SystemMessage(`Known facts:\n${found.map((d) => d.pageContent).join("\n")}`),
          new HumanMessage("where is the offsite?"),
        ]),
      )
      .pipe(new FakeChatModel({}));
    const answer = await chain.invoke("where is the offsite?");
    assert.match(String(answer.content), /Known facts:\nThe team offsite is in Lisbon/);
  });

  test("the chat message history round-trips messages in order, per session, and clears", async () => {
    const { key } = await s.seedTenant();
    const client = createHyphaClient({ url: s.url, key });
    const history = new HyphaChatMessageHistory({ client, sessionId: "user-42" });
    const other = new HyphaChatMessageHistory({ client, sessionId: "user-7" });
    await history.addMessages([new HumanMessage("Hi, I'm Ana"), new AIMessage("Hello Ana")]);
    await history.addMessage(new HumanMessage("I prefer metric units"));
    const long = `A long message: ${"words and more words ".repeat(200)}`;
    await history.addMessage(new AIMessage(long));
    await other.addMessage(new HumanMessage("Unrelated"));

    const again = new HyphaChatMessageHistory({ client, sessionId: "user-42" });
    const messages = await again.getMessages();
    assert.deepEqual(
      messages.map((m) => [m.type, m.content]),
      [
        ["human", "Hi, I'm Ana"],
        ["ai", "Hello Ana"],
        ["human", "I prefer metric units"],
        ["ai", long],
      ],
    );
    assert.equal((await other.getMessages()).length, 1);
    // The history is memory like any other: recall finds what was said.
    const recalled = await client.recallMemories({ query: "metric units" });
    assert.match(recalled.context, /metric units/);

    await history.clear();
    assert.deepEqual(await history.getMessages(), []);
    assert.equal((await other.getMessages()).length, 1, "clearing one session leaves the others");
  });

  test("errors surface with their codes", async () => {
    const client = createHyphaClient({ url: s.url, key: "hyk_not_a_real_key_at_all_000000" });
    await assert.rejects(
      new HyphaRetriever({ client }).invoke("anything"),
      (e: unknown) => e instanceof HyphaError && e.code === "INVALID_CREDENTIALS",
    );
    const { key } = await s.seedTenant();
    const reader = createHyphaClient({
      url: s.url,
      key: (await s.createKey((await s.seedTenant()).tenantId, { scopes: ["memories:read"] })).key,
    });
    void key;
    await assert.rejects(
      new HyphaChatMessageHistory({ client: reader, sessionId: "x" }).addMessage(new HumanMessage("hi")),
      (e: unknown) => e instanceof HyphaError && e.code === "INSUFFICIENT_SCOPE" && e.status === 403,
    );
  });
});

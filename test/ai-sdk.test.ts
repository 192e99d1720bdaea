import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { LanguageModelV4CallOptions, LanguageModelV4GenerateResult } from "@ai-sdk/provider";
import { hyphaMemoryMiddleware, hyphaTools } from "@hypha/ai-sdk";
import { createHyphaClient, HyphaError } from "@hypha/client";
import { generateText, stepCountIs, wrapLanguageModel } from "ai";
import { MockLanguageModelV4 } from "ai/test";
import type { z } from "zod";
import { startServer, type TestServer } from "./harness.ts";

const usage = {
  inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
};
const text = (t: string): LanguageModelV4GenerateResult => ({
  content: [{ type: "text", text: t }],
  finishReason: { unified: "stop", raw: "stop" },
  usage,
  warnings: [],
});
const systemOf = (call: LanguageModelV4CallOptions | undefined) =>
  (call?.prompt ?? [])
    .filter((m) => m.role === "system")
    .map((m) => m.content)
    .join("\n");

describe("Vercel AI SDK integration (@hypha/ai-sdk)", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  test("the middleware puts the recalled context block, delimiters intact, in the prompt the model receives", async () => {
    const { key } = await s.seedTenant();
    const client = createHyphaClient({ url: s.url, key });
    const stored = await client.storeMemory({ namespace: "team", content: "The team offsite is in Lisbon" });
    await client.storeMemory({ namespace: "team", content: "Standup is at 9:30" });
    const mock = new MockLanguageModelV4({ doGenerate: text("Lisbon") });
    const model = wrapLanguageModel({
      model: mock,
      middleware: hyphaMemoryMiddleware({ client, tokenBudget: 200 }),
    });
    const out = await generateText({
      model,
      system: "You are helpful.",
      prompt: "Where is the team offsite?",
    });
    assert.equal(out.text, "Lisbon");
    const call = mock.doGenerateCalls[0];
    const system = systemOf(call);
    assert.match(system, /^You are helpful\./);
    assert.match(system, new RegExp(`<memory id="${stored.id}"[^>]*>[\\s\\S]*Lisbon[\\s\\S]*</memory>`));
    assert.match(
      system,
      /<memories>[\s\S]*<\/memories>/,
      "the block keeps its opening and closing delimiters",
    );
    assert.equal(call?.prompt.at(-1)?.role, "user", "the user's message stays last");

    const tight = new MockLanguageModelV4({ doGenerate: text("ok") });
    await generateText({
      model: wrapLanguageModel({
        model: tight,
        middleware: hyphaMemoryMiddleware({ client, tokenBudget: 64 }),
      }),
      prompt: "Where is the team offsite?",
    });
    assert.ok(systemOf(tight.doGenerateCalls[0]).length < system.length, "the token budget bounds the block");

    const empty = createHyphaClient({ url: s.url, key: (await s.seedTenant()).key });
    const untouched = new MockLanguageModelV4({ doGenerate: text("?") });
    await generateText({
      model: wrapLanguageModel({ model: untouched, middleware: hyphaMemoryMiddleware({ client: empty }) }),
      prompt: "Anything?",
    });
    assert.equal(systemOf(untouched.doGenerateCalls[0]), "", "nothing recalled, nothing added");
  });

  test("remember, recall and forget are tools with zod schemas the model can call", async () => {
    const { key } = await s.seedTenant();
    const client = createHyphaClient({ url: s.url, key });
    const tools = hyphaTools({ client, namespace: "chat" });
    assert.deepEqual(Object.keys(tools), ["remember", "recall", "forget"]);
    const schema = tools.remember.inputSchema as z.ZodType;
    assert.equal(schema.safeParse({ content: "" }).success, false);
    assert.equal(schema.safeParse({ content: "x", entities: ["a"] }).success, true);
    assert.equal((tools.forget.inputSchema as z.ZodType).safeParse({}).success, false);

    let step = 0;
    const mock = new MockLanguageModelV4({
      doGenerate: async () => {
        step++;
        if (step === 1)
          return {
            ...text(""),
            content: [
              {
                type: "tool-call",
                toolCallId: "c1",
                toolName: "remember",
                input: JSON.stringify({
                  content: "The deploy freeze starts on the 20th",
                  entities: ["deploys"],
                }),
              },
            ],
            finishReason: { unified: "tool-calls", raw: "tool_calls" },
          };
        if (step === 2)
          return {
            ...text(""),
            content: [
              {
                type: "tool-call",
                toolCallId: "c2",
                toolName: "recall",
                input: JSON.stringify({ query: "deploy freeze" }),
              },
            ],
            finishReason: { unified: "tool-calls", raw: "tool_calls" },
          };
        return text("done");
      },
    });
    const out = await generateText({ model: mock, tools, prompt: "note it", stopWhen: stepCountIs(4) });
    const results = out.steps.flatMap((st) => st.toolResults);
    const remembered = results.find((r) => r.toolName === "remember")?.output as {
      id: string;
      namespace: string;
    };
    assert.match(remembered.id, /^mem_/);
    assert.equal(remembered.namespace, "chat");
    const recalled = results.find((r) => r.toolName === "recall")?.output as {
      memories: { id: string; content: string; score: number }[];
    };
    assert.equal(recalled.memories[0]?.id, remembered.id);
    assert.equal((await client.getMemory(remembered.id)).content, "The deploy freeze starts on the 20th");

    const forget = tools.forget.execute;
    assert.ok(forget);
    const opts = { toolCallId: "c3", messages: [] } as unknown as Parameters<typeof forget>[1];
    assert.deepEqual(await forget({ id: remembered.id }, opts), { deleted: 1 });
    const missing = (await forget({ id: remembered.id }, opts)) as { error: { code: string } };
    assert.equal(missing.error.code, "NOT_FOUND", "a refusal reaches the model as its stable code");
  });

  test("errors surface with their codes: a bad key fails the middleware with INVALID_CREDENTIALS", async () => {
    const client = createHyphaClient({ url: s.url, key: "hyk_not_a_real_key_at_all_000000" });
    const model = wrapLanguageModel({
      model: new MockLanguageModelV4({ doGenerate: text("x") }),
      middleware: hyphaMemoryMiddleware({ client }),
    });
    await assert.rejects(
      generateText({ model, prompt: "hello" }),
      (e: unknown) => e instanceof HyphaError && e.code === "INVALID_CREDENTIALS" && e.status === 401,
    );
  });
});

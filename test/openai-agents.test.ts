import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createHyphaClient } from "@hypha/client";
import { hyphaTools } from "@hypha/openai-agents";
import {
  Agent,
  type Model,
  type ModelRequest,
  type ModelResponse,
  RunContext,
  run,
  setTracingDisabled,
  Usage,
} from "@openai/agents";
import { startServer, type TestServer } from "./harness.ts";

/** A scripted model at the edge: each turn answers the next output items; records what it was sent. */
function scriptedModel(turns: ModelResponse["output"][]): Model & { requests: ModelRequest[] } {
  const requests: ModelRequest[] = [];
  return {
    requests,
    async getResponse(request) {
      requests.push(request);
      return { usage: new Usage(), output: turns.shift() ?? [], responseId: `r${requests.length}` };
    },
    getStreamedResponse() {
      throw new Error("not streamed");
    },
  };
}

type Item = ModelResponse["output"][number];
const call = (name: string, args: object, id: string): Item => ({
  type: "function_call",
  callId: id,
  name,
  arguments: JSON.stringify(args),
  status: "completed",
});
const say = (text: string): Item => ({
  type: "message",
  role: "assistant",
  status: "completed",
  content: [{ type: "output_text", text }],
});

setTracingDisabled(true);

describe("OpenAI Agents SDK integration (@hypha/openai-agents)", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  test("the tools' schemas are strict JSON schemas the Agents SDK sends to a model", () => {
    const tools = hyphaTools({ client: createHyphaClient({ url: s.url, key: "x" }) });
    assert.deepEqual(
      tools.map((t) => t.name),
      ["remember", "recall", "forget"],
    );
    const remember = tools[0]?.parameters as { required: string[]; additionalProperties: boolean };
    assert.deepEqual(remember.required.sort(), ["content", "entities", "namespace"]);
    assert.equal(remember.additionalProperties, false);
  });

  test("an agent run calls remember, then recall, against the live server", async () => {
    const { key } = await s.seedTenant();
    const client = createHyphaClient({ url: s.url, key });
    const model = scriptedModel([
      [call("remember", { content: "Ana prefers metric units", namespace: null, entities: ["Ana"] }, "c1")],
      [call("recall", { query: "which units does Ana prefer?" }, "c2")],
      [say("Metric.")],
    ]);
    const agent = new Agent({ name: "assistant", model, tools: hyphaTools({ client, namespace: "people" }) });
    const result = await run(agent, "Remember that Ana prefers metric units, then check.");
    assert.equal(result.finalOutput, "Metric.");
    const outputs = model.requests.flatMap((r) =>
      (Array.isArray(r.input) ? r.input : []).filter((i) => i.type === "function_call_result"),
    );
    const remembered = JSON.stringify(outputs[0]);
    const id = /mem_[0-9A-Z]{26}/.exec(remembered)?.[0] ?? "";
    assert.ok(id, remembered);
    assert.equal((await client.getMemory(id)).namespace, "people");
    assert.match(JSON.stringify(outputs.at(-1)), new RegExp(`${id}.*Ana prefers metric units`));
  });

  test("errors surface with their codes: forget of a missing memory answers NOT_FOUND to the model", async () => {
    const { key } = await s.seedTenant();
    const forget = hyphaTools({ client: createHyphaClient({ url: s.url, key }) })[2];
    assert.ok(forget);
    const out = await forget.invoke(
      new RunContext({}),
      JSON.stringify({ id: "mem_01JZZZZZZZZZZZZZZZZZZZZZZZ" }),
    );
    const answer = (typeof out === "string" ? JSON.parse(out) : out) as { error: { code: string } };
    assert.equal(answer.error.code, "NOT_FOUND");
  });
});

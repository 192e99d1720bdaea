import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type GuardrailPolicyInput, guardrailPolicySchema } from "../guardrails/guardrails.schemas.ts";
import { createGuardrails } from "../guardrails/guardrails.ts";
import type { Memory } from "./memories.schemas.ts";
import { memoryOf } from "./memory-row.fixture.ts";
import { type OutboundInspect, screenMemories, screenMemory } from "./outbound.ts";

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

function inspector(policy: GuardrailPolicyInput = {}): OutboundInspect {
  const guardrails = createGuardrails();
  const parsed = guardrailPolicySchema.parse(policy);
  return async (text) => {
    const v = await guardrails.inspectOutbound(text, { tenantId: "tnt_test", policy: parsed });
    return v.action === "block" ? null : { content: v.text, flagged: v.action !== "allow" };
  };
}

const memory = (content: string, metadata: Record<string, unknown>): Memory =>
  memoryOf(content, { metadata });

describe("screenMemory: the outbound policy on content and metadata", () => {
  test("a secret recognisable only by its key is masked; every other value and type is kept in place", async () => {
    const m = memory("plain", {
      aws_secret_access_key: SECRET,
      region: "eu-west-1",
      count: 3,
      flag: true,
      list: ["a", `password=${"hunter2hunter2"}`, 7],
    });
    const out = await screenMemory(inspector(), m);
    assert.ok(out);
    assert.deepEqual(out.memory.metadata, {
      aws_secret_access_key: "[REDACTED:aws_secret_key]",
      region: "eu-west-1",
      count: 3,
      flag: true,
      list: ["a", "password=[REDACTED:password_assignment]", 7],
    });
    assert.equal(out.flagged, true);
    assert.deepEqual(m.metadata.aws_secret_access_key, SECRET, "the input is not mutated");
  });

  test("a value with a line break takes the one-by-one path and is masked the same", async () => {
    const out = await screenMemory(
      inspector(),
      memory("plain", { note: `line one\naws_secret_access_key=${SECRET}` }),
    );
    assert.deepEqual(out?.memory.metadata, {
      note: "line one\naws_secret_access_key=[REDACTED:aws_secret_key]",
    });
  });

  test("tags and entities are screened as metadata is: masked in place, or the memory withheld", async () => {
    const token = `ghp_${"a1B2c3D4e5".repeat(4)}`;
    const m = memoryOf("plain", { tags: ["ops", token], entities: [token, "carol"], metadata: { n: 1 } });
    const out = await screenMemory(inspector(), m);
    assert.deepEqual(
      [out?.memory.tags, out?.memory.entities, out?.memory.metadata, out?.flagged],
      [["ops", "[REDACTED:github_token]"], ["[REDACTED:github_token]", "carol"], { n: 1 }, true],
    );
    assert.equal(await screenMemory(inspector({ outbound: { secrets: "block" } }), m), null);
  });

  test("clean memories come back unchanged and unflagged", async () => {
    const m = memory("met Ada at the conference", { speaker: "Ada", session: "s1" });
    assert.deepEqual(await screenMemory(inspector(), m), { memory: m, flagged: false });
  });

  test("with secrets set to block, a secret anywhere withholds the whole memory", async () => {
    const block = inspector({ outbound: { secrets: "block" } });
    assert.equal(
      await screenMemory(block, memory("plain", { list: ["x", `aws_secret_access_key: ${SECRET}`] })),
      null,
    );
    assert.equal(await screenMemory(block, memory(`aws_secret_access_key=${SECRET}`, {})), null);
    const many = await screenMemories(block, [
      memory("fine", {}),
      memory("plain", { password: "hunter2hunter2" }),
    ]);
    assert.deepEqual([many.memories.length, many.withheld], [1, 1]);
  });
});

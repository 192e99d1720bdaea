import assert from "node:assert/strict";
import { test } from "node:test";
import { systemClock } from "../../lib/clock.ts";
import type { TenantActor } from "../../platform/auth/actor.ts";
import type { Storage } from "../../platform/storage/port.ts";
import { createGuardrails, type Guardrails } from "../guardrails/index.ts";
import { type TenantPolicy, tenantPolicySchema } from "./governance.schemas.ts";
import { createMemoryScreen } from "./memory-screen.ts";

/** The real guardrails engine, counting its outbound inspections. */
function countingGuardrails() {
  const real = createGuardrails({ clock: systemClock });
  const counted = { outbound: 0 };
  const guardrails: Guardrails = {
    ...real,
    inspectOutbound: (text, opts) => {
      counted.outbound++;
      return real.inspectOutbound(text, opts);
    },
  };
  return { guardrails, counted };
}

function screenWith(policies: Map<string, TenantPolicy>) {
  const { guardrails, counted } = countingGuardrails();
  const screen = createMemoryScreen({
    guardrails,
    policyFor: async (tenantId) => policies.get(tenantId) ?? tenantPolicySchema.parse({}),
    recordRecallVolume: async () => {},
    storage: {} as Storage,
    clock: systemClock,
    audit: async () => {},
  });
  return { screen, counted };
}

const actor = (tenantId: string) =>
  ({ type: "agent", id: "key_x", tenantId, scopes: [], origin: {} }) as unknown as TenantActor;

test("a clean text is inspected once per tenant and policy; later reads reuse the verdict", async () => {
  const policies = new Map<string, TenantPolicy>();
  const { screen, counted } = screenWith(policies);
  const text = "Maria prefers the window seat on morning flights";
  const a = await screen.outboundFor(actor("tnt_a"));
  assert.deepEqual(await a(text), { content: text, flagged: false });
  assert.deepEqual(await a(text), { content: text, flagged: false });
  assert.equal(counted.outbound, 1);
  // Another tenant, or the same tenant under a changed policy, is inspected afresh.
  await (await screen.outboundFor(actor("tnt_b")))(text);
  assert.equal(counted.outbound, 2);
  policies.set("tnt_a", tenantPolicySchema.parse({ guardrails: { outbound: { pii: "block" } } }));
  const stricter = await screen.outboundFor(actor("tnt_a"));
  assert.equal(await stricter(text), null, "the stricter policy withholds a text with a person's name");
  assert.equal(counted.outbound, 3);
});

test("a text that is masked or withheld is inspected every time, never remembered", async () => {
  const { screen, counted } = screenWith(new Map());
  const text = "the deploy key is ghp_0123456789abcdefghijklmnopqrstuvwxyz01";
  const inspect = await screen.outboundFor(actor("tnt_a"));
  const first = await inspect(text);
  const second = await inspect(text);
  assert.ok(first?.flagged && second?.flagged);
  assert.ok(!first?.content.includes("ghp_0123"), "the token is masked");
  assert.deepEqual(first, second);
  assert.equal(counted.outbound, 2);
});

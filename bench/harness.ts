/**
 * Setup the benchmarks share: the instance admin, an agent of a fresh tenant, a `hypha serve` child
 * process, and LoCoMo evidence recall through the memories service.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join, resolve } from "node:path";
import type { z } from "zod";
import type { HyphaApp } from "../src/app.ts";
import { tenantPolicySchema } from "../src/modules/governance/governance.schemas.ts";
import type { EncryptionMode } from "../src/modules/tenants/tenants.schemas.ts";
import type { Actor, AgentActor, Scope } from "../src/platform/auth/actor.ts";
import { loadConversations } from "./conversations.ts";

const ROOT = resolve(import.meta.dirname, "..");

/** The request origin of every call a benchmark makes in-process. */
export const origin = { requestId: "req_bench", ip: "127.0.0.1", userAgent: "bench" };

/** The instance admin, who creates the benchmarks' tenants, keys and policies. */
export const ADMIN: Actor = { type: "instance_admin", id: "instance_admin", tenantId: null, origin };

export type BenchAgentOptions = {
  /** The tenant's name. */
  name: string;
  encryption?: EncryptionMode;
  /** The tenant's policy, set before the key is created. */
  policy?: z.input<typeof tenantPolicySchema>;
  /** The key's agent name; `bench` unless given. */
  agent?: string;
  /** The key's scopes; reading and writing memories unless given. */
  scopes?: Scope[];
  ratePerMinute?: number;
};

/** The actor an agent key stands for, as a request bearing it gets it. */
export async function verifyAgent(app: HyphaApp, key: string): Promise<AgentActor> {
  const verified = await app.services.keys.verify(key, origin);
  if (!verified.ok || verified.actor.type !== "agent") throw new Error("bench key did not verify");
  return verified.actor;
}

/** A fresh tenant with one agent key, and that key's verified actor. */
export async function benchAgent(
  app: HyphaApp,
  opts: BenchAgentOptions,
): Promise<{ tenantId: string; key: string; actor: AgentActor }> {
  const tenant = await app.services.tenants.create(ADMIN, { name: opts.name, encryption: opts.encryption });
  if (opts.policy) {
    await app.services.governance.putPolicy(ADMIN, tenant.id, tenantPolicySchema.parse(opts.policy));
  }
  const { key } = await app.services.keys.create(ADMIN, tenant.id, {
    agent: opts.agent ?? "bench",
    scopes: opts.scopes ?? ["memories:read", "memories:write"],
    rate_limit_per_minute: opts.ratePerMinute,
  });
  return { tenantId: tenant.id, key, actor: await verifyAgent(app, key) };
}

/** `hypha serve` over a data directory as a child process, once it listens (rejects if it exits first). */
export async function serveProcess(opts: {
  dataDir: string;
  port: number;
  adminKey: string;
}): Promise<ChildProcess> {
  const server = spawn(
    join(ROOT, "node_modules/.bin/node"),
    [join(ROOT, "bin/hypha.js"), "serve", "--data", opts.dataDir, "--port", String(opts.port)],
    {
      env: { PATH: process.env.PATH, HYPHA_ADMIN_KEY: opts.adminKey, HYPHA_LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  await new Promise<void>((res, rej) => {
    let out = "";
    server.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("hypha listening")) res();
    });
    server.on("exit", (code) => rej(new Error(`server exited ${code}`)));
  });
  return server;
}

/**
 * LoCoMo evidence recall@5 and @10: every turn of a conversation a memory in a tenant of its own
 * (`tenant` describes it), every question with evidence a recall with k = 10. Recall@k = evidence
 * turns found in the top k / evidence turns.
 */
export async function locomoEvidenceRecall(
  app: HyphaApp,
  tenant: (conversationId: string) => BenchAgentOptions,
): Promise<{ questions: number; at5: number; at10: number }> {
  let found5 = 0;
  let found10 = 0;
  let total = 0;
  let questions = 0;
  for (const conv of loadConversations()) {
    const { actor } = await benchAgent(app, tenant(conv.id));
    const stored = await app.services.memories.store(
      actor,
      conv.turns.map((turn) => ({
        namespace: "conversation",
        content: `${turn.speaker}: ${turn.text}`,
        type: "turn",
        tags: [],
        entities: [],
        metadata: { dia_id: turn.diaId },
        importance: 0.5,
        access: "shared" as const,
      })),
    );
    const idOf = new Map(stored.map((m) => [String(m.metadata.dia_id), m.id]));
    for (const qa of conv.questions) {
      const evidence = qa.evidence.filter((e) => idOf.has(e));
      if (evidence.length === 0) continue;
      questions++;
      const r = await app.services.memories.recall(actor, {
        query: qa.question,
        k: 10,
        token_budget: 4000,
        include_quarantined: false,
      });
      const ranked = r.results.map((x) => x.memory.id);
      const top5 = new Set(ranked.slice(0, 5));
      const top10 = new Set(ranked.slice(0, 10));
      found5 += evidence.filter((e) => top5.has(idOf.get(e) ?? "")).length;
      found10 += evidence.filter((e) => top10.has(idOf.get(e) ?? "")).length;
      total += evidence.length;
    }
  }
  return { questions, at5: found5 / total, at10: found10 / total };
}

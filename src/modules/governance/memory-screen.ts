import { createHmac, createSecretKey, randomBytes } from "node:crypto";
import type { Clock } from "../../lib/clock.ts";
import { AppError } from "../../lib/errors.ts";
import type { AgentActor, TenantActor } from "../../platform/auth/actor.ts";
import type { Storage } from "../../platform/storage/port.ts";
import type { AuditSink } from "../audit/audit.trail.ts";
import type { GuardrailPolicy, Guardrails, GuardrailVerdict } from "../guardrails/index.ts";
import type { TenantPolicy } from "./governance.schemas.ts";

/**
 * Texts remembered as clean per process (a keyed digest each, about 100 bytes: ~20 MB at the bound).
 * Large enough that exports of tenants of tens of thousands of memories do not cycle through it.
 */
const CLEAN_ENTRIES = 200_000;

/**
 * The outbound texts found clean, remembered by a keyed digest of (tenant, policy, text) so the
 * same stored text is not inspected again on every recall and export: a stored memory version never
 * changes, and a policy change changes the digest. Only "allow, unchanged" verdicts are remembered;
 * a text that is masked or withheld is inspected every time. No text is kept, only digests under a
 * key that lives and dies with the process. Oldest entries leave first once the bound is reached.
 */
function cleanTexts(max: number) {
  // A KeyObject, not bytes: node:crypto prepares a raw key again on every HMAC (several times slower).
  const key = createSecretKey(randomBytes(32));
  const seen = new Set<string>();
  return {
    scope: (tenantId: string, policy: GuardrailPolicy) =>
      createHmac("sha256", key).update(tenantId).update("\0").update(JSON.stringify(policy)).digest(),
    digest: (scope: Buffer, text: string) =>
      createHmac("sha256", key).update(scope).update(text).digest("base64url"),
    has: (digest: string) => seen.has(digest),
    add(digest: string) {
      seen.add(digest);
      if (seen.size > max) seen.delete(seen.values().next().value as string);
    },
  };
}

/** A verdict without any text: check names, actions, finding types, offsets and confidences. */
export type VerdictSummary = {
  action: GuardrailVerdict["action"];
  checks: {
    name: string;
    action: string;
    confidence: number;
    findings: { type: string; start: number; end: number; confidence: number }[];
  }[];
};

export function summarize(v: GuardrailVerdict): VerdictSummary {
  return {
    action: v.action,
    checks: v.checks
      .filter((c) => c.action !== "allow")
      .map((c) => ({
        name: c.name,
        action: c.action,
        confidence: c.confidence,
        findings: c.findings
          .slice(0, 50)
          .map((f) => ({ type: f.type, start: f.start, end: f.end, confidence: f.confidence })),
      })),
  };
}

/** What a write may store after inspection. */
export type ScreenedWrite = { content: string; quarantined: boolean; flags: VerdictSummary | null };

/**
 * Where a refusal points: a request path (`body.content`), or, for a text that joins several fields
 * (a memory's tags, entities and metadata), the path of the field at an offset of the text (null
 * when the refusal has no offset: a known credential value).
 */
export type TextPath = string | ((offset: number | null) => string);

export type MemoryScreen = {
  /** Inspects text entering memory: strips hidden characters, masks, quarantines or blocks (422). */
  inbound(actor: TenantActor, content: string, path: string): Promise<ScreenedWrite>;
  /**
   * `inbound` for each text of a batch, in order, the first refusal thrown as `inbound` would; the
   * detectors of a large batch run off the serving thread.
   */
  inboundMany(
    actor: TenantActor,
    contents: readonly string[],
    paths: readonly TextPath[],
  ): Promise<ScreenedWrite[]>;
  /**
   * The inspection of text leaving memory, with the tenant's policy read now (so callers resolve it
   * before opening a transaction): null when the policy blocks the text from leaving.
   */
  outboundFor(
    actor: TenantActor,
  ): Promise<(content: string) => Promise<{ content: string; flagged: boolean } | null>>;
  /** The size of a recall answer about to leave (the anomaly detector watches each key's volume). */
  recalled(actor: TenantActor, bytes: number): Promise<void>;
  /** The same inbound inspection for ingested deliveries (connectors), at their own threshold. */
  ingest(tenantId: string, content: string): Promise<ScreenedWrite | { blocked: VerdictSummary }>;
  /**
   * Adds an exact-value check run before the guardrails on every inbound text: when it answers true
   * the text is blocked as `name` (the credential broker refuses a tenant's known credential values).
   */
  addValueCheck(name: string, check: (tenantId: string, text: string) => Promise<boolean>): void;
};

/** A verdict that names only the value check that matched (never the value or where it is). */
function valueVerdict(name: string): VerdictSummary {
  return { action: "block", checks: [{ name, action: "block", confidence: 1, findings: [] }] };
}

/**
 * Wires the guardrails engine to memory, with each tenant's policy. Agent and people writes use the
 * policy's `write_injection_threshold` (0.7 by default: a plain note opening with a task verb
 * scores 0.55), ingested deliveries `ingest_injection_threshold` (0.5).
 */
export function createMemoryScreen(deps: {
  guardrails: Guardrails;
  policyFor: (tenantId: string) => Promise<TenantPolicy>;
  /** Flags a recall answer far larger than the key's running average (anomaly detection). */
  recordRecallVolume: (actor: AgentActor, bytes: number) => Promise<void>;
  storage: Storage;
  clock: Clock;
  /** The keyed audit trail's append (same transaction as the change). */
  audit: AuditSink;
}): MemoryScreen {
  const clean = cleanTexts(CLEAN_ENTRIES);
  const policyWith = (p: TenantPolicy, threshold: number): GuardrailPolicy => ({
    ...p.guardrails,
    injectionThreshold: threshold,
  });

  async function auditBlocked(
    actor: TenantActor | null,
    tenantId: string,
    summary: VerdictSummary,
    source: string,
  ) {
    const db = await deps.storage.tenant(tenantId);
    await db.transaction((tx) =>
      deps.audit(
        tx,
        {
          tenantId,
          actor: actor ? { type: actor.type, id: actor.id } : { type: "system", id: source },
          action: "guardrail.blocked",
          outcome: "denied",
          origin: actor?.origin,
          details: { source, verdict: summary },
        },
        deps.clock.now(),
      ),
    );
  }

  const valueChecks: { name: string; check: (tenantId: string, text: string) => Promise<boolean> }[] = [];
  async function matchedValue(tenantId: string, text: string): Promise<VerdictSummary | null> {
    for (const c of valueChecks) if (await c.check(tenantId, text)) return valueVerdict(c.name);
    return null;
  }

  const toWrite = (v: GuardrailVerdict): ScreenedWrite => ({
    content: v.text,
    quarantined: v.action === "quarantine",
    flags: v.action === "allow" ? null : summarize(v),
  });

  /**
   * A write's text through the value checks and then the guardrails' verdict (`inspect`): refused
   * (422, with its audit event), emptied by sanitation (422), or what may be stored.
   */
  async function admitted(
    actor: TenantActor,
    content: string,
    at: TextPath,
    inspect: () => Promise<GuardrailVerdict>,
  ): Promise<ScreenedWrite> {
    const where = (offset: number | null) => (typeof at === "string" ? at : at(offset));
    const known = await matchedValue(actor.tenantId, content);
    if (known) {
      await auditBlocked(actor, actor.tenantId, known, "write");
      throw new AppError(
        "GUARDRAIL_BLOCKED",
        "the content contains the value of one of the tenant's credentials",
        {
          details: [
            { path: where(null), message: known.checks.map((c) => `${c.name}:${c.action}`).join(", ") },
          ],
          verdict: known,
        },
      );
    }
    const v = await inspect();
    if (v.action === "block") {
      const summary = summarize(v);
      await auditBlocked(actor, actor.tenantId, summary, "write");
      // The first finding of the first refusing check places the refusal (a joined text's field).
      const first = v.checks.find((c) => c.action === "block")?.findings[0]?.start ?? null;
      throw new AppError("GUARDRAIL_BLOCKED", "the content was refused by the tenant's guardrails", {
        details: [
          { path: where(first), message: summary.checks.map((c) => `${c.name}:${c.action}`).join(", ") },
        ],
        verdict: summary,
      });
    }
    const path = where(null);
    if (v.text.length === 0) {
      throw new AppError(
        "VALIDATION_FAILED",
        "nothing is left of the content once hidden characters are removed",
        {
          details: [{ path, message: "only hidden characters" }],
        },
      );
    }
    return toWrite(v);
  }

  return {
    addValueCheck(name, check) {
      valueChecks.push({ name, check });
    },

    async inbound(actor, content, path) {
      const p = await deps.policyFor(actor.tenantId);
      return admitted(actor, content, path, () =>
        deps.guardrails.inspectInbound(content, {
          tenantId: actor.tenantId,
          policy: policyWith(p, p.write_injection_threshold),
        }),
      );
    },

    async inboundMany(actor, contents, paths) {
      const p = await deps.policyFor(actor.tenantId);
      // The detectors see the whole batch at once (on the detector thread when it is large); the
      // value checks, refusals and their audit events then follow text by text, in order.
      const verdicts = deps.guardrails.inspectInboundMany(contents, {
        tenantId: actor.tenantId,
        policy: policyWith(p, p.write_injection_threshold),
      });
      // Awaited text by text below; a refusal before then must not leave a failure unobserved.
      verdicts.catch(() => undefined);
      const out: ScreenedWrite[] = [];
      for (const [i, content] of contents.entries()) {
        out.push(
          await admitted(
            actor,
            content,
            paths[i] ?? "body",
            async () => (await verdicts)[i] as GuardrailVerdict,
          ),
        );
      }
      return out;
    },

    async outboundFor(actor) {
      const p = await deps.policyFor(actor.tenantId);
      const policy = policyWith(p, p.guardrails.injectionThreshold);
      const scope = clean.scope(actor.tenantId, policy);
      return async (content) => {
        const digest = clean.digest(scope, content);
        if (clean.has(digest)) return { content, flagged: false };
        const v = await deps.guardrails.inspectOutbound(content, { tenantId: actor.tenantId, policy });
        if (v.action === "block") return null;
        if (v.action === "allow" && v.text === content) clean.add(digest);
        return { content: v.text, flagged: v.action !== "allow" };
      };
    },

    async recalled(actor, bytes) {
      if (actor.type === "agent" && bytes > 0) await deps.recordRecallVolume(actor, bytes);
    },

    async ingest(tenantId, content) {
      const known = await matchedValue(tenantId, content);
      if (known) {
        await auditBlocked(null, tenantId, known, "ingest");
        return { blocked: known };
      }
      const p = await deps.policyFor(tenantId);
      const v = await deps.guardrails.inspectInbound(content, {
        tenantId,
        policy: policyWith(p, p.ingest_injection_threshold),
      });
      if (v.action === "block") {
        const summary = summarize(v);
        await auditBlocked(null, tenantId, summary, "ingest");
        return { blocked: summary };
      }
      return toWrite(v);
    },
  };
}

import { type Clock, systemClock } from "../../lib/clock.ts";
import { timeSlices } from "../../lib/slices.ts";
import {
  type Finding,
  GUARDRAIL_ACTIONS,
  type GuardrailAction,
  type GuardrailCheck,
  type GuardrailPolicy,
  type GuardrailPolicyInput,
  type GuardrailVerdict,
  guardrailPolicySchema,
  type InspectContext,
} from "./guardrails.schemas.ts";
import { detectInjection, injectionScore } from "./injection.ts";
import type { Judge } from "./judge.ts";
import { maskSpans } from "./mask.ts";
import { detectPii } from "./pii.ts";
import { sanitize } from "./sanitize.ts";
import { detectSecrets } from "./secrets.ts";

export type Direction = "inbound" | "outbound";

export type GuardrailsDeps = {
  /** Default policy for callers that pass none in the context; parsed with its defaults. */
  policy?: GuardrailPolicyInput;
  /** Optional LLM judge; consulted on inbound text only, since that is where injections enter. */
  judge?: Judge;
  clock?: Clock;
  /** Runs `detect` over a batch on another thread (detect.worker.ts); batches run inline without it. */
  detectMany?: (req: DetectRequest) => Promise<Detection[]>;
};

export type Guardrails = {
  /** Checks text entering memory (writes, ingested deliveries). */
  inspectInbound(text: string, ctx: InspectContext): Promise<GuardrailVerdict>;
  /**
   * `inspectInbound` of each text of a batch, in order: the detectors of a large batch run on the
   * detector thread when there is one, so the serving thread is not held for its whole length.
   */
  inspectInboundMany(texts: readonly string[], ctx: InspectContext): Promise<GuardrailVerdict[]>;
  /** Checks text leaving memory (recall results, context blocks). */
  inspectOutbound(text: string, ctx: InspectContext): Promise<GuardrailVerdict>;
};

/** Injection findings at or above this confidence stand even when the judge calls the text benign. */
const JUDGE_CANNOT_OVERRIDE = 0.8;

function severity(action: GuardrailAction): number {
  return GUARDRAIL_ACTIONS.indexOf(action);
}

function mostSevere(checks: readonly GuardrailCheck[]): GuardrailAction {
  return checks.reduce<GuardrailAction>(
    (acc, c) => (severity(c.action) > severity(acc) ? c.action : acc),
    "allow",
  );
}

function maxConfidence(findings: readonly Finding[]): number {
  return findings.reduce((m, f) => Math.max(m, f.confidence), 0);
}

/**
 * Maps an offset in the input to the sanitised text by subtracting the removed characters before
 * it. NFC may shift later offsets slightly; this is used only to place hidden-text markers.
 */
function toSanitizedOffset(offset: number, removed: readonly Finding[]): number {
  let shift = 0;
  for (const r of removed) if (r.end <= offset) shift += r.end - r.start;
  return offset - shift;
}

/**
 * What the detectors found in one text, before the judge: the length limit, encoding sanitation,
 * then PII, secrets and prompt injection on the sanitised text. Pure (text and policy in, plain data
 * out), so it runs on whichever thread holds the text: inline for one text, on the detector thread
 * for a batch (see `GuardrailsDeps.detectMany`). `done` when the text is blocked before the detectors.
 */
export type Detection =
  | { done: true; text: string; checks: GuardrailCheck[] }
  | { done: false; text: string; checks: GuardrailCheck[]; injection: Finding[] };

export function detect(direction: Direction, input: string, policy: GuardrailPolicy): Detection {
  const rules = policy[direction];
  if (input.length > rules.maxLength) {
    const finding = { type: "too_long", start: rules.maxLength, end: input.length, confidence: 1 };
    return {
      done: true,
      text: "",
      checks: [{ name: "length", action: "block", findings: [finding], confidence: 1 }],
    };
  }
  const clean = sanitize(input);
  if (!clean.ok) {
    const finding = { type: "lone_surrogate", start: clean.index, end: clean.index + 1, confidence: 1 };
    return {
      done: true,
      text: "",
      checks: [{ name: "encoding", action: "block", findings: [finding], confidence: 1 }],
    };
  }
  const text = clean.text;
  const checks: GuardrailCheck[] = [];
  checks.push({
    name: "encoding",
    action: clean.removed.length > 0 ? "flag" : "allow",
    findings: clean.removed,
    confidence: clean.removed.length > 0 ? 1 : 0,
    ...(clean.normalized ? { detail: "nfc" } : {}),
  });

  const enabled = new Set(policy.piiTypes);
  // "allow" turns a detector off: its work would change nothing.
  const pii =
    rules.pii === "allow"
      ? []
      : detectPii(text, {
          minConfidence: policy.piiMinConfidence,
          types: policy.piiTypes,
          personModel: policy.piiPersonModel,
        }).filter((f) => enabled.has(f.type));
  checks.push({
    name: "pii",
    action: pii.length > 0 ? rules.pii : "allow",
    findings: pii,
    confidence: maxConfidence(pii),
  });

  const secrets = rules.secrets === "allow" ? [] : detectSecrets(text);
  checks.push({
    name: "secrets",
    action: secrets.length > 0 ? rules.secrets : "allow",
    findings: secrets,
    confidence: maxConfidence(secrets),
  });

  // Hidden text was already stripped; its presence is itself evidence of an injection attempt.
  const injection: Finding[] = detectInjection(text);
  for (const r of clean.removed) {
    if (r.type !== "tag_character" && r.type !== "bidi_control") continue;
    const at = toSanitizedOffset(r.start, clean.removed);
    injection.push({
      type: "hidden_text",
      start: at,
      end: at,
      confidence: r.type === "tag_character" ? 0.9 : 0.6,
    });
  }
  return { done: false, text, checks, injection };
}

/** A batch of texts for the detector thread (detect.worker.ts). */
export type DetectRequest = { direction: Direction; texts: readonly string[]; policy: GuardrailPolicy };

/** Batches at least this large go to the detector thread when there is one; smaller ones run inline. */
export const DETECT_OFF_THREAD_MIN = 8;

/**
 * Creates the guardrails engine. Each inspection runs, in order: a length limit, encoding
 * sanitation (lone surrogates block; hidden and control characters are stripped and NFC applied),
 * then the PII, secret and prompt-injection detectors on the sanitised text (`detect`), and, when
 * configured, the LLM judge. The verdict's action is the most severe action any check asked for;
 * `mask` checks rewrite the returned text; `block` returns no text; `quarantine` returns the
 * sanitised text for the caller to store out of normal recall.
 *
 * @example
 * const guardrails = createGuardrails({ policy: { inbound: { pii: "mask" } } });
 * const v = await guardrails.inspectInbound(body, { tenantId });
 * if (!v.allowed) return { ok: false, reason: v.action === "block" ? "GUARDRAIL_BLOCKED" : "QUARANTINED" };
 */
export function createGuardrails(deps: GuardrailsDeps = {}): Guardrails {
  const defaultPolicy = guardrailPolicySchema.parse(deps.policy ?? {});
  const clock = deps.clock ?? systemClock;

  /** The judge (inbound only) and the verdict, from what the detectors found. */
  async function conclude(
    direction: Direction,
    found: Detection,
    policy: GuardrailPolicy,
    started: number,
  ): Promise<GuardrailVerdict> {
    const rules = policy[direction];
    const finish = (action: GuardrailAction, text: string, checks: GuardrailCheck[]): GuardrailVerdict => ({
      allowed: action !== "block" && action !== "quarantine",
      action,
      text: action === "block" ? "" : text,
      checks,
      latencyMs: clock.now() - started,
    });
    if (found.done) return finish("block", "", found.checks);
    const { text, checks, injection } = found;
    let decisive = injection;
    if (deps.judge && direction === "inbound") {
      const verdict = await deps.judge.judge(text);
      if (verdict.ok) {
        checks.push({
          name: "judge",
          action: "allow",
          findings: [],
          confidence: verdict.confidence,
          detail: verdict.injection ? "answered:injection" : "answered:benign",
        });
        if (verdict.injection) {
          injection.push({ type: "llm_judge", start: 0, end: text.length, confidence: verdict.confidence });
        } else {
          decisive = injection.filter((f) => f.confidence >= JUDGE_CANNOT_OVERRIDE);
        }
      } else {
        checks.push({
          name: "judge",
          action: "allow",
          findings: [],
          confidence: 0,
          detail: `fallback:${verdict.reason.toLowerCase()}`,
        });
      }
    }
    const score = injectionScore(decisive);
    checks.push({
      name: "injection",
      action: score >= policy.injectionThreshold ? rules.injection : "allow",
      findings: injection.sort((a, b) => a.start - b.start),
      confidence: injectionScore(injection),
    });

    const toMask = checks.filter((c) => c.action === "mask").flatMap((c) => c.findings);
    const out = toMask.length > 0 ? maskSpans(text, toMask) : text;
    return finish(mostSevere(checks), out, checks);
  }

  async function inspect(
    direction: Direction,
    input: string,
    ctx: InspectContext,
  ): Promise<GuardrailVerdict> {
    const started = clock.now();
    const policy: GuardrailPolicy = ctx.policy ?? defaultPolicy;
    return conclude(direction, detect(direction, input, policy), policy, started);
  }

  async function inspectMany(
    direction: Direction,
    texts: readonly string[],
    ctx: InspectContext,
  ): Promise<GuardrailVerdict[]> {
    const started = clock.now();
    const policy: GuardrailPolicy = ctx.policy ?? defaultPolicy;
    let found: Detection[];
    if (deps.detectMany && texts.length >= DETECT_OFF_THREAD_MIN) {
      found = await deps.detectMany({ direction, texts, policy });
    } else {
      found = [];
      const slice = timeSlices();
      for (const t of texts) {
        await slice();
        found.push(detect(direction, t, policy));
      }
    }
    const out: GuardrailVerdict[] = [];
    for (const f of found) out.push(await conclude(direction, f, policy, started));
    return out;
  }

  return {
    inspectInbound: (text, ctx) => inspect("inbound", text, ctx),
    inspectInboundMany: (texts, ctx) => inspectMany("inbound", texts, ctx),
    inspectOutbound: (text, ctx) => inspect("outbound", text, ctx),
  };
}

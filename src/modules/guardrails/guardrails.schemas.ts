import { z } from "zod";

/**
 * What a guardrail does with a finding. Ordered by severity: the verdict takes the most severe
 * action any check asks for. `quarantine` keeps the text out of normal recall until a person looks.
 */
export const GUARDRAIL_ACTIONS = ["allow", "flag", "mask", "quarantine", "block"] as const;
export type GuardrailAction = (typeof GUARDRAIL_ACTIONS)[number];

/** Actions a tenant may choose for the PII and secret detectors. */
export const detectorActionSchema = z.enum(["allow", "flag", "mask", "block"]);
/** The injection detector may also recommend quarantine (its inbound default). */
export const injectionActionSchema = z.enum(["allow", "flag", "mask", "quarantine", "block"]);

export const PII_TYPES = ["EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "SSN", "IP_ADDRESS", "PERSON"] as const;
export type PiiType = (typeof PII_TYPES)[number];

const directionSchema = (defaults: {
  pii: z.infer<typeof detectorActionSchema>;
  secrets: z.infer<typeof detectorActionSchema>;
  injection: z.infer<typeof injectionActionSchema>;
  maxLength: number;
}) =>
  z.object({
    pii: detectorActionSchema.default(defaults.pii),
    secrets: detectorActionSchema.default(defaults.secrets),
    injection: injectionActionSchema.default(defaults.injection),
    /** Longer text is blocked outright: detectors are linear, but storage and prompts are not free. */
    maxLength: z.number().int().min(1).max(10_000_000).default(defaults.maxLength),
  });

/**
 * A tenant's guardrail policy. Every field has a default, so `guardrailPolicySchema.parse({})` is
 * the documented baseline:
 *
 * - inbound (memory writes, ingested deliveries): PII `flag`, secrets `block`, injection
 *   `quarantine`, at most 100,000 characters;
 * - outbound (recall results, context blocks): PII `allow`, secrets `mask`, injection `flag`, at
 *   most 1,000,000 characters;
 * - every PII type enabled, person names by the model; a PII finding counts from confidence 0.5, an
 *   injection finding from 0.5.
 *
 * @example
 * const policy = guardrailPolicySchema.parse({ outbound: { pii: "mask" } });
 */
export const guardrailPolicySchema = z.object({
  inbound: directionSchema({
    pii: "flag",
    secrets: "block",
    injection: "quarantine",
    maxLength: 100_000,
  }).prefault({}),
  outbound: directionSchema({
    pii: "allow",
    secrets: "mask",
    injection: "flag",
    maxLength: 1_000_000,
  }).prefault({}),
  piiTypes: z
    .array(z.enum(PII_TYPES))
    .max(PII_TYPES.length)
    .default([...PII_TYPES]),
  piiMinConfidence: z.number().min(0).max(1).default(0.5),
  /**
   * Person names by the part-of-speech model and name lexicon (true) or by the cue rules alone
   * (false: titles, "my name is", sign-offs — far cheaper, about a quarter of the recall).
   */
  piiPersonModel: z.boolean().default(true),
  injectionThreshold: z.number().min(0).max(1).default(0.5),
});

export type GuardrailPolicy = z.infer<typeof guardrailPolicySchema>;
export type GuardrailPolicyInput = z.input<typeof guardrailPolicySchema>;

/** One detected span. Offsets and type only: the matched text itself is never carried. */
export type Finding = { type: string; start: number; end: number; confidence: number };

export type CheckName = "length" | "encoding" | "pii" | "secrets" | "injection" | "judge";

export type GuardrailCheck = {
  name: CheckName;
  action: GuardrailAction;
  findings: Finding[];
  confidence: number;
  /** Short machine-readable note, e.g. `fallback:timeout` for a judge that did not answer. */
  detail?: string;
};

/**
 * The outcome of one inspection. Offsets of `encoding` findings refer to the input; all other
 * offsets refer to the sanitised text before any masking.
 */
export type GuardrailVerdict = {
  allowed: boolean;
  action: GuardrailAction;
  text: string;
  checks: GuardrailCheck[];
  latencyMs: number;
};

export type InspectContext = {
  tenantId: string;
  /** The tenant's policy; the guardrails' default policy applies when absent. */
  policy?: GuardrailPolicy;
};

/** Public surface of the guardrails engine (pure library; the HTTP layer wires it in). */

export * from "./guardrails.schemas.ts";
export { createGuardrails, type Direction, type Guardrails, type GuardrailsDeps } from "./guardrails.ts";
export { detectInjection, type InjectionFinding, type InjectionType, injectionScore } from "./injection.ts";
export {
  createLlmJudge,
  type Judge,
  type JudgeConfig,
  type JudgeConfigInput,
  type JudgeResult,
  judgeConfigSchema,
} from "./judge.ts";
export { maskSpans, placeholderFor } from "./mask.ts";
export { loadNameModels } from "./names.ts";
export { type DetectPiiOptions, detectPii, ibanValid, luhnValid, type PiiFinding, ssnValid } from "./pii.ts";
export { loneSurrogateIndex, type RemovedKind, type SanitizeResult, sanitize } from "./sanitize.ts";
export { detectSecrets } from "./secrets.ts";

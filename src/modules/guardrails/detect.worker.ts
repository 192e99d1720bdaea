import { answerThreadCalls } from "../../lib/thread-calls.ts";
import { type Detection, type DetectRequest, detect } from "./guardrails.ts";
import { loadNameModels } from "./names.ts";

/**
 * The detector thread: the guardrails' detectors (`detect`: PII with the person-name tagger,
 * secrets, prompt injection) over a batch of texts, so a batch store's screening does not hold the
 * thread that serves requests. The name models load as the thread starts.
 */
loadNameModels();
answerThreadCalls<DetectRequest, Detection[]>((req) =>
  req.texts.map((t) => detect(req.direction, t, req.policy)),
);

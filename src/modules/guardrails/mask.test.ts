import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { maskSpans, placeholderFor } from "./mask.ts";

describe("maskSpans", () => {
  it("replaces each span with its typed placeholder and keeps the text between", () => {
    const text = "mail ana@x.io or call 555-123-4567 now";
    const out = maskSpans(text, [
      { type: "PHONE", start: 22, end: 34, confidence: 0.9 },
      { type: "EMAIL", start: 5, end: 13, confidence: 0.95 },
    ]);
    assert.equal(out, "mail [EMAIL] or call [PHONE] now");
  });

  it("merges several overlapping findings into one region named by the most confident", () => {
    const text = "0123456789ABCDEFGHIJ";
    const out = maskSpans(text, [
      { type: "PHONE", start: 2, end: 8, confidence: 0.6 },
      { type: "CREDIT_CARD", start: 4, end: 12, confidence: 0.95 },
      { type: "SSN", start: 10, end: 14, confidence: 0.7 },
      { type: "EMAIL", start: 16, end: 18, confidence: 0.9 },
    ]);
    assert.equal(out, "01[CREDIT_CARD]EF[EMAIL]IJ");
  });

  it("names a nested region after the longer finding when confidences tie", () => {
    const out = maskSpans("abcdefgh", [
      { type: "PHONE", start: 2, end: 4, confidence: 0.8 },
      { type: "IBAN", start: 1, end: 7, confidence: 0.8 },
    ]);
    assert.equal(out, "a[IBAN]h");
  });

  it("clips spans outside the text and ignores empty ones", () => {
    const out = maskSpans("abc", [
      { type: "EMAIL", start: 2, end: 99, confidence: 1 },
      { type: "PHONE", start: 1, end: 1, confidence: 1 },
    ]);
    assert.equal(out, "ab[EMAIL]");
  });

  it("writes the log redactor's marker for secrets and a neutral marker for other findings", () => {
    assert.equal(placeholderFor("secret:aws_access_key"), "[REDACTED:aws_access_key]");
    assert.equal(placeholderFor("IP_ADDRESS"), "[IP_ADDRESS]");
    assert.equal(placeholderFor("instruction_override"), "[REMOVED]");
  });
});

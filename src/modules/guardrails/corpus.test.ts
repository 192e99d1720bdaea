import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadBipia, loadPresidio, scoreInjection, scorePii } from "./evaluation.ts";

/**
 * Quality floors on public corpora (see evaluation.ts for the matching and embedding rules). Each
 * floor sits just below the figure reached when it was set, so a regression in a detector fails.
 */
const PII_FLOORS: Record<string, { precision: number; recall: number }> = {
  EMAIL: { precision: 0.99, recall: 0.99 },
  PHONE: { precision: 0.97, recall: 0.97 },
  CREDIT_CARD: { precision: 0.99, recall: 0.99 },
  IBAN: { precision: 0.99, recall: 0.99 },
  SSN: { precision: 0.99, recall: 0.99 },
  IP_ADDRESS: { precision: 0.99, recall: 0.99 },
  PERSON: { precision: 0.9, recall: 0.2 },
};

describe("corpus quality", () => {
  it("PII precision and recall per type on the Presidio synthetic set stay above their floors", () => {
    const scores = scorePii(loadPresidio());
    for (const s of scores) {
      const floor = PII_FLOORS[s.type];
      assert.ok(floor, s.type);
      assert.ok(s.precision >= floor.precision, `${s.type} precision ${s.precision.toFixed(3)}`);
      assert.ok(s.recall >= floor.recall, `${s.type} recall ${s.recall.toFixed(3)}`);
    }
  });

  it("BIPIA attacks embedded in benign emails are detected at the default threshold with few false positives", () => {
    const s = scoreInjection(loadBipia(), 0.5);
    assert.equal(s.trials, 75 * 50 * 3);
    assert.ok(s.detectionRate >= 0.85, `detection ${s.detectionRate.toFixed(3)}`);
    for (const [position, rate] of Object.entries(s.byPosition))
      assert.ok(rate >= 0.85, `${position} ${rate}`);
    assert.ok(s.falsePositiveRate <= 0.02, `fpr ${s.falsePositiveRate.toFixed(3)}`);
  });

  it("at the sensitive threshold 0.4 every attack is caught without false positives on the benign emails", () => {
    const s = scoreInjection(loadBipia(), 0.4);
    assert.ok(s.detectionRate >= 0.99, `detection ${s.detectionRate.toFixed(3)}`);
    assert.ok(s.falsePositiveRate <= 0.02, `fpr ${s.falsePositiveRate.toFixed(3)}`);
  });
});

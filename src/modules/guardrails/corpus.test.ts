import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  loadBipia,
  loadBipiaCode,
  loadPresidio,
  scoreInjection,
  scorePii,
  withCategories,
} from "./evaluation.ts";

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
  PERSON: { precision: 0.94, recall: 0.84 },
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

  it("person names by cue rules alone keep their precision, at a fraction of the model's recall", () => {
    const rules = scorePii(loadPresidio(), { personModel: false }).find((s) => s.type === "PERSON");
    assert.ok(rules);
    assert.ok(rules.precision >= 0.9, `precision ${rules.precision.toFixed(3)}`);
    assert.ok(rules.recall < 0.4, `recall ${rules.recall.toFixed(3)}`);
  });

  it("BIPIA code attacks embedded in benign programming answers are detected in every category, and the answers alone are not flagged", () => {
    const data = loadBipiaCode();
    assert.equal(data.attacks.length, 50);
    assert.equal(data.benign.length, 50);
    const s = scoreInjection(data, 0.5);
    assert.ok(s.detectionRate >= 0.95, `detection ${s.detectionRate.toFixed(3)}`);
    for (const [position, rate] of Object.entries(s.byPosition))
      assert.ok(rate >= 0.95, `${position} ${rate}`);
    for (const c of s.byCategory) assert.ok(c.rate >= 0.9, `${c.category} ${c.rate}`);
    assert.ok(s.falsePositives <= 1, `false positives ${s.falsePositives}/50`);
    // The stricter write threshold still catches them: the directive and the harmful code agree.
    const strict = scoreInjection(data, 0.7);
    assert.ok(strict.detectionRate >= 0.95, `detection at 0.7 ${strict.detectionRate.toFixed(3)}`);
  });

  it("both halves of the code-attack categories are detected alike", () => {
    const data = loadBipiaCode();
    const categories = [...new Set(data.attacks.map((a) => a.category))];
    assert.equal(categories.length, 10);
    for (const half of [categories.slice(0, 5), categories.slice(5)]) {
      const s = scoreInjection(withCategories(data, half), 0.5);
      assert.ok(s.detectionRate >= 0.95, `${half.join(", ")}: ${s.detectionRate.toFixed(3)}`);
    }
  });
});

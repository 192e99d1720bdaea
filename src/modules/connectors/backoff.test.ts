import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backoffDelay, DEFAULT_BACKOFF } from "./delivery-worker.ts";
import { DEFAULT_OUTBOUND_POLICY } from "./outbound.service.ts";

describe("retry backoff uses full jitter (inbox worker and outbound sender)", () => {
  const policies = { inbox: DEFAULT_BACKOFF, outbound: DEFAULT_OUTBOUND_POLICY };

  for (const [name, policy] of Object.entries(policies)) {
    test(`${name}: the delay is drawn uniformly below the capped exponential ceiling`, () => {
      for (const attempt of [1, 2, 3, 5, 20]) {
        const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
        assert.equal(
          backoffDelay(policy, attempt, () => 0),
          1,
          "never due in the instant it failed",
        );
        assert.equal(
          backoffDelay(policy, attempt, () => 0.5),
          Math.floor(ceiling / 2),
        );
        const top = backoffDelay(policy, attempt, () => 1 - Number.EPSILON);
        assert.ok(top < ceiling && top >= ceiling - 1, `attempt ${attempt}: ${top} vs ${ceiling}`);
      }
    });

    test(`${name}: retries failing at the same moment spread out instead of arriving together`, () => {
      const attempt = 4;
      const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
      const delays = Array.from({ length: 1000 }, () => backoffDelay(policy, attempt));
      assert.ok(
        delays.every((d) => Number.isInteger(d) && d >= 1 && d < ceiling),
        "within [1, ceiling)",
      );
      assert.ok(new Set(delays).size > 500, `only ${new Set(delays).size} distinct delays of 1000`);
      // Uniform on [0, ceiling): each quarter holds about 250; a fixed delay would put all in one.
      const quarters = [0, 0, 0, 0];
      for (const d of delays)
        quarters[Math.floor((d / ceiling) * 4)] = (quarters[Math.floor((d / ceiling) * 4)] ?? 0) + 1;
      for (const q of quarters) assert.ok(q > 150 && q < 350, `quarters ${quarters.join("/")}`);
    });
  }
});

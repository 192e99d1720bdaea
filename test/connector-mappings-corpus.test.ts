import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  formatStripeAmount,
  GITHUB_MAPPED_EVENTS,
  GITHUB_SKIPPED_EVENTS,
  type MappingContext,
  type MemoryDraft,
  mapGithub,
  mapSlack,
  mapStripe,
  parseDeliveryBody,
} from "../src/modules/connectors/mappings.ts";
import { GITHUB_CORPUS, SLACK_CASES, STRIPE_CASES, stripeEvent } from "./fixtures/webhook-events.ts";

const ctx = (source: MappingContext["source"]): MappingContext => ({
  source,
  mapping: { namespace: "inbox" },
});

/** The text as a memory keeps it: line endings normalised, trimmed, first 200 characters. */
const kept = (text: unknown) =>
  typeof text === "string" ? text.replace(/\r\n?/g, "\n").trim().slice(0, 200).trim() : "";

const get = (doc: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>(
    (o, k) => (typeof o === "object" && o !== null ? (o as Record<string, unknown>)[k] : undefined),
    doc,
  );

/** Per event type, the human text of the payload a memory must carry. */
function expectedText(event: string, p: Record<string, unknown>): string[] {
  const action = get(p, "action");
  switch (event) {
    case "issues":
      return [
        kept(get(p, "issue", "title")),
        ...(action === "opened" || action === "edited" ? [kept(get(p, "issue", "body"))] : []),
      ];
    case "pull_request":
      return [
        kept(get(p, "pull_request", "title")),
        ...(action === "opened" || action === "edited" ? [kept(get(p, "pull_request", "body"))] : []),
      ];
    case "issue_comment":
    case "pull_request_review_comment":
    case "commit_comment":
    case "discussion_comment":
      return [kept(get(p, "comment", "body"))];
    case "pull_request_review":
      return [kept(get(p, "pull_request", "title")), kept(get(p, "review", "body"))];
    case "pull_request_review_thread": {
      const first = (get(p, "thread", "comments") as unknown[])[0];
      return [kept(get(p, "pull_request", "title")), kept(get(first, "body"))];
    }
    case "release":
      return [
        kept(get(p, "release", "tag_name")),
        ...(action === "deleted" ? [] : [kept(get(p, "release", "body"))]),
      ];
    case "discussion":
      return [
        kept(get(p, "discussion", "title")),
        ...(action === "answered" ? [kept(get(p, "answer", "body"))] : []),
      ];
    case "push": {
      const ref = String(get(p, "ref")).replace(/^refs\/(heads|tags)\//, "");
      const commits = get(p, "commits") as unknown[];
      const first = commits[0] ? String(get(commits[0], "message")).split("\n")[0] : "";
      return [ref, get(p, "deleted") === true ? "deleted" : kept(first)];
    }
    case "create":
    case "delete":
      return [kept(get(p, "ref")), kept(get(p, "ref_type"))];
    case "fork":
      return [kept(get(p, "forkee", "full_name"))];
    case "check_run":
    case "workflow_job":
      return [kept(get(p, event, "name")), kept(get(p, event, "conclusion"))];
    case "code_scanning_alert":
      return [kept(get(p, "alert", "rule", "description"))];
    case "dependabot_alert":
      return [
        kept(get(p, "alert", "dependency", "package", "name")),
        kept(get(p, "alert", "security_advisory", "summary")),
      ];
    case "repository_vulnerability_alert":
      return [kept(get(p, "alert", "affected_package_name"))];
    case "security_advisory":
      return [kept(get(p, "security_advisory", "summary"))];
    case "repository":
      return [kept(get(p, "repository", "full_name")), String(action).replace(/_/g, " ")];
    case "member":
      return [kept(get(p, "member", "login"))];
    case "membership":
      return [kept(get(p, "member", "login")), kept(get(p, "team", "name"))];
    case "organization":
      return [kept(get(p, "organization", "login"))];
    case "team":
    case "team_add":
      return [kept(get(p, "team", "name"))];
    case "deploy_key":
      return [kept(get(p, "key", "title"))];
    case "branch_protection_rule":
      return [kept(get(p, "rule", "name"))];
    case "milestone":
      return [kept(get(p, "milestone", "title"))];
    case "gollum":
      return [kept(get((get(p, "pages") as unknown[])[0], "title"))];
    case "deployment":
      return [kept(get(p, "deployment", "environment"))];
    case "public":
      return [kept(get(p, "repository", "full_name")), "public"];
    default:
      return [];
  }
}

/** Events whose examples may be acknowledged without a memory, and the reason they must give. */
const IGNORABLE: Record<string, string> = {
  ping: "PING",
  check_run: "ACTION_IGNORED",
  check_suite: "ACTION_IGNORED",
  workflow_run: "ACTION_IGNORED",
  workflow_job: "ACTION_IGNORED",
  status: "ACTION_IGNORED",
  deployment_status: "ACTION_IGNORED",
};

describe("GitHub's public webhook corpus (@octokit/webhooks-examples)", () => {
  test("every event type in the corpus is either mapped or deliberately skipped (none unaccounted for)", () => {
    for (const { name } of GITHUB_CORPUS) {
      assert.ok(
        name === "ping" || GITHUB_MAPPED_EVENTS.includes(name) || GITHUB_SKIPPED_EVENTS.has(name),
        `${name} is neither mapped nor listed as skipped`,
      );
    }
  });

  test("every example payload becomes one memory or is ignored with a stated reason", () => {
    let stored = 0;
    let total = 0;
    for (const { name, examples } of GITHUB_CORPUS) {
      for (const [i, payload] of examples.entries()) {
        total++;
        const r = mapGithub(name, payload, ctx("github"));
        const where = `${name}[${i}] ${String(payload.action ?? "")}`;
        if (r.ignored) {
          assert.equal(r.drafts.length, 0, where);
          const expected = GITHUB_SKIPPED_EVENTS.has(name) ? "EVENT_UNSUPPORTED" : IGNORABLE[name];
          assert.equal(r.ignored.reason, expected, `${where}: ${JSON.stringify(r.ignored)}`);
        } else {
          assert.equal(r.drafts.length, 1, where);
          stored++;
        }
      }
    }
    assert.ok(total >= 300, `corpus has ${total} examples`);
    // The pinned corpus (7.6.1): 329 examples, of which 212 become memories; the other 117 are
    // pings, deliberately skipped event types and checks, runs and statuses that did not fail.
    assert.deepEqual({ total, stored }, { total: 329, stored: 212 });
  });

  test("each memory carries the payload's human text, who did it, where, and event/action tags", () => {
    for (const { name, examples } of GITHUB_CORPUS) {
      for (const [i, payload] of examples.entries()) {
        const d: MemoryDraft | undefined = mapGithub(name, payload, ctx("github")).drafts[0];
        if (!d) continue;
        const where = `${name}[${i}] ${String(payload.action ?? "")}`;
        for (const text of expectedText(name, payload)) {
          if (text !== "")
            assert.ok(
              d.content.includes(text),
              `${where}: ${JSON.stringify(text)} missing from\n${d.content}`,
            );
        }
        assert.ok(d.tags.includes(`event:${name}`), where);
        if (typeof payload.action === "string") assert.ok(d.tags.includes(`action:${payload.action}`), where);
        const repo = get(payload, "repository", "full_name");
        if (typeof repo === "string") {
          assert.ok(d.entities.includes(`repo:${repo}`), where);
          assert.ok(d.content.includes(repo), `${where}: repository named in the content`);
        }
        const sender = get(payload, "sender", "login");
        if (typeof sender === "string") assert.ok(d.entities.includes(`user:${sender}`), where);
      }
    }
  });

  test("issue and pull request actions read as what happened (labels, assignees, not planned, reviews, drafts)", () => {
    const find = (event: string, action: string) => {
      const ex = GITHUB_CORPUS.find((e) => e.name === event)?.examples.find((x) => x.action === action);
      assert.ok(ex, `${event}.${action} in the corpus`);
      return mapGithub(event, ex, ctx("github")).drafts[0]?.content ?? "";
    };
    assert.match(find("issues", "labeled"), /added label "[^"]+" to issue #\d+/);
    assert.match(find("issues", "assigned"), /assigned \S+ to issue #\d+/);
    assert.match(find("issues", "transferred"), /transferred issue #\d+/);
    assert.match(find("pull_request", "synchronize"), /pushed new commits to pull request #\d+/);
    assert.match(
      find("pull_request", "review_requested"),
      /requested a review from \S+ on pull request #\d+/,
    );
    assert.match(find("pull_request", "converted_to_draft"), /converted to draft pull request #\d+/);
    const notPlanned = mapGithub(
      "issues",
      {
        action: "closed",
        issue: { number: 7, title: "Dark mode", state_reason: "not_planned" },
        repository: { full_name: "o/r" },
        sender: { login: "u" },
      },
      ctx("github"),
    ).drafts[0];
    assert.equal(notPlanned?.content, "u closed as not planned issue #7 in o/r: Dark mode");
    assert.ok(notPlanned?.tags.includes("state_reason:not_planned"));
  });

  test("a failing check run is remembered with its output; a passing one is ignored with the conclusion", () => {
    const base = { action: "completed", repository: { full_name: "o/r" }, sender: { login: "u" } };
    const failed = mapGithub(
      "check_run",
      {
        ...base,
        check_run: {
          name: "unit tests",
          conclusion: "failure",
          head_sha: "abcdef123",
          output: { title: "3 tests failed", summary: "auth.test.ts: token expired" },
        },
      },
      ctx("github"),
    ).drafts[0];
    assert.ok(failed?.content.includes('check run "unit tests" failure in o/r at abcdef1'));
    assert.ok(failed?.content.includes("auth.test.ts: token expired"));
    const passed = mapGithub(
      "check_run",
      { ...base, check_run: { name: "unit tests", conclusion: "success" } },
      ctx("github"),
    );
    assert.deepEqual(passed.ignored, { reason: "ACTION_IGNORED", detail: "check_run.completed success" });
  });

  test("a 2,048-commit push lists the first 20 commits and counts the rest", () => {
    const commits = Array.from({ length: 2048 }, (_, i) => ({
      id: `${i}`.padStart(40, "a"),
      message: `change ${i}`,
    }));
    const d = mapGithub(
      "push",
      { ref: "refs/heads/main", commits, repository: { full_name: "o/r" }, pusher: { name: "ci" } },
      ctx("github"),
    ).drafts[0];
    assert.ok(d?.content.startsWith("ci pushed 2048 commits to main in o/r:"));
    assert.ok(d?.content.includes("change 19"));
    assert.ok(!d?.content.includes("change 20\n"));
    assert.ok(d?.content.endsWith("- … and 2028 more"));
    assert.equal(d?.metadata.commits, 2048);
  });
});

describe("Stripe events keep their human fields", () => {
  for (const [i, c] of STRIPE_CASES.entries()) {
    test(`${c.type}: ${c.expect.join(" · ")}`, () => {
      const d = mapStripe(stripeEvent(c, i), ctx("stripe")).drafts[0];
      assert.ok(d, c.type);
      for (const text of c.expect)
        assert.ok(d.content.includes(text), `${JSON.stringify(text)} missing from\n${d.content}`);
      assert.ok(d.tags.includes(`event:${c.type}`));
    });
  }

  test("an unpaid invoice is about amount_due, not the amount_paid of 0 every invoice carries", () => {
    const c = STRIPE_CASES.find((x) => x.type === "invoice.payment_failed");
    assert.ok(c);
    const d = mapStripe(stripeEvent(c, 0), ctx("stripe")).drafts[0];
    assert.ok(d?.content.startsWith("Stripe invoice payment failed: 29.00 USD"));
    assert.ok(!d?.content.includes("0.00 USD"));
    assert.equal(d?.metadata.amount_field, "amount_due");
    assert.equal(d?.metadata.amount, 2900);
  });

  test("amounts are formatted by the currency's minor unit, zero- and three-decimal ones too", () => {
    const cases: [number, string, string][] = [
      [2000, "usd", "20.00 USD"],
      [150000, "jpy", "150000 JPY"],
      [1000, "krw", "1000 KRW"],
      [1100000, "clp", "1100000 CLP"],
      [500, "vnd", "500 VND"],
      [1500, "kwd", "1.500 KWD"],
      [12345, "bhd", "12.345 BHD"],
      [8500, "chf", "85.00 CHF"],
    ];
    for (const [amount, currency, shown] of cases) assert.equal(formatStripeAmount(amount, currency), shown);
  });

  test("customer and product become entities", () => {
    const sub = STRIPE_CASES.find((x) => x.type === "customer.subscription.deleted");
    assert.ok(sub);
    const d = mapStripe(stripeEvent(sub, 0), ctx("stripe")).drafts[0];
    assert.ok(d?.entities.includes("customer:cus_NffrFeUfNV2Hib"));
    assert.ok(d?.entities.includes("product:prod_NWjs8kKbJWmuuc"));
  });
});

describe("Slack payloads, form-encoded ones included", () => {
  const bodyOf = (c: (typeof SLACK_CASES)[number]) => {
    if (c.encoding === "json") return { raw: JSON.stringify(c.body), type: "application/json" };
    const form =
      c.encoding === "form"
        ? new URLSearchParams(c.body as Record<string, string>)
        : new URLSearchParams({ payload: JSON.stringify(c.body) });
    return { raw: form.toString(), type: "application/x-www-form-urlencoded" };
  };
  for (const c of SLACK_CASES) {
    test(`${c.name} (${c.encoding}) ${Array.isArray(c.expect) ? "becomes a memory" : `is ignored: ${c.expect.ignored}`}`, () => {
      const { raw, type } = bodyOf(c);
      const r = mapSlack(parseDeliveryBody(Buffer.from(raw), type), ctx("slack"));
      if (Array.isArray(c.expect)) {
        const d = r.drafts[0];
        assert.ok(d, JSON.stringify(r.ignored));
        for (const text of c.expect)
          assert.ok(d.content.includes(text), `${JSON.stringify(text)} missing from\n${d.content}`);
      } else {
        assert.equal(r.ignored?.reason.toLowerCase(), c.expect.ignored);
      }
    });
  }

  test("a slash command's verification token and response URL are never kept", () => {
    const c = SLACK_CASES.find((x) => x.encoding === "form");
    assert.ok(c);
    const d = mapSlack(
      parseDeliveryBody(
        Buffer.from(new URLSearchParams(c.body as Record<string, string>).toString()),
        "application/x-www-form-urlencoded",
      ),
      ctx("slack"),
    ).drafts[0];
    const all = JSON.stringify(d);
    assert.ok(!all.includes("gIkuvaNzQIHg97ATvDxqgjtO"));
    assert.ok(!all.includes("hooks.slack.com"));
  });

  test("reactions worth keeping are configurable", () => {
    const tada = SLACK_CASES.find((x) => x.name === "casual reaction");
    assert.ok(tada);
    assert.equal(mapSlack(tada.body, { ...ctx("slack"), reactions: ["tada"] }).drafts.length, 1);
  });
});

describe("form-encoded bodies", () => {
  test("a GitHub hook set to form content (payload=) parses to the same payload as JSON", () => {
    const payload = GITHUB_CORPUS.find((e) => e.name === "issues")?.examples[0];
    const raw = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    assert.deepEqual(
      parseDeliveryBody(Buffer.from(raw), "application/x-www-form-urlencoded; charset=utf-8"),
      payload,
    );
  });

  test("a body that is neither JSON nor a form parses to nothing", () => {
    assert.equal(parseDeliveryBody(Buffer.from("<xml/>"), "application/xml"), undefined);
    assert.equal(
      parseDeliveryBody(Buffer.from("payload=%7Bnot-json"), "application/x-www-form-urlencoded"),
      undefined,
    );
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LABEL_RE } from "../../lib/names.ts";
import { connectorConfigSchema } from "./connectors.schemas.ts";
import {
  capContent,
  eventTypeAllowed,
  formatStripeAmount,
  type MappingContext,
  mapDelivery,
  mapGeneric,
  mapGithub,
  mapSlack,
  mapStripe,
  resolvePointer,
  sanitiseLabel,
  sanitiseLabels,
  slackChallenge,
} from "./mappings.ts";

const ctx = (
  source: MappingContext["source"],
  extra: Partial<MappingContext["mapping"]> = {},
): MappingContext => ({
  source,
  mapping: { namespace: "team/inbox", ...extra },
});

describe("JSON pointer (RFC 6901 section 5 examples)", () => {
  const doc = {
    foo: ["bar", "baz"],
    "": 0,
    "a/b": 1,
    "c%d": 2,
    "e^f": 3,
    "g|h": 4,
    "i\\j": 5,
    'k"l': 6,
    " ": 7,
    "m~n": 8,
  };
  const cases: [string, unknown][] = [
    ["", doc],
    ["/foo", ["bar", "baz"]],
    ["/foo/0", "bar"],
    ["/", 0],
    ["/a~1b", 1],
    ["/c%d", 2],
    ["/e^f", 3],
    ["/g|h", 4],
    ["/i\\j", 5],
    ['/k"l', 6],
    ["/ ", 7],
    ["/m~0n", 8],
  ];
  for (const [pointer, expected] of cases) {
    test(`"${pointer}" resolves as the RFC specifies`, () => {
      assert.deepEqual(resolvePointer(doc, pointer), { found: true, value: expected });
    });
  }

  test("~01 decodes to ~1, not /", () => {
    assert.deepEqual(resolvePointer({ "~1": "x" }, "/~01"), { found: true, value: "x" });
  });

  test("non-canonical array indices, '-', out-of-range and missing keys are not found", () => {
    for (const p of ["/foo/01", "/foo/-", "/foo/2", "/nope", "/foo/0/x", "foo"]) {
      assert.deepEqual(resolvePointer(doc, p), { found: false }, p);
    }
  });

  test("inherited members such as __proto__ and constructor are never followed", () => {
    assert.deepEqual(resolvePointer({}, "/__proto__"), { found: false });
    assert.deepEqual(resolvePointer({}, "/constructor/name"), { found: false });
  });
});

describe("sanitising", () => {
  test("labels are forced into the label alphabet and start with a letter or digit", () => {
    assert.equal(sanitiseLabel("repo:octo-org/hello-world"), "repo:octo-org/hello-world");
    assert.equal(sanitiseLabel("#general"), "general");
    assert.equal(sanitiseLabel("bad<script>tag"), "bad-script-tag");
    assert.equal(sanitiseLabel("line\nbreak\ttab"), "line break tab");
    assert.equal(sanitiseLabel("Ünïcödé ok"), "Ünïcödé ok");
    assert.equal(sanitiseLabel("!!!"), undefined);
  });

  test("every sanitised label matches the memory service's LABEL_RE and is at most 128 code points", () => {
    const inputs = ["x".repeat(500), "😀emoji😀", "a\u0000b", "  spaced  ", "über/ß", `${"🙂".repeat(200)}z`];
    for (const input of inputs) {
      const label = sanitiseLabel(input);
      if (label === undefined) continue;
      assert.ok(LABEL_RE.test(label), `${JSON.stringify(label)} matches LABEL_RE`);
      assert.ok(Array.from(label).length <= 128);
    }
  });

  test("label lists are de-duplicated and capped at 32", () => {
    const many = Array.from({ length: 50 }, (_, i) => `t${i}`);
    assert.equal(sanitiseLabels([...many, "t0"]).length, 32);
    assert.deepEqual(sanitiseLabels(["a", "a", "#a", "b"]), ["a", "b"]);
  });

  test("content is capped in code points without splitting a surrogate pair, and control characters go", () => {
    const capped = capContent("😀".repeat(100), 10);
    assert.equal(Array.from(capped).length, 10);
    assert.ok(capped.endsWith("…"));
    assert.ok(!/[\uD800-\uDBFF]…$/.test(capped));
    assert.equal(capContent("a\u0000b\r\nc\u001b", 100), "ab\nc");
    assert.equal(capContent("😀".repeat(10), 10), "😀".repeat(10), "exactly max code points is kept whole");
    assert.equal(capContent("a".repeat(25), 10), `${"a".repeat(9)}…`);
  });
});

describe("GitHub mapping", () => {
  const repository = { full_name: "octo-org/hello-world" };
  const sender = { login: "octocat" };

  test("an opened issue becomes one memory with title, body, repo/event/label tags and user/repo entities", () => {
    const payload = {
      action: "opened",
      issue: {
        number: 42,
        title: "Crash on start",
        body: "Steps to reproduce...",
        html_url: "https://github.com/octo-org/hello-world/issues/42",
        state: "open",
        user: { login: "reporter" },
        labels: [{ name: "bug" }, { name: "p1" }],
      },
      repository,
      sender,
    };
    const r = mapGithub("issues", payload, { ...ctx("github"), deliveryId: "d-1" });
    assert.equal(r.ignored, undefined);
    assert.equal(r.drafts.length, 1);
    const d = r.drafts[0];
    assert.ok(d);
    assert.equal(d.namespace, "team/inbox");
    assert.equal(d.type, "event");
    assert.equal(
      d.content,
      "octocat opened issue #42 in octo-org/hello-world: Crash on start\n\nSteps to reproduce...",
    );
    assert.deepEqual(d.tags, [
      "github",
      "repo:octo-org/hello-world",
      "event:issues",
      "action:opened",
      "label:bug",
      "label:p1",
    ]);
    assert.deepEqual(d.entities, ["user:octocat", "repo:octo-org/hello-world", "user:reporter"]);
    assert.equal(d.metadata.number, 42);
    assert.equal(d.metadata.delivery_id, "d-1");
    assert.equal(d.metadata.source, "github");
  });

  test("a merged pull request says 'merged' and is tagged state:merged", () => {
    const payload = {
      action: "closed",
      number: 7,
      pull_request: { number: 7, title: "Add feature", merged: true, user: { login: "dev" }, labels: [] },
      repository,
      sender,
    };
    const d = mapGithub("pull_request", payload, ctx("github")).drafts[0];
    assert.ok(d);
    assert.equal(d.content, "octocat merged pull request #7 in octo-org/hello-world: Add feature");
    assert.ok(d.tags.includes("state:merged"));
  });

  test("an issue comment on a pull request is described as a pull request comment", () => {
    const payload = {
      action: "created",
      issue: { number: 7, title: "Add feature", pull_request: { url: "x" } },
      comment: { body: "LGTM", user: { login: "reviewer" }, html_url: "u" },
      repository,
      sender: { login: "reviewer" },
    };
    const d = mapGithub("issue_comment", payload, ctx("github")).drafts[0];
    assert.ok(d);
    assert.equal(
      d.content,
      "reviewer commented on pull request #7 in octo-org/hello-world (Add feature):\n\nLGTM",
    );
    assert.deepEqual(d.entities, ["user:reviewer", "repo:octo-org/hello-world"]);
  });

  test("a push lists commits by short sha, first line and author, and names commit authors as entities", () => {
    const payload = {
      ref: "refs/heads/main",
      before: "a",
      after: "b",
      commits: [
        { id: "0123456789abcdef", message: "Fix bug\n\nlong body", author: { username: "alice" } },
        { id: "fedcba9876543210", message: "Add test", author: { username: "bob" } },
      ],
      pusher: { name: "alice" },
      repository,
      sender: { login: "alice" },
    };
    const d = mapGithub("push", payload, ctx("github")).drafts[0];
    assert.ok(d);
    assert.equal(
      d.content,
      "alice pushed 2 commits to main in octo-org/hello-world:\n- 0123456 Fix bug (alice)\n- fedcba9 Add test (bob)",
    );
    assert.ok(d.tags.includes("branch:main"));
    assert.deepEqual(d.entities, ["user:alice", "repo:octo-org/hello-world", "user:bob"]);
  });

  test("ping and unsupported events return no drafts with a reason; a branch deletion is remembered", () => {
    assert.deepEqual(mapGithub("ping", { zen: "x" }, ctx("github")), {
      drafts: [],
      ignored: { reason: "PING" },
    });
    assert.equal(mapGithub("star", { repository }, ctx("github")).ignored?.reason, "EVENT_UNSUPPORTED");
    assert.equal(
      mapGithub("no_such_event", { repository }, ctx("github")).ignored?.reason,
      "EVENT_UNSUPPORTED",
    );
    assert.equal(
      mapGithub(
        "push",
        { ref: "refs/heads/old", deleted: true, commits: [], repository, sender },
        ctx("github"),
      ).drafts[0]?.content,
      "octocat deleted branch old in octo-org/hello-world",
    );
    assert.equal(mapGithub(undefined, {}, ctx("github")).ignored?.reason, "EVENT_UNSUPPORTED");
  });

  test("an event type allowlist drops events not listed", () => {
    const r = mapGithub(
      "push",
      { commits: [{ id: "1", message: "m" }] },
      ctx("github", { eventTypes: ["issues"] }),
    );
    assert.deepEqual(r, { drafts: [], ignored: { reason: "EVENT_TYPE_NOT_ALLOWED", detail: "push" } });
  });
});

describe("Slack mapping", () => {
  const message = (event: Record<string, unknown>) => ({
    type: "event_callback",
    team_id: "T1",
    event_id: "Ev123",
    event_time: 1767225600,
    event: { type: "message", channel: "C1", user: "U1", ts: "1.2", ...event },
  });

  test("a message becomes a memory with its text as content and user/channel/mentions as entities", () => {
    const r = mapSlack(message({ text: "Deploy is done <@U024BE7LH> <@W0123ABC|bob>" }), ctx("slack"));
    const d = r.drafts[0];
    assert.ok(d);
    assert.equal(d.type, "message");
    assert.equal(d.content, "Deploy is done <@U024BE7LH> <@W0123ABC|bob>");
    assert.deepEqual(d.entities, ["user:U1", "channel:C1", "user:U024BE7LH", "user:W0123ABC"]);
    assert.deepEqual(d.tags, ["slack", "event:message", "channel:C1", "team:T1"]);
    assert.equal(d.metadata.event_id, "Ev123");
  });

  test("bot posts are skipped by default (no loops) and kept when includeBotMessages is set", () => {
    const bot = message({ text: "beep", bot_id: "B1", subtype: "bot_message" });
    assert.equal(mapSlack(bot, ctx("slack")).ignored?.reason, "BOT_MESSAGE");
    assert.equal(mapSlack(bot, { ...ctx("slack"), includeBotMessages: true }).drafts.length, 1);
  });

  test("edits, deletions, empty messages and non-message events are ignored with a reason", () => {
    assert.equal(
      mapSlack(message({ subtype: "message_changed" }), ctx("slack")).ignored?.reason,
      "ACTION_IGNORED",
    );
    assert.equal(mapSlack(message({ text: "" }), ctx("slack")).ignored?.reason, "NO_CONTENT");
    assert.equal(
      mapSlack({ type: "event_callback", event: { type: "channel_created" } }, ctx("slack")).ignored?.reason,
      "EVENT_UNSUPPORTED",
    );
  });

  test("the URL handshake is recognised and its challenge is available to echo", () => {
    const p = { type: "url_verification", challenge: "3eZbrw1aB" };
    assert.equal(mapSlack(p, ctx("slack")).ignored?.reason, "URL_VERIFICATION");
    assert.equal(slackChallenge(p), "3eZbrw1aB");
    assert.equal(slackChallenge(message({ text: "x" })), undefined);
  });
});

describe("Stripe mapping", () => {
  const event = (type: string, object: Record<string, unknown>) => ({
    id: "evt_1",
    object: "event",
    type,
    livemode: false,
    created: 1767225600,
    data: { object },
  });

  test("a payment event names the amount in major units, currency and customer", () => {
    const r = mapStripe(
      event("payment_intent.succeeded", {
        id: "pi_1",
        object: "payment_intent",
        amount: 2000,
        currency: "usd",
        customer: "cus_9",
      }),
      ctx("stripe"),
    );
    const d = r.drafts[0];
    assert.ok(d);
    assert.equal(
      d.content,
      "Stripe payment intent succeeded: 20.00 USD, customer cus_9 (payment_intent pi_1)",
    );
    assert.deepEqual(d.tags, [
      "stripe",
      "event:payment_intent.succeeded",
      "object:payment_intent",
      "mode:test",
    ]);
    assert.deepEqual(d.entities, ["customer:cus_9", "payment_intent:pi_1"]);
    assert.equal(d.metadata.amount, 2000);
    assert.equal(d.metadata.event_id, "evt_1");
  });

  test("zero- and three-decimal currencies are formatted by their minor unit", () => {
    assert.equal(formatStripeAmount(2000, "jpy"), "2000 JPY");
    assert.equal(formatStripeAmount(12345, "kwd"), "12.345 KWD");
    assert.equal(formatStripeAmount(5, "eur"), "0.05 EUR");
  });

  test("a paid invoice uses amount_paid; an expanded customer object yields its id", () => {
    const d = mapStripe(
      event("invoice.paid", {
        id: "in_1",
        object: "invoice",
        amount_paid: 999,
        currency: "gbp",
        customer: { id: "cus_2" },
      }),
      ctx("stripe"),
    ).drafts[0];
    assert.ok(d);
    assert.equal(d.content, "Stripe invoice paid: 9.99 GBP, customer cus_2 (invoice in_1)");
  });

  test("wildcard allowlists match by prefix; other types and non-events are ignored", () => {
    assert.equal(eventTypeAllowed("invoice.paid", ["invoice.*"]), true);
    assert.equal(eventTypeAllowed("invoices.paid", ["invoice.*"]), false);
    const only = ctx("stripe", { eventTypes: ["invoice.*"] });
    assert.equal(
      mapStripe(event("charge.refunded", { id: "ch_1" }), only).ignored?.reason,
      "EVENT_TYPE_NOT_ALLOWED",
    );
    assert.equal(mapStripe({ object: "charge" }, only).ignored?.reason, "NOT_AN_EVENT");
  });
});

describe("generic mapping", () => {
  const payload = {
    kind: "alert.fired",
    alert: { summary: "Disk 91% on db-1", severity: "high", labels: ["infra", "disk"], host: "db-1" },
    owner: { email: "ops@example.com" },
    count: 3,
  };

  test("content, tags, entities and metadata come from JSON pointers; namespace and type from config", () => {
    const r = mapGeneric(
      payload,
      ctx("generic_hmac", {
        namespace: "ops/alerts",
        type: "alert",
        contentPointer: "/alert/summary",
        tagPointers: ["/alert/labels", "/alert/severity"],
        entityPointers: ["/alert/host", "/owner/email"],
        staticTags: ["monitoring"],
        metadataPointers: { count: "/count", severity: "/alert/severity", nested: "/alert" },
      }),
    );
    const d = r.drafts[0];
    assert.ok(d);
    assert.equal(d.namespace, "ops/alerts");
    assert.equal(d.type, "alert");
    assert.equal(d.content, "Disk 91% on db-1");
    assert.deepEqual(d.tags, ["monitoring", "infra", "disk", "high"]);
    assert.deepEqual(d.entities, ["db-1", "ops@example.com"]);
    assert.equal(d.metadata.count, 3);
    assert.equal(d.metadata.severity, "high");
    assert.equal("nested" in d.metadata, false, "objects are not copied into metadata");
  });

  test("an object at the content pointer is stored as JSON and capped to maxContentChars", () => {
    const d = mapGeneric(payload, ctx("standard", { contentPointer: "/alert", maxContentChars: 64 }))
      .drafts[0];
    assert.ok(d);
    assert.ok(d.content.startsWith('{"summary":"Disk 91% on db-1"'));
    assert.equal(Array.from(d.content).length, 64);
  });

  test("a missing content field or a filtered event type is ignored, not an error", () => {
    assert.equal(
      mapGeneric(payload, ctx("bearer", { contentPointer: "/nope" })).ignored?.reason,
      "NO_CONTENT",
    );
    const filtered = ctx("bearer", {
      contentPointer: "/alert/summary",
      eventTypePointer: "/kind",
      eventTypes: ["deploy.*"],
    });
    assert.equal(mapGeneric(payload, filtered).ignored?.reason, "EVENT_TYPE_NOT_ALLOWED");
    const allowed = ctx("bearer", {
      contentPointer: "/alert/summary",
      eventTypePointer: "/kind",
      eventTypes: ["alert.*"],
    });
    assert.equal(mapGeneric(payload, allowed).drafts.length, 1);
  });
});

describe("mapDelivery", () => {
  test("routes github by the X-GitHub-Event header and applies extra pointers on top of the built-in", () => {
    const config = connectorConfigSchema.parse({
      source: "github",
      mapping: { namespace: "code", tagPointers: ["/repository/language"], staticTags: ["team-a"] },
    });
    const r = mapDelivery({
      config,
      headers: { "x-github-event": "issues" },
      payload: {
        action: "opened",
        issue: { number: 1, title: "T" },
        repository: { full_name: "o/r", language: "TypeScript" },
        sender: { login: "u" },
      },
      deliveryId: "gh-1",
    });
    assert.deepEqual(r.drafts[0]?.tags, [
      "github",
      "repo:o/r",
      "event:issues",
      "action:opened",
      "team-a",
      "TypeScript",
    ]);
  });

  test("a non-JSON body maps to nothing with a reason", () => {
    const config = connectorConfigSchema.parse({ source: "stripe", mapping: { namespace: "billing" } });
    assert.equal(mapDelivery({ config, headers: {}, payload: undefined }).ignored?.reason, "NO_CONTENT");
  });

  test("a github connector configured with kind generic uses the pointers instead of the built-in", () => {
    const config = connectorConfigSchema.parse({
      source: "github",
      mapping: { namespace: "code", kind: "generic", contentPointer: "/head_commit/message" },
    });
    const r = mapDelivery({
      config,
      headers: { "x-github-event": "push" },
      payload: { head_commit: { message: "hi" } },
    });
    assert.equal(r.drafts[0]?.content, "hi");
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fieldGroups, fieldLeaves, splitBack, withValues } from "./fields.ts";

const fields = {
  tags: ["ops", "deploy"],
  entities: ["carol"],
  metadata: { note: "two\nlines", list: ["a", 7, "b"], count: 3, due: "2026-07-01", none: null },
};

describe("a memory's fields as texts for the guardrails", () => {
  test("every string and metadata number becomes a `name: value` line with its request path; booleans and null are left out", () => {
    const leaves = fieldLeaves(fields, "body.memories.2");
    assert.deepEqual(
      leaves.map((l) => [l.path, l.prefix + l.value]),
      [
        ["body.memories.2.tags.0", "tag: ops"],
        ["body.memories.2.tags.1", "tag: deploy"],
        ["body.memories.2.entities.0", "entity: carol"],
        ["body.memories.2.metadata.note", "note: two\nlines"],
        ["body.memories.2.metadata.list.0", "list: a"],
        ["body.memories.2.metadata.list.1", "list: 7"],
        ["body.memories.2.metadata.list.2", "list: b"],
        ["body.memories.2.metadata.count", "count: 3"],
        ["body.memories.2.metadata.due", "due: 2026-07-01"],
      ],
    );
  });

  test("lines are one text, a value with a line break its own; locate names the field at an offset", () => {
    const groups = fieldGroups(fieldLeaves(fields, "body"));
    assert.deepEqual(
      groups.map((g) => g.text),
      [
        "tag: ops\ntag: deploy\nentity: carol\nlist: a\nlist: 7\nlist: b\ncount: 3\ndue: 2026-07-01",
        "note: two\nlines",
      ],
    );
    const [joined] = groups;
    assert.ok(joined);
    assert.equal(joined.locate(joined.text.indexOf("carol")), "body.entities.0");
    assert.equal(joined.locate(joined.text.indexOf("list: b") + 6), "body.metadata.list.2");
    assert.equal(joined.locate(null), "body.tags.0");
  });

  test("a masked text splits back line for line, or not at all; values go back in place, types kept", () => {
    const leaves = fieldLeaves(fields);
    const [joined, alone] = fieldGroups(leaves);
    assert.ok(joined && alone);
    const masked = joined.text.replace("carol", "[PERSON]");
    const values = splitBack(joined, masked);
    assert.deepEqual(values, ["ops", "deploy", "[PERSON]", "a", "7", "b", "3", "2026-07-01"]);
    assert.equal(splitBack(joined, "tag: ops [REDACTED:x] deploy"), null, "a mask across lines");
    assert.deepEqual(splitBack(alone, "[REDACTED:password_assignment]"), ["[REDACTED:password_assignment]"]);
    const back = withValues(fields, [...joined.leaves, ...alone.leaves], [...(values ?? []), "two\nlines"]);
    assert.deepEqual(
      back,
      { ...fields, entities: ["[PERSON]"] },
      "numbers whose text is unchanged stay numbers",
    );
    assert.deepEqual(fields.entities, ["carol"], "the input is not mutated");
  });

  test("a metadata number is inspected as its text: a card number typed as a number is found, and a mask replaces it with text", () => {
    const card = { tags: [], entities: [], metadata: { card: 4111111111111111, seats: 3 } };
    const leaves = fieldLeaves(card);
    const [g] = fieldGroups(leaves);
    assert.equal(g?.text, "card: 4111111111111111\nseats: 3");
    const back = withValues(card, leaves, ["[REDACTED:credit_card]", "3"]);
    assert.deepEqual(back.metadata, { card: "[REDACTED:credit_card]", seats: 3 });
  });
});

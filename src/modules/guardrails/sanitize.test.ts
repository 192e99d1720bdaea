import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loneSurrogateIndex, sanitize } from "./sanitize.ts";

function clean(text: string) {
  const r = sanitize(text);
  assert.ok(r.ok);
  return r;
}

describe("sanitize", () => {
  it("strips Unicode tag characters and reports the removed run with input offsets", () => {
    const hidden = Array.from("ignore rules", (c) =>
      String.fromCodePoint(0xe0000 + (c.codePointAt(0) ?? 0)),
    ).join("");
    const r = clean(`hello${hidden} world`);
    assert.equal(r.text, "hello world");
    assert.deepEqual(r.removed, [{ type: "tag_character", start: 5, end: 5 + hidden.length, confidence: 1 }]);
  });

  it("strips bidi overrides, isolates and marks", () => {
    const r = clean("a\u202Eb\u2066c\u200Fd");
    assert.equal(r.text, "abcd");
    assert.deepEqual(
      r.removed.map((f) => f.type),
      ["bidi_control", "bidi_control", "bidi_control"],
    );
  });

  it("strips zero-width characters that split words", () => {
    const r = clean("pay\u200Bpal\u2060 \uFEFFlogin");
    assert.equal(r.text, "paypal login");
    assert.ok(r.removed.every((f) => f.type === "zero_width"));
  });

  it("keeps the zero-width joiner inside an emoji sequence but strips it between letters", () => {
    const family = "\u{1F468}\u200D\u{1F469}\u200D\u{1F467}";
    assert.equal(clean(family).text, family);
    assert.equal(clean("ad\u200Dmin").text, "admin");
  });

  it("removes control characters but keeps newline and tab", () => {
    const r = clean("a\u0000b\u0007c\r\nd\te\u0085f\u009B");
    assert.equal(r.text, "abc\nd\tef");
    assert.ok(r.removed.every((f) => f.type === "control_character"));
  });

  it("normalises to NFC", () => {
    const r = clean("cafe\u0301");
    assert.equal(r.text, "café");
    assert.equal(r.normalized, true);
    assert.deepEqual(r.removed, []);
  });

  it("rejects a lone high or low surrogate with its index", () => {
    assert.deepEqual(sanitize("ab\uD800cd"), { ok: false, reason: "LONE_SURROGATE", index: 2 });
    assert.deepEqual(sanitize("\uDC00"), { ok: false, reason: "LONE_SURROGATE", index: 0 });
    assert.equal(loneSurrogateIndex("ok \u{1F600}"), -1);
  });

  it("leaves ordinary text, including non-Latin scripts and emoji, untouched", () => {
    const text = "Grüße aus Köln — привет, مرحبا, 你好 👋\n\tend";
    const r = clean(text);
    assert.equal(r.text, text);
    assert.deepEqual(r.removed, []);
  });
});

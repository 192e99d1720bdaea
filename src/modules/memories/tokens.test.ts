import assert from "node:assert/strict";
import { test } from "node:test";
import { foldText, indexTokens } from "./tokens.ts";

test("index tokens fold case and diacritics and stem, so inflections share one token", () => {
  assert.deepEqual(indexTokens("Connected connections CONNECTING"), ["connect", "connect", "connect"]);
  assert.deepEqual(indexTokens("Café naïve"), ["cafe", "naiv"]);
  assert.equal(foldText("Ｆｕｌｌ"), "full");
});

test("numbers and non-Latin words are kept whole", () => {
  assert.deepEqual(indexTokens("port 7411 東京"), ["port", "7411", "東京"]);
});

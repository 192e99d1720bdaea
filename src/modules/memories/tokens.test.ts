import assert from "node:assert/strict";
import { test } from "node:test";
import { dateTokens, dateWords, foldText, indexTokens, speakerTerm, speakerTokens } from "./tokens.ts";

test("index tokens fold case and diacritics and stem, so inflections share one token", () => {
  assert.deepEqual(indexTokens("Connected connections CONNECTING"), ["connect", "connect", "connect"]);
  assert.deepEqual(indexTokens("Café naïve"), ["cafe", "naiv"]);
  assert.equal(foldText("Ｆｕｌｌ"), "full");
});

test("numbers and non-Latin words are kept whole", () => {
  assert.deepEqual(indexTokens("port 7411 東京"), ["port", "7411", "東京"]);
});

test("a leading `Name:` names the speaker; a clause that ends in a colon names no one", () => {
  assert.deepEqual(speakerTokens("Caroline: I went to a support group"), ["carolin"]);
  assert.deepEqual(speakerTokens("Mary Ann Lee: hello"), ["mari", "ann", "lee"]);
  assert.deepEqual(speakerTokens("user: what is the port?"), ["user"]);
  assert.deepEqual(speakerTokens("the plan for today: ship it"), []);
  assert.deepEqual(speakerTokens("see https://example.com"), []);
  assert.deepEqual(speakerTokens("no colon here"), []);
  assert.equal(speakerTerm("carolin"), "speaker:carolin", "never a word's token (a word holds no colon)");
});

test("dates in any of the common forms give the same day, month name and year", () => {
  for (const text of ["1:56 pm on 8 May, 2023", "2023-05-08T13:56:00Z", "May 8th, 2023", "8 of May 2023"]) {
    assert.deepEqual(dateWords(text), ["8", "may", "2023"], text);
    assert.deepEqual(dateTokens(text), indexTokens("8 may 2023"), text);
  }
  assert.deepEqual(dateWords("2023-13-40 and 12 things in 2020"), [], "no month, no date");
  assert.deepEqual(dateWords("from 2 Jan 2024 to 2024-02-03"), ["2", "january", "2024", "3", "february"]);
});

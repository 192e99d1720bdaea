import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { detectPii, ibanValid, luhnValid, ssnValid } from "./pii.ts";

/** The matched substrings per type, for readable assertions (the detector itself never returns them). */
function spans(text: string, type?: string): string[] {
  return detectPii(text)
    .filter((f) => type === undefined || f.type === type)
    .map((f) => text.slice(f.start, f.end));
}

describe("validators", () => {
  it("Luhn accepts valid card numbers and rejects a changed digit", () => {
    assert.equal(luhnValid("4111111111111111"), true);
    assert.equal(luhnValid("378282246310005"), true);
    assert.equal(luhnValid("4111111111111112"), false);
    assert.equal(luhnValid("41111111a1111111"), false);
  });

  it("IBAN needs a known country, its length and mod-97 = 1", () => {
    assert.equal(ibanValid("GB82 WEST 1234 5698 7654 32"), true);
    assert.equal(ibanValid("DE89370400440532013000"), true);
    assert.equal(ibanValid("GB82WEST12345698765433"), false, "checksum");
    assert.equal(ibanValid("GB82WEST123456987654"), false, "length");
    assert.equal(ibanValid("ZZ82WEST12345698765432"), false, "country");
  });

  it("SSN rejects area 000, 666 and 9xx, group 00, serial 0000 and advertised numbers", () => {
    assert.equal(ssnValid("536", "22", "1234"), true);
    for (const [a, g, s] of [
      ["000", "12", "3456"],
      ["666", "12", "3456"],
      ["912", "12", "3456"],
      ["123", "00", "4567"],
      ["123", "45", "0000"],
      ["078", "05", "1120"],
    ] as const) {
      assert.equal(ssnValid(a, g, s), false, `${a}-${g}-${s}`);
    }
  });
});

describe("detectPii", () => {
  it("finds email addresses, including international domains", () => {
    assert.deepEqual(spans("write to ana.b+tag@example.co.uk or jörg@bücher.de.", "EMAIL"), [
      "ana.b+tag@example.co.uk",
      "jörg@bücher.de",
    ]);
  });

  it("finds Luhn-valid card numbers, contiguous or grouped, and ignores invalid ones", () => {
    assert.deepEqual(spans("card 4111 1111 1111 1111 and 378282246310005", "CREDIT_CARD"), [
      "4111 1111 1111 1111",
      "378282246310005",
    ]);
    assert.deepEqual(spans("card 4111 1111 1111 1112", "CREDIT_CARD"), []);
    assert.deepEqual(spans("order 0000 0000 0000 0000", "CREDIT_CARD"), []);
  });

  it("finds IBANs in print or compact form, any case, and skips failed checksums", () => {
    assert.deepEqual(spans("pay to GB82 WEST 1234 5698 7654 32 today", "IBAN"), [
      "GB82 WEST 1234 5698 7654 32",
    ]);
    assert.deepEqual(spans("iban de89370400440532013000.", "IBAN"), ["de89370400440532013000"]);
    assert.deepEqual(spans("iban GB82WEST12345698765433", "IBAN"), []);
  });

  it("finds dashed SSNs and unformatted ones only with SSN context", () => {
    assert.deepEqual(spans("SSN: 536-22-1234", "SSN"), ["536-22-1234"]);
    assert.deepEqual(spans("my social security number is 536221234", "SSN"), ["536221234"]);
    assert.deepEqual(spans("invoice 536221234", "SSN"), []);
    assert.deepEqual(spans("SSN: 666-22-1234", "SSN"), []);
    assert.deepEqual(spans("SSN: 900-22-1234", "SSN"), []);
  });

  it("finds IPv4 and IPv6 addresses validated by ipaddr.js", () => {
    assert.deepEqual(spans("from 203.0.113.7 and 2001:db8::1 and ::ffff:192.0.2.1", "IP_ADDRESS"), [
      "203.0.113.7",
      "2001:db8::1",
      "::ffff:192.0.2.1",
    ]);
    assert.deepEqual(spans("not 999.1.1.1, not 1.2.3.4.5, time 12:30:45", "IP_ADDRESS"), []);
  });

  it("finds formatted and international phone numbers, and bare digits only with phone context", () => {
    assert.deepEqual(spans("call (555) 123-4567 or +44 20 7946 0958 ext 12", "PHONE"), [
      "(555) 123-4567",
      "+44 20 7946 0958 ext 12",
    ]);
    assert.deepEqual(spans("Mobile: 0612 34 56 78", "PHONE"), ["0612 34 56 78"]);
    assert.deepEqual(spans("Reference ID 450920522 on 2022-02-07", "PHONE"), []);
    assert.deepEqual(spans("driver's license number is 6940579", "PHONE"), []);
    assert.deepEqual(spans("the office is at 17031 2202 Rissik St", "PHONE"), []);
  });

  it("finds person names introduced by a title, a cue or a sign-off", () => {
    assert.deepEqual(spans("Please ask Dr. Amara Okafor tomorrow.", "PERSON"), ["Amara Okafor"]);
    assert.deepEqual(spans("Hello, my name is Lena Andersson.", "PERSON"), ["Lena Andersson"]);
    assert.deepEqual(spans("Best regards,\nTomás Ruiz", "PERSON"), ["Tomás Ruiz"]);
    assert.deepEqual(spans("The Quarterly Report is due.", "PERSON"), []);
  });

  it("finds names without a cue from part of speech, the lexicon and the words around them, in any script of Latin letters", () => {
    assert.deepEqual(spans("Zdenka Kovářová will present the results on Monday.", "PERSON"), [
      "Zdenka Kovářová",
    ]);
    assert.deepEqual(spans("The contract was signed by Oluwaseun Adeyemi and Tomasz Wiśniewski.", "PERSON"), [
      "Oluwaseun Adeyemi",
      "Tomasz Wiśniewski",
    ]);
    assert.deepEqual(spans("Ingrid R. Solberg lives at 12 Harbour Road, Bergen.", "PERSON"), [
      "Ingrid R. Solberg",
    ]);
    assert.deepEqual(spans("Priya: Did you get the file?\nMarek: Yes, thanks!", "PERSON"), [
      "Priya",
      "Marek",
    ]);
    assert.deepEqual(spans("Our founders were Okafor, Lindqvist and Haddad.", "PERSON"), [
      "Okafor",
      "Lindqvist",
      "Haddad",
    ]);
  });

  it("does not take organisations, streets, places or capitalised common words for names", () => {
    for (const text of [
      "Northwind Traders is a design agency based in Lisbon.",
      "Please ship it to 44 Kingfisher Lane, Apt. 3, Portland.",
      "I moved to the corner of Elm Street and Maple Avenue.",
      "She flew from Copenhagen to Buenos Aires on Sunday.",
      "Personal Info:\nPhone: 555-0100\nWebsite: example.org",
      "Action & Adventure, Comedy, Kids & Family",
      "Bluewave Analytics Inc. hired three engineers.",
    ]) {
      assert.deepEqual(spans(text, "PERSON"), [], text);
    }
  });

  it("keeps the cue rules alone when the name model is off", () => {
    const text = "Zdenka Kovářová will present. Dr. Amara Okafor agrees.";
    assert.deepEqual(spans(text, "PERSON"), ["Zdenka Kovářová", "Amara Okafor"]);
    assert.deepEqual(
      detectPii(text, { personModel: false }).map((f) => text.slice(f.start, f.end)),
      ["Amara Okafor"],
    );
  });

  it("resolves overlaps to the most specific type (a card is not also a phone)", () => {
    const found = detectPii("call me about card number 4111111111111111");
    assert.deepEqual(
      found.map((f) => f.type),
      ["CREDIT_CARD"],
    );
  });

  it("returns offsets, type and confidence only — never the matched value", () => {
    const text = "ssn 536-22-1234, mail ana@example.org";
    const found = detectPii(text);
    assert.equal(found.length, 2);
    for (const f of found) assert.deepEqual(Object.keys(f).sort(), ["confidence", "end", "start", "type"]);
    assert.ok(!JSON.stringify(found).includes("536-22-1234"));
  });

  it("honours the type filter and the confidence floor", () => {
    assert.deepEqual(
      detectPii("ana@example.org 203.0.113.7", { types: ["IP_ADDRESS"] }).map((f) => f.type),
      ["IP_ADDRESS"],
    );
    assert.deepEqual(detectPii("ana@example.org", { minConfidence: 0.99 }), []);
  });
});

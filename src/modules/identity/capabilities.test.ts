import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  capabilityCovers,
  hasCapability,
  isCapability,
  isCapabilityGrant,
  scopeSatisfies,
} from "./capabilities.ts";

const COVERS: [granted: string, required: string][] = [
  ["github.read", "github.read"],
  ["github.read", "github.read.issues"],
  ["github.read", "github.read.issues.comments"],
  ["github", "github.write"],
  ["github.*", "github.read"],
  ["github.*", "github.read.issues"],
  ["egress.github.read", "egress.github.read.issues"],
  ["memories.recall", "memories.recall"],
  ["memories", "memories.recall"],
  ["a_b-c.d", "a_b-c.d.e"],
];

const DOES_NOT_COVER: [granted: string, required: string][] = [
  ["github.read", "github"],
  ["github.read", "github.write"],
  ["github.read", "github.readme"],
  ["github.read", "github.readme.issues"],
  ["github.read.issues", "github.read"],
  ["github.*", "github"],
  ["github.*", "githubx.read"],
  ["github.*", "gitlab.read"],
  ["github.read", "egress.github.read"],
  ["memories.recall", "memories.recall_all"],
  ["memories.recall", "memories"],
  ["github", "githubx"],
  ["github.read", "GitHub.read"],
  ["*", "github.read"],
  ["*.read", "github.read"],
  ["github.*.issues", "github.read.issues"],
  ["github.re*", "github.read"],
  ["github.read", "github.*"],
  ["github.read", "github.read."],
  ["github..read", "github..read"],
  ["", ""],
  ["github.read", ""],
  ["", "github.read"],
  [".github", ".github.read"],
];

describe("capabilityCovers", () => {
  for (const [granted, required] of COVERS) {
    test(`granted "${granted}" covers "${required}"`, () => {
      assert.equal(capabilityCovers(granted, required), true);
    });
  }
  for (const [granted, required] of DOES_NOT_COVER) {
    test(`granted "${granted}" does not cover "${required}" (segment boundaries only)`, () => {
      assert.equal(capabilityCovers(granted, required), false);
    });
  }

  test("over-long and over-deep capabilities cover nothing", () => {
    const long = `a.${"b".repeat(300)}`;
    assert.equal(capabilityCovers("a", long), false);
    const deep = "a.b.c.d.e.f.g.h.i";
    assert.equal(capabilityCovers("a", deep), false);
  });
});

describe("hasCapability", () => {
  test("is true when any grant covers the requirement and false for an empty list", () => {
    assert.equal(hasCapability(["memories.recall", "github.read"], "github.read.issues"), true);
    assert.equal(hasCapability(["memories.recall", "github.read"], "github.readme"), false);
    assert.equal(hasCapability([], "github.read"), false);
  });
});

describe("capability grammar", () => {
  test("wildcards are valid only in grants and only as a whole trailing segment below a prefix", () => {
    assert.equal(isCapabilityGrant("github.*"), true);
    assert.equal(isCapabilityGrant("*"), false);
    assert.equal(isCapabilityGrant("github.*.read"), false);
    assert.equal(isCapability("github.*"), false);
    assert.equal(isCapability("github.read"), true);
    assert.equal(isCapability("GitHub.read"), false);
  });
});

describe("scopeSatisfies", () => {
  test("admin covers write and read, write covers read, read covers only read; unknown scopes grant nothing", () => {
    assert.equal(scopeSatisfies(["admin"], "write"), true);
    assert.equal(scopeSatisfies(["admin"], "read"), true);
    assert.equal(scopeSatisfies(["write"], "read"), true);
    assert.equal(scopeSatisfies(["write"], "admin"), false);
    assert.equal(scopeSatisfies(["read"], "write"), false);
    assert.equal(scopeSatisfies(["superuser", "READ"], "read"), false);
    assert.equal(scopeSatisfies([], "read"), false);
  });
});

import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { MODULES } from "../../app.ts";
import { actionsForRoles } from "../../platform/auth/actor.ts";
import { installVocabulary } from "../../platform/module.ts";
import {
  actionsForKey,
  checkGrant,
  type GrantingKey,
  grantableScopes,
  grantCovers,
  type KeyGrant,
} from "./keys.policy.ts";

const grant = (over: Partial<KeyGrant> = {}): KeyGrant => ({
  agent: "bot",
  scopes: ["read"],
  capabilities: null,
  namespaces: null,
  rateLimitPerMinute: null,
  expiresAt: null,
  ...over,
});
const key = (over: Partial<KeyGrant> = {}): { type: "agent" } & GrantingKey => {
  const g = grant(over);
  return { type: "agent", ...g, actions: actionsForKey(g.scopes, g.capabilities) };
};

describe("key grants (pure)", () => {
  before(() => installVocabulary(MODULES));

  test("a held capability covers a requested one on segment boundaries, wildcards included", () => {
    assert.equal(grantCovers("memories", "memories.recall"), true);
    assert.equal(grantCovers("memories.recall", "memories"), false);
    assert.equal(grantCovers("memories", "memories_x"), false);
    assert.equal(grantCovers("egress.github.*", "egress.github.*"), true);
    assert.equal(grantCovers("egress.github", "egress.github.*"), true);
    assert.equal(grantCovers("egress.*", "egress.github.*"), true);
    assert.equal(grantCovers("egress.github.*", "egress.github"), false, "a.* does not cover a");
    assert.equal(grantCovers("egress.github.read", "egress.github.*"), false);
  });

  test("a person grants only what their roles allow; a DEVELOPER is offered no admin scope", () => {
    const dev = actionsForRoles(["DEVELOPER"]);
    assert.equal(checkGrant({ type: "user", actions: dev }, grant({ scopes: ["write"] })).ok, true);
    assert.equal(checkGrant({ type: "user", actions: dev }, grant({ scopes: ["admin"] })).ok, false);
    assert.deepEqual(grantableScopes(dev), ["read", "write", "memories:read", "memories:write"]);
    assert.ok(grantableScopes(actionsForRoles(["ADMIN"])).includes("admin"));
  });

  test("a key's limits carry over; an omitted limit is no limit and is refused", () => {
    const limited = key({ scopes: ["write"], namespaces: ["team"], rateLimitPerMinute: 60, expiresAt: 1000 });
    const within = { namespaces: ["team.a"], rateLimitPerMinute: 60, expiresAt: 1000 };
    assert.equal(checkGrant(limited, grant(within)).ok, true);
    assert.equal(checkGrant(limited, grant({ ...within, namespaces: null })).ok, false);
    assert.equal(checkGrant(limited, grant({ ...within, rateLimitPerMinute: 61 })).ok, false);
    assert.equal(checkGrant(limited, grant({ ...within, expiresAt: 1001 })).ok, false);
    assert.equal(checkGrant(limited, grant({ ...within, agent: "other" })).ok, false);
    assert.equal(
      checkGrant(key({ scopes: ["admin"] }), grant({ agent: "other", scopes: ["admin"] })).ok,
      true,
    );
  });
});

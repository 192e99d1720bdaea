import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { isoCBOR } from "@simplewebauthn/server/helpers";
import { consoleStore } from "../src/modules/console/console.store.ts";
import {
  type ConsoleSession,
  consoleSession,
  consoleSignIn,
  csrfOf,
  mergeCookies,
} from "./console-helpers.ts";
import { startServer, type TestServer } from "./harness.ts";

/** The console's challenge lifetime (console.passkeys.ts CEREMONY_MS). */
const FIVE_MINUTES = 5 * 60_000;

const b64u = (b: Uint8Array | Buffer) => Buffer.from(b).toString("base64url");
const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest();
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/**
 * A software authenticator (what Chromium's virtual authenticator does, in a few lines): one P-256
 * key, "none" attestation, user presence and verification set, and a signature counter the test
 * chooses (a cloned authenticator replays an old one).
 */
function authenticator(rpId: string, origin: string) {
  const credentialId = randomBytes(16);
  const id = b64u(credentialId);
  const key = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const clientData = (type: string, challenge: string) =>
    Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  return {
    id,
    /** A registration response (navigator.credentials.create) for `challenge`. */
    create(challenge: string, userId: string) {
      const jwk = key.publicKey.export({ format: "jwk" });
      const cose = isoCBOR.encode(
        new Map<number, number | Uint8Array>([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, Buffer.from(jwk.x ?? "", "base64url")],
          [-3, Buffer.from(jwk.y ?? "", "base64url")],
        ]),
      );
      const idLength = Buffer.alloc(2);
      idLength.writeUInt16BE(credentialId.length);
      const authData = Buffer.concat([
        sha256(rpId),
        Buffer.from([0x45]), // UP | UV | AT
        u32(0),
        Buffer.alloc(16), // AAGUID
        idLength,
        credentialId,
        Buffer.from(cose),
      ]);
      const attestationObject = isoCBOR.encode(
        new Map<string, string | Uint8Array | Map<string, string>>([
          ["fmt", "none"],
          ["attStmt", new Map()],
          ["authData", new Uint8Array(authData)],
        ]),
      );
      return {
        id,
        rawId: id,
        type: "public-key",
        response: {
          clientDataJSON: b64u(clientData("webauthn.create", challenge)),
          attestationObject: b64u(attestationObject),
          transports: ["internal"],
        },
        clientExtensionResults: {},
        userHandle: b64u(Buffer.from(userId)),
      };
    },
    /** An assertion (navigator.credentials.get) for `challenge`, carrying signature counter `counter`. */
    get(challenge: string, counter: number) {
      const authData = Buffer.concat([sha256(rpId), Buffer.from([0x05]), u32(counter)]);
      const clientDataJSON = clientData("webauthn.get", challenge);
      const signature = sign("sha256", Buffer.concat([authData, sha256(clientDataJSON)]), key.privateKey);
      return {
        id,
        rawId: id,
        type: "public-key",
        response: {
          clientDataJSON: b64u(clientDataJSON),
          authenticatorData: b64u(authData),
          signature: b64u(signature),
        },
        clientExtensionResults: {},
      };
    },
  };
}

describe("console passkeys over HTTP: single-use challenges, five-minute expiry, forward-only counter", () => {
  let s: TestServer;
  let tenantId: string;
  let rpId: string;

  const post = async (path: string, cookie: string, form: Record<string, string>) => {
    const res = await fetch(s.url + path, {
      method: "POST",
      redirect: "manual",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form),
    });
    const text = await res.text();
    return { status: res.status, text, setCookies: res.headers.getSetCookie() };
  };

  /** Step 1 of registration: the challenge the server remembers for this person. */
  const registrationChallenge = async (who: ConsoleSession) => {
    const res = await post("/console/passkeys/options", who.cookie, { _csrf: who.csrf });
    assert.equal(res.status, 200, res.text);
    return (JSON.parse(res.text) as { challenge: string }).challenge;
  };
  const register = (who: ConsoleSession, credential: unknown) =>
    post("/console/passkeys", who.cookie, { _csrf: who.csrf, credential: JSON.stringify(credential) });

  /** A browser on the sign-in page: its pre-session CSRF cookie names its passkey ceremony. */
  const signInBrowser = async () => {
    const page = await fetch(`${s.url}/console/login`);
    return mergeCookies("", page.headers.getSetCookie());
  };
  const signInChallenge = async (jar: string) => {
    const res = await post("/console/login/passkey/options", jar, { _csrf: csrfOf(jar) });
    assert.equal(res.status, 200, res.text);
    return (JSON.parse(res.text) as { challenge: string }).challenge;
  };
  const signIn = (jar: string, assertion: unknown) =>
    post("/console/login/passkey", jar, {
      _csrf: csrfOf(jar),
      tenant_id: tenantId,
      credential: JSON.stringify(assertion),
    });
  const signedIn = (res: { status: number; setCookies: string[] }) =>
    res.status === 200 && res.setCookies.some((c) => /(^|_)hypha_console=[^;]/.test(c));

  const passkeyRows = async (userId: string) =>
    consoleStore.passkeysOf(await s.hypha.storage.tenant(tenantId), userId);

  /** A person with one registered passkey, signed out. */
  const enrolled = async () => {
    const who = await consoleSession(s, tenantId, ["DEVELOPER"]);
    const key = authenticator(rpId, s.url);
    const res = await register(who, key.create(await registrationChallenge(who), who.userId));
    assert.equal(res.status, 201, res.text);
    return { who, key };
  };

  before(async () => {
    s = await startServer({ consoleInsecureHttp: true });
    tenantId = await s.createTenant();
    rpId = new URL(s.url).hostname;
  });
  after(() => s.close());

  test("passkeys: a software authenticator registers and signs in alone (the ceremony these tests break)", async () => {
    const { key } = await enrolled();
    const jar = await signInBrowser();
    const res = await signIn(jar, key.get(await signInChallenge(jar), 1));
    assert.ok(signedIn(res), `${res.status} ${res.text}`);
  });

  test("passkeys: a registration challenge is single use: a second credential on a spent challenge is refused and stored nowhere", async () => {
    const who = await consoleSession(s, tenantId, ["DEVELOPER"]);
    const challenge = await registrationChallenge(who);
    const first = await register(who, authenticator(rpId, s.url).create(challenge, who.userId));
    assert.equal(first.status, 201, first.text);
    const second = await register(who, authenticator(rpId, s.url).create(challenge, who.userId));
    assert.equal(second.status, 401, second.text);
    assert.match(second.text, /INVALID_CREDENTIALS/);
    assert.equal((await passkeyRows(who.userId)).length, 1);
  });

  test("passkeys: one is added only within ten minutes of signing in, proven by the session's refresh cookie; a new sign-in may add it", async () => {
    const who = await consoleSession(s, tenantId, ["DEVELOPER"]);
    const page = async (cookie: string) =>
      (await fetch(`${s.url}/console/passkeys`, { headers: { cookie } })).text();
    assert.match(await page(who.cookie), /data-passkey-register/);
    // The access cookie alone (a stolen token) proves no sign-in time.
    const accessOnly = who.cookie
      .split("; ")
      .filter((c) => !c.startsWith("hypha_console_refresh="))
      .join("; ");
    const bare = await post("/console/passkeys/options", accessOnly, { _csrf: who.csrf });
    assert.equal(bare.status, 403, bare.text);
    // Nine minutes after signing in a ceremony starts; eleven minutes after, it is refused.
    s.clock.advance(9 * 60_000);
    const challenge = await registrationChallenge(who);
    s.clock.advance(2 * 60_000);
    const late = await register(who, authenticator(rpId, s.url).create(challenge, who.userId));
    assert.equal(late.status, 403, late.text);
    assert.match(late.text, /within 10 minutes of signing in/);
    assert.equal((await post("/console/passkeys/options", who.cookie, { _csrf: who.csrf })).status, 403);
    assert.equal((await passkeyRows(who.userId)).length, 0, "nothing stored");
    const stale = await page(who.cookie);
    assert.doesNotMatch(stale, /data-passkey-register/);
    assert.match(stale, /sign out, sign in again/);
    // Signing in again (a new session family) opens the window.
    const again = await consoleSignIn(s, tenantId, who.email, who.userId);
    const ok = await register(
      again,
      authenticator(rpId, s.url).create(await registrationChallenge(again), who.userId),
    );
    assert.equal(ok.status, 201, ok.text);
    assert.equal((await passkeyRows(who.userId)).length, 1);
  });

  test("passkeys: a registration challenge expires after five minutes", async () => {
    const who = await consoleSession(s, tenantId, ["DEVELOPER"]);
    const inTime = await registrationChallenge(who);
    s.clock.advance(FIVE_MINUTES - 1000);
    const ok = await register(who, authenticator(rpId, s.url).create(inTime, who.userId));
    assert.equal(ok.status, 201, ok.text);
    const late = await registrationChallenge(who);
    s.clock.advance(FIVE_MINUTES);
    const refused = await register(who, authenticator(rpId, s.url).create(late, who.userId));
    assert.equal(refused.status, 401, refused.text);
    assert.equal((await passkeyRows(who.userId)).length, 1);
  });

  test("passkeys: a sign-in challenge is single use: the same assertion replayed, or a fresh one on the spent challenge, is refused", async () => {
    const { key } = await enrolled();
    const jar = await signInBrowser();
    const challenge = await signInChallenge(jar);
    const assertion = key.get(challenge, 1);
    assert.ok(signedIn(await signIn(jar, assertion)));
    const replay = await signIn(jar, assertion);
    assert.equal(replay.status, 401, replay.text);
    assert.ok(!signedIn(replay));
    // Even with a counter that moves forward, the spent challenge signs nobody in.
    const fresh = await signIn(jar, key.get(challenge, 2));
    assert.equal(fresh.status, 401, fresh.text);
    assert.ok(!signedIn(fresh));
  });

  test("passkeys: a sign-in challenge expires after five minutes", async () => {
    const { key } = await enrolled();
    const jar = await signInBrowser();
    const inTime = await signInChallenge(jar);
    s.clock.advance(FIVE_MINUTES - 1000);
    assert.ok(signedIn(await signIn(jar, key.get(inTime, 1))));
    const late = await signInChallenge(jar);
    s.clock.advance(FIVE_MINUTES);
    const refused = await signIn(jar, key.get(late, 2));
    assert.equal(refused.status, 401, refused.text);
    assert.ok(!signedIn(refused));
  });

  test("passkeys: the signature counter only moves forward: an equal or lower counter (a cloned authenticator) is refused", async () => {
    const { who, key } = await enrolled();
    const attempt = async (counter: number) => {
      const jar = await signInBrowser();
      return signIn(jar, key.get(await signInChallenge(jar), counter));
    };
    assert.ok(signedIn(await attempt(5)));
    assert.equal((await passkeyRows(who.userId))[0]?.counter, 5);
    for (const stale of [5, 3]) {
      const res = await attempt(stale);
      assert.equal(res.status, 401, `counter ${stale}: ${res.text}`);
      assert.ok(!signedIn(res));
    }
    assert.equal((await passkeyRows(who.userId))[0]?.counter, 5);
    assert.ok(signedIn(await attempt(6)));
    assert.equal((await passkeyRows(who.userId))[0]?.counter, 6);
  });

  test("passkeys: two sign-ins racing with the same counter (a cloned authenticator): exactly one gets a session", async () => {
    const { who, key } = await enrolled();
    const jars = [await signInBrowser(), await signInBrowser()];
    const assertions: ReturnType<ReturnType<typeof authenticator>["get"]>[] = [];
    for (const jar of jars) assertions.push(key.get(await signInChallenge(jar), 7));
    const results = await Promise.all(jars.map((jar, i) => signIn(jar, assertions[i])));
    assert.deepEqual(results.map(signedIn).sort(), [false, true]);
    assert.equal((await passkeyRows(who.userId))[0]?.counter, 7);
  });

  test("passkeys: the counter update is a compare-and-set: from a stale counter it changes nothing", async () => {
    const { who } = await enrolled();
    const db = await s.hypha.storage.tenant(tenantId);
    const [row] = await passkeyRows(who.userId);
    assert.ok(row);
    const moved = await db.transaction((tx) => consoleStore.usePasskey(tx, row.id, row.counter, 9, 1));
    assert.equal(moved.changes, 1);
    // A second writer that read the same counter before the first one moved it.
    const stale = await db.transaction((tx) => consoleStore.usePasskey(tx, row.id, row.counter, 8, 2));
    assert.equal(stale.changes, 0);
    const after_ = (await passkeyRows(who.userId))[0];
    assert.equal(after_?.counter, 9);
    assert.equal(after_?.last_used_at, 1);
  });

  test("passkeys: account recovery: an ADMIN removes another person's passkeys from the People page, and they sign in no more; a DEVELOPER cannot", async () => {
    const { who, key } = await enrolled();
    const admin = await consoleSession(s, tenantId, ["ADMIN"]);
    const people = await (
      await fetch(`${s.url}/console/people`, { headers: { cookie: admin.cookie } })
    ).text();
    assert.match(people, new RegExp(`/console/people/${who.userId}/passkeys/remove`));
    const remove = (by: ConsoleSession) =>
      post(`/console/people/${who.userId}/passkeys/remove`, by.cookie, { _csrf: by.csrf });
    const developer = await consoleSession(s, tenantId, ["DEVELOPER"]);
    assert.equal((await remove(developer)).status, 403);
    assert.equal((await passkeyRows(who.userId)).length, 1, "a refusal removes nothing");
    const done = await remove(admin);
    assert.equal(done.status, 303, done.text);
    assert.equal((await passkeyRows(who.userId)).length, 0);
    const jar = await signInBrowser();
    assert.ok(
      !signedIn(await signIn(jar, key.get(await signInChallenge(jar), 5))),
      "the passkey signs in no more",
    );
    const db = await s.hypha.storage.tenant(tenantId);
    const audited = await db.all<{ actor_id: string; details: string }>(
      "SELECT actor_id, details FROM audit_events WHERE action = 'passkey.removed' AND target_ids LIKE ?",
      [`%${who.userId}%`],
    );
    assert.deepEqual(
      audited.map((a) => [a.actor_id, JSON.parse(a.details)]),
      [[admin.userId, { count: 1, all: true }]],
    );
  });
});

describe("console passkey sign-in: one client address cannot lock out everyone's ceremonies", () => {
  let s: TestServer;

  before(async () => {
    s = await startServer({
      consoleInsecureHttp: true,
      trustedProxies: ["127.0.0.1/32"],
      loginMaxPerAddress: 5,
    });
  });
  after(() => s.close());

  /** A fresh browser (its own pre-session cookie) asking for a sign-in challenge from `ip`. */
  const options = async (ip: string) => {
    const page = await fetch(`${s.url}/console/login`);
    const jar = mergeCookies("", page.headers.getSetCookie());
    const res = await fetch(`${s.url}/console/login/passkey/options`, {
      method: "POST",
      headers: { cookie: jar, "content-type": "application/x-www-form-urlencoded", "x-forwarded-for": ip },
      body: new URLSearchParams({ _csrf: csrfOf(jar) }),
    });
    return { status: res.status, text: await res.text(), retryAfter: res.headers.get("retry-after") };
  };

  test("passkeys: fresh cookies from one address stop at its allowance of ceremonies in progress (429); other addresses still get challenges", async () => {
    for (let i = 0; i < 5; i++) assert.equal((await options("203.0.113.9")).status, 200);
    const over = await options("203.0.113.9");
    assert.equal(over.status, 429, over.text);
    assert.match(over.text, /RATE_LIMITED/);
    assert.ok(Number(over.retryAfter) > 0, "a Retry-After says when a place frees");
    assert.equal((await options("198.51.100.1")).status, 200, "another address is not locked out");
  });

  test("passkeys: an IPv6 client's /64 counts as one address (rotating within it gains nothing)", async () => {
    for (let i = 1; i <= 5; i++) assert.equal((await options(`2001:db8:1:2::${i.toString(16)}`)).status, 200);
    assert.equal((await options("2001:db8:1:2:ffff::1")).status, 429);
    assert.equal((await options("2001:db8:1:3::1")).status, 200, "the next /64 is another address");
  });

  test("passkeys: expired ceremonies free their address's place", async () => {
    const ip = "192.0.2.44";
    for (let i = 0; i < 5; i++) assert.equal((await options(ip)).status, 200);
    assert.equal((await options(ip)).status, 429);
    s.clock.advance(FIVE_MINUTES + 1000);
    assert.equal((await options(ip)).status, 200);
  });
});

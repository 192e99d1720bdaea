import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type OidcIssuer, startOidcIssuer } from "../../../test/fixtures/oidc-issuer.ts";
import { oidcFetch } from "./oidc-fetch.ts";

/** The reason the egress guard gave, or "sent" when the request went out (whatever answered). */
async function outcome(fetchFor: typeof fetch, url: string): Promise<string> {
  try {
    await fetchFor(url);
    return "sent";
  } catch (err) {
    return /egress refused: (\w+)/.exec(String(err))?.[1] ?? `failed: ${String(err)}`;
  }
}

describe("oidcFetch: the local-provider allowance covers the issuer's own host only", () => {
  let issuer: OidcIssuer;
  before(async () => {
    issuer = await startOidcIssuer();
  });
  after(() => issuer.close());

  test("with the allowance, the issuer's own host is reached (discovery and JWKS)", async () => {
    const f = oidcFetch({ allowLocal: true })(issuer.issuer);
    assert.equal(await outcome(f, `${issuer.issuer}/.well-known/openid-configuration`), "sent");
    assert.equal(await outcome(f, issuer.jwksUri), "sent");
  });

  test("other loopback hosts are refused in every notation: 127.0.0.2, [::ffff:127.0.0.2], 2130706434, [::1], private ranges", async () => {
    const f = oidcFetch({ allowLocal: true })(issuer.issuer);
    for (const url of [
      "https://127.0.0.2/jwks",
      "https://[::ffff:127.0.0.2]/jwks",
      "https://2130706434/jwks",
      "https://[::1]/jwks",
      "http://10.0.0.1/jwks",
      "http://192.168.1.1/jwks",
    ]) {
      assert.deepEqual([url, await outcome(f, url)], [url, "ADDRESS_BLOCKED"]);
    }
  });

  test("an issuer on a metadata or mapped address opens nothing, even with the allowance", async () => {
    for (const host of ["https://169.254.169.254", "https://[::ffff:127.0.0.2]", "https://2130706434"]) {
      const f = oidcFetch({ allowLocal: true })(host);
      const verdict = await outcome(f, `${host}/.well-known/openid-configuration`);
      if (host === "https://2130706434") {
        // 2130706434 is 127.0.0.2, a plain loopback literal: it is the issuer's own host, so allowed.
        assert.notEqual(verdict, "ADDRESS_BLOCKED", host);
      } else assert.deepEqual([host, verdict], [host, "ADDRESS_BLOCKED"]);
    }
  });

  test("without the allowance, the local issuer itself is refused", async () => {
    const f = oidcFetch({ allowLocal: false })(issuer.issuer);
    assert.equal(await outcome(f, `${issuer.issuer}/.well-known/openid-configuration`), "ADDRESS_BLOCKED");
  });
});

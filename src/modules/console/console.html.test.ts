import assert from "node:assert/strict";
import { test } from "node:test";
import { html } from "./console.html.ts";
import { safeNext } from "./console.routes.ts";

test("html escapes every interpolated value, in text and in attributes", () => {
  const hostile = `"><script>alert(1)</script><img src=x onerror='x'>&`;
  const out = html`<td title="${hostile}">${hostile}</td>`.__html;
  assert.ok(!out.includes("<script>"));
  assert.ok(!out.includes(`"><`));
  assert.equal(
    out,
    '<td title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&#39;x&#39;&gt;&amp;">&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&#39;x&#39;&gt;&amp;</td>',
  );
});

test("html keeps markup built by html, joins arrays, and renders nothing for null, undefined and false", () => {
  const inner = html`<b>${"<i>"}</b>`;
  assert.equal(
    html`<p>${inner}${["a", html`<br>`, "<"]}${null}${undefined}${false}${0}</p>`.__html,
    "<p><b>&lt;i&gt;</b>a<br>&lt;0</p>",
  );
  // An object that merely looks like markup from elsewhere is still text.
  assert.equal(html`${{ toString: () => "<x>" }}`.__html, "&lt;x&gt;");
});

test("safeNext: only console paths of this server, never another site", () => {
  for (const ok of ["/console", "/console/audit?suspicious=true", "/console/memories/mem_1"]) {
    assert.equal(safeNext(ok), ok);
  }
  for (const bad of [
    "https://evil.example/console",
    "//evil.example/console",
    "/console.evil.example",
    "/consolex",
    "/console/\\\\evil.example",
    "/console/ x",
    "javascript:alert(1)",
    "/v1/tenants",
    undefined,
    42,
    `/console/${"a".repeat(600)}`,
  ]) {
    assert.equal(safeNext(bad), "/console", String(bad));
  }
});

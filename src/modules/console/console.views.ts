import type { Action, UserActor } from "../../platform/auth/actor.ts";
import { type Html, html } from "./console.html.ts";

/** What every signed-in page knows: who is looking, their CSRF token, and where they are. */
export type PageContext = { actor: UserActor; csrf: string; path: string };

type NavItem = { href: string; label: string; action: Action };
export const NAV: readonly NavItem[] = [
  { href: "/console", label: "Overview", action: "tenant:read" },
  { href: "/console/approvals", label: "Approvals", action: "approvals:read" },
  { href: "/console/killswitch", label: "Kill switch", action: "governance:override" },
  { href: "/console/agents", label: "Agents and keys", action: "keys:read" },
  { href: "/console/audit", label: "Audit", action: "audit:read" },
  { href: "/console/memories", label: "Memories", action: "memories:read" },
  { href: "/console/connectors", label: "Connectors", action: "connectors:read" },
  { href: "/console/policy", label: "Policy", action: "policy:read" },
  { href: "/console/people", label: "People", action: "users:read" },
  { href: "/console/passkeys", label: "Passkeys", action: "passkeys:manage" },
];

/** A person whose only role is AUDIT_ADMIN sees the audit pages alone. */
export const auditorOnly = (actor: UserActor): boolean =>
  actor.roles.length > 0 && actor.roles.every((r) => r === "AUDIT_ADMIN");

export const can = (actor: UserActor, action: Action): boolean => actor.actions.has(action);

export function navFor(actor: UserActor): NavItem[] {
  if (auditorOnly(actor)) return NAV.filter((n) => n.href === "/console/audit");
  return NAV.filter((n) => can(actor, n.action));
}

const HTMX_CONFIG = JSON.stringify({
  includeIndicatorStyles: false,
  allowEval: false,
  allowScriptTags: false,
  selfRequestsOnly: true,
});

export function shell(title: string, body: Html): Html {
  return html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content="${HTMX_CONFIG}">
<title>${title} · Hypha console</title>
<link rel="icon" href="/console/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/console/assets/console.css">
<script src="/console/assets/htmx.min.js" defer></script>
<script src="/console/assets/console.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
${body}
</body>
</html>`;
}

export const csrfField = (csrf: string): Html => html`<input type="hidden" name="_csrf" value="${csrf}">`;

/** A signed-in page: header with the person and sign-out, the navigation, and the content. */
export function layout(ctx: PageContext, title: string, content: Html): Html {
  const items = navFor(ctx.actor).map((n) => {
    const current = n.href === "/console" ? ctx.path === "/console" : ctx.path.startsWith(n.href);
    return html`<li><a href="${n.href}"${current ? html` aria-current="page"` : ""}>${n.label}</a></li>`;
  });
  return shell(
    title,
    html`<header class="top">
  <a class="brand" href="/console">Hypha console</a>
  <span class="who">${ctx.actor.email} · ${ctx.actor.roles.join(", ")} · <span class="mono">${ctx.actor.tenantId}</span></span>
  <form class="inline" method="post" action="/console/logout">${csrfField(ctx.csrf)}<button type="submit" class="secondary">Sign out</button></form>
</header>
<nav class="main" aria-label="Console sections"><ul>${items}</ul></nav>
<main id="main" tabindex="-1">
<h1>${title}</h1>
${content}
</main>`,
  );
}

export function signInPage(opts: {
  csrf: string;
  next: string;
  error?: string;
  tenantId?: string;
  email?: string;
}): Html {
  return shell(
    "Sign in",
    html`<main id="main" class="signin">
<h1>Sign in to the Hypha console</h1>
${opts.error ? html`<p class="notice error" role="alert">${opts.error}</p>` : ""}
<form class="stack" method="post" action="/console/login">
  ${csrfField(opts.csrf)}
  <input type="hidden" name="next" value="${opts.next}">
  <label for="tenant_id">Tenant id <input id="tenant_id" name="tenant_id" required autocomplete="organization" value="${opts.tenantId ?? ""}" placeholder="tnt_…"></label>
  <label for="email">Email <input id="email" name="email" type="email" required autocomplete="username" value="${opts.email ?? ""}"></label>
  <label for="password">Password <input id="password" name="password" type="password" required autocomplete="current-password"></label>
  <button type="submit">Sign in</button>
</form>
<h2>Or with your identity provider</h2>
<form class="stack" method="get" action="/console/login/oidc">
  <input type="hidden" name="next" value="${opts.next}">
  <label for="oidc-tenant">Tenant id for single sign-on <input id="oidc-tenant" name="tenant_id" required autocomplete="organization" value="${opts.tenantId ?? ""}" placeholder="tnt_…"></label>
  <button type="submit" class="secondary">Sign in with single sign-on</button>
</form>
<h2>Or with a passkey</h2>
<div class="stack">
  <label for="pk-tenant">Tenant id for the passkey <input id="pk-tenant" autocomplete="organization" value="${opts.tenantId ?? ""}" placeholder="tnt_…"></label>
  <button type="button" data-passkey-signin>Sign in with a passkey</button>
  <p id="passkey-status" role="status" aria-live="polite"></p>
</div>
</main>`,
  );
}

/** A page that moves on at once (to the provider, or back into the console after signing in). */
export function continuePage(next: string, label: string): Html {
  return html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="0;url=${next}">
<title>${label} · Hypha console</title>
<link rel="icon" href="/console/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/console/assets/console.css">
</head>
<body><main id="main" class="signin"><h1>${label}</h1><p><a href="${next}">${label}</a></p></main></body>
</html>`;
}

/** A refusal or failure, as a page (signed in: within the layout). */
export function errorPage(
  ctx: PageContext | null,
  e: { status: number; code: string; message: string; requestId: string },
): Html {
  const content = html`<div class="notice error" role="alert">
<p><strong>${e.status} ${e.code}</strong>: ${e.message}</p>
<p class="muted">Request id <span class="mono">${e.requestId}</span></p>
</div>
<p><a href="${ctx ? "/console" : "/console/login"}">${ctx ? "Back to the overview" : "Sign in"}</a></p>`;
  if (ctx) return layout(ctx, "Something was refused", content);
  return shell("Refused", html`<main id="main"><h1>Refused</h1>${content}</main>`);
}

export const when = (iso: string | null | undefined): Html =>
  iso
    ? html`<time datetime="${iso}">${iso.replace("T", " ").replace(/\.\d+Z$/, "Z")}</time>`
    : html`<span class="muted">—</span>`;

export function table(caption: string, heads: readonly string[], rows: readonly Html[], empty: string): Html {
  if (rows.length === 0) return html`<p class="muted">${empty}</p>`;
  return html`<div class="table-wrap"><table class="responsive">
<caption class="skip">${caption}</caption>
<thead><tr>${heads.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
<tbody>${rows}</tbody></table></div>`;
}

/** A data cell labelled for the narrow layout (where the header row is hidden). */
export const td = (label: string, value: unknown, cls = ""): Html =>
  html`<td data-label="${label}"${cls ? html` class="${cls}"` : ""}>${value}</td>`;

export const notice = (text: string | undefined, kind: "ok" | "error" = "ok"): Html =>
  text ? html`<p class="notice${kind === "error" ? " error" : ""}" role="status">${text}</p>` : html``;

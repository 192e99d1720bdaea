import type { Freeze } from "../governance/governance.schemas.ts";
import type { Tenant } from "../tenants/tenants.schemas.ts";
import { type Html, html } from "./console.html.ts";
import { csrfField, notice, shell, table, td, when } from "./console.views.ts";

/** What every instance-admin page knows: the CSRF token and where it is. */
export type AdminContext = { csrf: string; path: string };

const ADMIN_NAV = [
  { href: "/console/admin/killswitch", label: "Global kill switch" },
  { href: "/console/admin/tenants", label: "Tenants" },
] as const;

/** Fixed flash messages of the instance-admin pages. */
export const ADMIN_MESSAGES: Readonly<Record<string, string>> = {
  frozen: "Every tenant is frozen: agent calls are refused with 423.",
  lifted: "The global freeze is lifted.",
  created: "The tenant is created.",
  deleted: "The tenant is deleted and its data crypto-shredded.",
};

export function adminLayout(ctx: AdminContext, title: string, content: Html): Html {
  const items = ADMIN_NAV.map(
    (n) =>
      html`<li><a href="${n.href}"${ctx.path.startsWith(n.href) ? html` aria-current="page"` : ""}>${n.label}</a></li>`,
  );
  return shell(
    title,
    html`<header class="top">
  <a class="brand" href="/console/admin">Hypha console</a>
  <span class="who">Instance admin</span>
  <form class="inline" method="post" action="/console/admin/logout">${csrfField(ctx.csrf)}<button type="submit" class="secondary">Sign out</button></form>
</header>
<nav class="main" aria-label="Instance sections"><ul>${items}</ul></nav>
<main id="main" tabindex="-1">
<h1>${title}</h1>
${content}
</main>`,
  );
}

export function adminSignInPage(opts: { csrf: string; next: string; error?: string }): Html {
  return shell(
    "Instance admin sign-in",
    html`<main id="main" class="signin">
<h1>Sign in as the instance admin</h1>
${opts.error ? html`<p class="notice error" role="alert">${opts.error}</p>` : ""}
<form class="stack" method="post" action="/console/admin/login">
  ${csrfField(opts.csrf)}
  <input type="hidden" name="next" value="${opts.next}">
  <label for="admin_key">Instance admin key <input id="admin_key" name="admin_key" type="password" required autocomplete="off" spellcheck="false"></label>
  <button type="submit">Sign in</button>
</form>
<p class="muted">The key is checked once and exchanged for a session of 30 minutes; it is never kept in a cookie. People of a tenant <a href="/console/login">sign in here</a>.</p>
</main>`,
  );
}

export function adminKillSwitchPage(ctx: AdminContext, freezes: readonly Freeze[], msg?: string): Html {
  const global = freezes.find((f) => f.scope === "global");
  return adminLayout(
    ctx,
    "Global kill switch",
    html`${notice(msg)}
<p class="notice${global ? " error" : ""}" role="status">${
      global
        ? html`<span class="bad">Every tenant is frozen</span> since ${when(global.set_at)}: “${global.reason}”.`
        : html`<span class="ok">No global freeze: agents of every tenant run.</span>`
    }</p>
<form class="stack" method="post" action="/console/admin/killswitch">${csrfField(ctx.csrf)}
<input type="hidden" name="frozen" value="${global ? "false" : "true"}">
<label for="reason">Reason (recorded in the audit trail) <input id="reason" name="reason" required maxlength="500"></label>
<button type="submit" class="${global ? "secondary" : "danger"}">${global ? "Lift the global freeze…" : "Freeze every tenant…"}</button>
</form>
<h2>Every freeze in force</h2>
${table(
  "Freezes in force",
  ["Scope", "Tenant", "Target", "Reason", "Set by", "Since"],
  freezes.map(
    (f) =>
      html`<tr>${td("Scope", f.scope)}${td("Tenant", f.tenant_id ?? "every tenant", "mono")}${td("Target", f.key_id ?? f.agent ?? "every agent", "mono")}${td("Reason", f.reason)}${td("Set by", f.set_by, "mono")}${td("Since", when(f.set_at))}</tr>`,
  ),
  "No freeze is in force.",
)}
<p class="muted">Tenant and agent freezes are set and lifted by each tenant's ADMIN in their console.</p>`,
  );
}

export function tenantsPage(ctx: AdminContext, tenants: readonly Tenant[], msg?: string): Html {
  return adminLayout(
    ctx,
    "Tenants",
    html`${notice(msg)}
${table(
  "Tenants",
  ["Name", "Id", "Encryption", "Storage", "Created", "Action"],
  tenants.map(
    (t) =>
      html`<tr>${td("Name", t.name)}${td("Id", t.id, "mono")}${td("Encryption", t.encryption)}${td("Storage", t.storage)}${td("Created", when(t.created_at))}${td(
        "Action",
        html`<form class="inline" method="post" action="/console/admin/tenants/${t.id}/delete">${csrfField(ctx.csrf)}<button type="submit" class="danger" aria-label="Delete tenant ${t.name}">Delete…</button></form>`,
      )}</tr>`,
  ),
  "No tenants yet.",
)}
<h2>Create a tenant</h2>
<form class="stack" method="post" action="/console/admin/tenants">${csrfField(ctx.csrf)}
<label for="name">Name <input id="name" name="name" required maxlength="100" autocomplete="off"></label>
<button type="submit">Create tenant</button>
</form>`,
  );
}

export function adminConfirmPage(
  ctx: AdminContext,
  title: string,
  question: string,
  action: string,
  fields: Record<string, string>,
  cancel: string,
  danger: boolean,
): Html {
  return adminLayout(
    ctx,
    title,
    html`<p class="notice" role="alert">${question}</p>
<form method="post" action="${action}">${csrfField(ctx.csrf)}
${Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
<input type="hidden" name="confirm" value="yes">
<button type="submit"${danger ? html` class="danger"` : ""}>Yes, ${title.toLowerCase()}</button>
<a href="${cancel}">Cancel</a>
</form>`,
  );
}

export function adminErrorPage(
  ctx: AdminContext,
  e: { status: number; code: string; message: string; requestId: string },
): Html {
  return adminLayout(
    ctx,
    "Something was refused",
    html`<div class="notice error" role="alert">
<p><strong>${e.status} ${e.code}</strong>: ${e.message}</p>
<p class="muted">Request id <span class="mono">${e.requestId}</span></p>
</div>
<p><a href="/console/admin">Back to the instance pages</a></p>`,
  );
}

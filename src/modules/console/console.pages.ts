import type { AuditEventView } from "../audit/audit.schemas.ts";
import type { Approval, Freeze } from "../governance/governance.schemas.ts";
import { actionBeyond, grantableScopes } from "../keys/keys.policy.ts";
import type { ApiKey } from "../keys/keys.schemas.ts";
import type { Memory } from "../memories/memories.schemas.ts";
import { type Html, html } from "./console.html.ts";
import { can, csrfField, layout, notice, type PageContext, table, td, when } from "./console.views.ts";

type Verify = { ok: boolean; first_bad_seq?: number | null; reason?: string | null; checked?: number };

/** Fixed flash messages (a redirect names one by key; no text travels in the URL). */
export const MESSAGES: Readonly<Record<string, string>> = {
  approved: "Your approval is recorded.",
  rejected: "The approval is rejected.",
  frozen: "The freeze is in force.",
  lifted: "The freeze is lifted.",
  resumed: "The key is resumed.",
  revoked: "The key is revoked.",
  replayed: "Replayed: the delivery is back in the inbox.",
  policy: "The policy is saved.",
  person: "Saved.",
  passkeys: "The person's passkeys are removed. If their account was taken over, also sign them out.",
  signedout: "The person is signed out everywhere: their sessions and tokens no longer work.",
};

function freezesTable(ctx: PageContext, items: readonly Freeze[], withLift: boolean): Html {
  return table(
    "Active freezes",
    ["Scope", "Target", "Reason", "Set by", "Since", ...(withLift ? ["Action"] : [])],
    items.map(
      (f) =>
        html`<tr>${td("Scope", f.scope)}${td("Target", f.key_id ?? f.agent ?? f.tenant_id ?? "everything", "mono")}${td("Reason", f.reason)}${td("Set by", f.set_by, "mono")}${td("Since", when(f.set_at))}${
          withLift
            ? td(
                "Action",
                html`<form class="inline" method="post" action="/console/killswitch">${csrfField(ctx.csrf)}
<input type="hidden" name="scope" value="${f.scope}">${f.agent ? html`<input type="hidden" name="agent" value="${f.agent}">` : ""}${f.key_id ? html`<input type="hidden" name="key_id" value="${f.key_id}">` : ""}
<input type="hidden" name="frozen" value="false"><input type="hidden" name="reason" value="lifted from the console">
<button type="submit" class="secondary">Lift…</button></form>`,
              )
            : ""
        }</tr>`,
    ),
    "No freeze is in force: agents run.",
  );
}

function approvalsTable(ctx: PageContext, items: readonly Approval[], actions: boolean): Html {
  const decide = actions && can(ctx.actor, "approvals:decide");
  return table(
    "Pending approvals",
    ["Requester", "Operation", "Payload SHA-256", "Expires", "Votes", ...(decide ? ["Decision"] : [])],
    items.map(
      (a) =>
        html`<tr>${td("Requester", html`${a.requester}${a.agent ? html` <span class="muted">(${a.agent})</span>` : ""}`, "mono")}${td("Operation", html`${a.operation}<br><span class="muted mono">${a.method} ${a.route}</span>`)}${td("Payload SHA-256", a.payload_sha256.slice(0, 16), "mono")}${td("Expires", when(a.expires_at))}${td("Votes", `${a.approvals} of ${a.required_approvals}`)}${
          decide
            ? td(
                "Decision",
                html`<form class="inline" method="post" action="/console/approvals/${a.id}/approve">${csrfField(ctx.csrf)}<button type="submit" aria-label="Approve ${a.operation} requested by ${a.requester}">Approve</button></form>
<form class="inline" method="post" action="/console/approvals/${a.id}/reject">${csrfField(ctx.csrf)}<button type="submit" class="danger" aria-label="Reject ${a.operation} requested by ${a.requester}">Reject</button></form>`,
              )
            : ""
        }</tr>`,
    ),
    "Nothing waits for a decision.",
  );
}

function auditRows(items: readonly AuditEventView[]): Html {
  return table(
    "Audit events",
    ["#", "Time", "Actor", "Action", "Outcome", "Detail"],
    items.map(
      (e) =>
        html`<tr>${td("#", e.seq)}${td("Time", when(e.ts))}${td("Actor", `${e.actor.type}:${e.actor.id}`, "mono")}${td("Action", e.action, "mono")}${td("Outcome", html`<span class="${e.outcome === "success" ? "ok" : "bad"}">${e.outcome}</span>`)}${td(
          "Detail",
          html`<details><summary>Event ${e.id}</summary><pre class="mono">${JSON.stringify(
            {
              targets: e.target_ids,
              request_id: e.request_id,
              client_ip: e.client_ip,
              details: e.details,
              hash: e.hash,
            },
            null,
            2,
          )}</pre></details>`,
        )}</tr>`,
    ),
    "No event matches.",
  );
}

export type OverviewData = {
  connectors: ConnectorRow[] | null;
  freezes: Freeze[] | null;
  pending: Approval[] | null;
  suspicious: AuditEventView[] | null;
};

/** The part of the overview that refreshes itself (htmx polls it). */
export function overviewLive(ctx: PageContext, d: OverviewData): Html {
  return html`<div id="live" class="cards" hx-get="/console/overview/live" hx-trigger="every 10s" hx-swap="outerHTML" aria-live="polite">
${
  d.freezes
    ? html`<section class="card" aria-labelledby="ks"><h2 id="ks">Kill switch</h2>
<p>${d.freezes.length === 0 ? html`<span class="ok">No freeze in force.</span>` : html`<span class="bad">${d.freezes.length} freeze(s) in force.</span>`}</p>
${freezesTable(ctx, d.freezes, false)}<p><a href="/console/killswitch">Open the kill switch</a></p></section>`
    : ""
}
${
  d.pending
    ? html`<section class="card" aria-labelledby="pa"><h2 id="pa">Pending approvals</h2>
<p>${d.pending.length === 0 ? "None." : `${d.pending.length} waiting.`}</p>
<ul>${d.pending.slice(0, 5).map((a) => html`<li><span class="mono">${a.operation}</span> by <span class="mono">${a.requester}</span></li>`)}</ul>
<p><a href="/console/approvals">Decide approvals</a></p></section>`
    : ""
}
${
  d.connectors
    ? html`<section class="card" aria-labelledby="ch"><h2 id="ch">Connector health</h2>
<ul>${d.connectors.length === 0 ? html`<li class="muted">No connectors.</li>` : d.connectors.map((c) => html`<li>${c.name}: ${(c.health?.dead_letters_pending ?? 0) > 0 ? html`<span class="bad">${c.health?.dead_letters_pending} dead letter(s)</span>` : (c.health?.warnings?.length ?? 0) > 0 ? html`<span class="bad">needs attention</span>` : html`<span class="ok">healthy</span>`}, last delivery ${when(c.health?.last_delivery_at)}${c.health?.outcomes ? html`; stored ${c.health.outcomes.stored}, ignored ${c.health.outcomes.ignored_total}, dead ${c.health.outcomes.dead}` : ""}${warningsOf(c.name, c.health)}</li>`)}</ul>
<p><a href="/console/connectors">Open connectors</a></p></section>`
    : ""
}
${
  d.suspicious
    ? html`<section class="card" aria-labelledby="gb"><h2 id="gb">Guardrail blocks and anomalies</h2>
<ul>${d.suspicious.length === 0 ? html`<li class="muted">Nothing suspicious recently.</li>` : d.suspicious.map((e) => html`<li>${when(e.ts)} <span class="mono">${e.action}</span> <span class="muted mono">${e.actor.id}</span></li>`)}</ul>
<p><a href="/console/audit?suspicious=true">See them in the audit trail</a></p></section>`
    : ""
}
</div>`;
}

export function overviewPage(ctx: PageContext, d: OverviewData, chain: Verify | null): Html {
  return layout(
    ctx,
    "Overview",
    html`${
      chain
        ? html`<p class="notice${chain.ok ? "" : " error"}" role="status">Audit chain: ${chain.ok ? html`<span class="ok">intact</span>` : html`<span class="bad">broken at event ${chain.first_bad_seq ?? "?"} (${chain.reason ?? "unknown"})</span>`} · <a href="/console/audit/verify">verify again</a></p>`
        : ""
    }
${overviewLive(ctx, d)}`,
  );
}

export function approvalsPage(
  ctx: PageContext,
  pending: Approval[],
  decided: Approval[],
  msg?: string,
): Html {
  return layout(
    ctx,
    "Approvals",
    html`${notice(msg)}
<h2>Waiting for a decision</h2>
${approvalsTable(ctx, pending, true)}
<h2>Decided</h2>
${table(
  "Decided approvals",
  ["Requester", "Operation", "Outcome", "Votes", "Decided"],
  decided.map(
    (a) =>
      html`<tr>${td("Requester", a.requester, "mono")}${td("Operation", a.operation, "mono")}${td("Outcome", a.status)}${td("Votes", `${a.approvals} of ${a.required_approvals}`)}${td("Decided", when(a.decided_at))}</tr>`,
  ),
  "No decided approvals yet.",
)}`,
  );
}

export function killSwitchPage(ctx: PageContext, freezes: Freeze[], msg?: string): Html {
  return layout(
    ctx,
    "Kill switch",
    html`${notice(msg)}
<h2>In force</h2>
${freezesTable(ctx, freezes, true)}
<h2>Freeze</h2>
<form class="stack" method="post" action="/console/killswitch">${csrfField(ctx.csrf)}
<input type="hidden" name="frozen" value="true">
<fieldset><legend>What to freeze</legend>
<label><input type="radio" name="scope" value="tenant" checked> The whole tenant</label>
<label><input type="radio" name="scope" value="agent"> One agent (name or key id below)</label>
</fieldset>
<label for="agent">Agent name <input id="agent" name="agent" autocomplete="off"></label>
<label for="key_id">Or one key id <input id="key_id" name="key_id" autocomplete="off" placeholder="key_…"></label>
<label for="reason">Reason (recorded in the audit trail) <input id="reason" name="reason" required maxlength="500"></label>
<button type="submit" class="danger">Freeze…</button>
</form>
<p class="muted">Paused keys (paused by the anomaly detector) are resumed from <a href="/console/agents">Agents and keys</a>.</p>`,
  );
}

export function confirmPage(
  ctx: PageContext,
  title: string,
  question: string,
  action: string,
  fields: Record<string, string | undefined>,
  cancel: string,
  danger: boolean,
): Html {
  return layout(
    ctx,
    title,
    html`<p class="notice" role="alert">${question}</p>
<form method="post" action="${action}">${csrfField(ctx.csrf)}
${Object.entries(fields).map(([k, v]) => (v === undefined || v === "" ? "" : html`<input type="hidden" name="${k}" value="${v}">`))}
<input type="hidden" name="confirm" value="yes">
<button type="submit"${danger ? html` class="danger"` : ""}>Yes, ${title.toLowerCase()}</button>
<a href="${cancel}">Cancel</a>
</form>`,
  );
}

export function agentsPage(
  ctx: PageContext,
  keys: ApiKey[],
  keyable: ReadonlySet<string>,
  msg?: string,
): Html {
  const a = ctx.actor;
  const rows = keys.map((k) => {
    const live = k.revoked_at === null;
    const forms: Html[] = [];
    // Rotation hands the caller the new secret: offered only for keys the person could have created
    // (rights they hold, under an agent whose keys are theirs unless they are an ADMIN).
    if (
      live &&
      can(a, "keys:rotate") &&
      keyable.has(k.agent) &&
      actionBeyond(a.actions, k.scopes, k.capabilities) === undefined
    )
      forms.push(html`<form class="inline" method="post" action="/console/agents/${k.id}/rotate">${csrfField(ctx.csrf)}
<label class="inline">Grace <select name="grace_seconds" aria-label="Grace period for ${k.agent}"><option value="0">none</option><option value="3600" selected>1 hour</option><option value="86400">1 day</option></select></label>
<button type="submit" class="secondary" aria-label="Rotate key ${k.start}">Rotate</button></form>`);
    if (live && can(a, "keys:resume"))
      forms.push(
        html`<form class="inline" method="post" action="/console/keys/${k.id}/resume">${csrfField(ctx.csrf)}<button type="submit" class="secondary" aria-label="Resume key ${k.start}">Resume</button></form>`,
      );
    if (live && can(a, "keys:revoke"))
      forms.push(
        html`<form class="inline" method="post" action="/console/agents/${k.id}/revoke">${csrfField(ctx.csrf)}<button type="submit" class="danger" aria-label="Revoke key ${k.start}">Revoke</button></form>`,
      );
    return html`<tr>${td("Agent", html`${k.agent}${k.name ? html`<br><span class="muted">${k.name}</span>` : ""}`)}${td("Key", k.start, "mono")}${td("Scopes", k.scopes.join(" "), "mono")}${td("Namespaces", k.namespaces?.join(" ") ?? "all", "mono")}${td("Rate plan", k.rate_limit_per_minute === null ? "default" : `${k.rate_limit_per_minute}/min`)}${td("Expires", when(k.expires_at))}${td("Last used", when(k.last_used_at))}${td("State", k.revoked_at ? html`<span class="bad">revoked</span>` : k.rotated_to ? html`<span class="warn">rotated</span>` : html`<span class="ok">active</span>`)}${forms.length ? td("Actions", forms) : td("Actions", "")}</tr>`;
  });
  return layout(
    ctx,
    "Agents and keys",
    html`${notice(msg)}
${table("Keys", ["Agent", "Key", "Scopes", "Namespaces", "Rate plan", "Expires", "Last used", "State", "Actions"], rows, "No keys yet.")}
${
  can(a, "keys:create")
    ? html`<h2>Create a key</h2>
<form class="stack" method="post" action="/console/agents">${csrfField(ctx.csrf)}
<label for="new-agent">Agent name <input id="new-agent" name="agent" required maxlength="64"></label>
<label for="new-name">Label (optional) <input id="new-name" name="name" maxlength="100"></label>
<fieldset><legend>Scopes</legend>
${grantableScopes(a.actions)
  .filter((s) => s !== "tenant:admin")
  .map(
    (s) =>
      html`<label><input type="checkbox" name="scopes" value="${s}"${s === "read" ? " checked" : ""}> ${s}</label>`,
  )}
</fieldset>
<label for="new-ns">Namespaces (comma separated; empty: all) <input id="new-ns" name="namespaces"></label>
<label for="new-exp">Expires (UTC, optional) <input id="new-exp" name="expires_at" type="datetime-local"></label>
<label for="new-rate">Requests per minute (optional) <input id="new-rate" name="rate_limit_per_minute" type="number" min="1"></label>
<button type="submit">Create key</button>
</form>`
    : ""
}`,
  );
}

export function secretShownOnce(ctx: PageContext, title: string, k: { agent: string; key: string }): Html {
  return layout(
    ctx,
    title,
    html`<p class="notice" role="status">This is the only time the key of <strong>${k.agent}</strong> is shown. Store it now.</p>
<div class="secret"><code id="new-key" class="mono">${k.key}</code>
<button type="button" data-copy="new-key">Copy the key</button><span id="new-key-status" role="status" aria-live="polite"></span></div>
<p><a href="/console/agents">Back to agents and keys</a></p>`,
  );
}

export type AuditFilters = Record<string, string | undefined>;

export function auditPage(
  ctx: PageContext,
  f: AuditFilters,
  items: AuditEventView[],
  next: string | null,
): Html {
  const q = new URLSearchParams(Object.entries(f).filter((e): e is [string, string] => Boolean(e[1])));
  const nextQ = new URLSearchParams(q);
  if (next) nextQ.set("cursor", next);
  q.delete("cursor");
  return layout(
    ctx,
    "Audit",
    html`<form class="filters" method="get" action="/console/audit" role="search" aria-label="Filter the audit trail">
<label for="f-actor">Actor id <input id="f-actor" name="actor" value="${f.actor ?? ""}"></label>
<label for="f-action">Action or prefix (e.g. key.*) <input id="f-action" name="action" value="${f.action ?? ""}"></label>
<label for="f-outcome">Outcome <select id="f-outcome" name="outcome"><option value="">any</option>${["success", "denied", "error"].map((o) => html`<option${f.outcome === o ? " selected" : ""}>${o}</option>`)}</select></label>
<label for="f-since">Since (UTC ISO) <input id="f-since" name="since" value="${f.since ?? ""}" placeholder="2026-01-01T00:00:00Z"></label>
<label for="f-until">Until (UTC ISO) <input id="f-until" name="until" value="${f.until ?? ""}"></label>
<label><span><input type="checkbox" name="suspicious" value="true"${f.suspicious === "true" ? " checked" : ""}> Suspicious only</span></label>
<button type="submit">Filter</button>
</form>
<p>${can(ctx.actor, "audit:verify") ? html`<a href="/console/audit/verify">Verify the chain</a> · ` : ""}<a href="/console/audit/export?${q.toString()}" download>Export these events (JSONL)</a></p>
${auditRows(items)}
${next ? html`<p><a href="/console/audit?${nextQ.toString()}">Older events</a></p>` : ""}`,
  );
}

export function verifyPage(ctx: PageContext, v: Verify): Html {
  return layout(
    ctx,
    "Audit chain",
    html`<p class="notice${v.ok ? "" : " error"}" role="status">${
      v.ok
        ? html`<span class="ok">The chain is intact</span>: every event links to the one before it and its keyed hash matches.`
        : html`<span class="bad">The chain breaks at event ${v.first_bad_seq ?? "?"}</span>: ${v.reason ?? "unknown reason"}.`
    }</p><p><a href="/console/audit">Back to the audit trail</a></p>`,
  );
}

export function memoriesPage(
  ctx: PageContext,
  f: Record<string, string | undefined>,
  items: Memory[],
  next: string | null,
  msg?: string,
): Html {
  const nextQ = new URLSearchParams(
    Object.entries({ ...f, cursor: next ?? "" }).filter((e): e is [string, string] => Boolean(e[1])),
  );
  return layout(
    ctx,
    "Memories",
    html`${notice(msg)}<form class="filters" method="get" action="/console/memories" role="search" aria-label="Search memories">
<label for="m-q">Search text <input id="m-q" name="q" value="${f.q ?? ""}"></label>
<label for="m-ns">Namespace <input id="m-ns" name="namespace" value="${f.namespace ?? ""}"></label>
<label for="m-tag">Tag <input id="m-tag" name="tag" value="${f.tag ?? ""}"></label>
<label for="m-entity">Entity <input id="m-entity" name="entity" value="${f.entity ?? ""}"></label>
<button type="submit">Search</button>
</form>
${table(
  "Memories",
  ["Memory", "Namespace", "Content", "Tags", "Entities", "Updated"],
  items.map(
    (m) =>
      html`<tr>${td("Memory", html`<a href="/console/memories/${m.id}">${m.id}</a> <span class="muted">v${m.version}</span>`, "mono")}${td("Namespace", m.namespace, "mono")}${td("Content", m.content.length > 300 ? `${m.content.slice(0, 300)}…` : m.content)}${td("Tags", m.tags.join(", "))}${td("Entities", m.entities.join(", "))}${td("Updated", when(m.updated_at))}</tr>`,
  ),
  "No memory matches.",
)}
${next ? html`<p><a href="/console/memories?${nextQ.toString()}">More</a></p>` : ""}
${
  can(ctx.actor, "memories:delete")
    ? html`<h2>Erase (GDPR)</h2>
<p>${
        can(ctx.actor, "memories:erase")
          ? "Erases every version of every matching memory of the tenant, agents’ private memories included."
          : "Erases the matching memories you may change; agents’ private memories are left: a tenant-wide erasure needs an ADMIN."
      }</p>
<form class="stack" method="post" action="/console/memories/erase">${csrfField(ctx.csrf)}
<label for="erase-entity">Every memory naming this entity <input id="erase-entity" name="entity" required maxlength="128"></label>
<button type="submit" class="danger">Count and erase…</button>
</form>
<form class="stack" method="post" action="/console/memories/erase">${csrfField(ctx.csrf)}
<fieldset><legend>Or every memory created in a time range (UTC)</legend>
<label for="erase-after">From <input id="erase-after" name="created_after" type="datetime-local" required></label>
<label for="erase-before">To <input id="erase-before" name="created_before" type="datetime-local" required></label>
</fieldset>
<button type="submit" class="danger">Count and erase the range…</button>
</form>`
    : ""
}`,
  );
}

export function historyPage(ctx: PageContext, versions: Memory[]): Html {
  return layout(
    ctx,
    `Memory ${versions[0]?.id ?? ""}`,
    html`${table(
      "Versions",
      ["Version", "Content", "Tags", "Entities", "Updated", "Current"],
      versions.map(
        (m) =>
          html`<tr>${td("Version", m.version)}${td("Content", m.content)}${td("Tags", m.tags.join(", "))}${td("Entities", m.entities.join(", "))}${td("Updated", when(m.updated_at))}${td("Current", m.is_current ? "yes" : "no")}</tr>`,
      ),
      "No versions.",
    )}<p><a href="/console/memories">Back to memories</a></p>`,
  );
}

export function erasedPage(ctx: PageContext, what: string, deleted: number): Html {
  return layout(
    ctx,
    "Erasure done",
    html`<p class="notice" role="status">Erased <strong>${deleted}</strong> memor${deleted === 1 ? "y" : "ies"} matching ${what}, with every version and index entry.</p><p><a href="/console/memories">Back to memories</a></p>`,
  );
}

type ConnectorRow = {
  id: string;
  name: string;
  source: string;
  health: ConnectorHealthView | null;
  deliveries?: readonly DeliveryView[];
};
type ConnectorHealthView = {
  last_delivery_at: string | null;
  accepted: number;
  signature_failures: number;
  success_rate: number | null;
  pending: number;
  dead_letters_pending: number;
  outcomes?: { stored: number; ignored: Record<string, number>; ignored_total: number; dead: number };
  warnings?: readonly { code: string; message: string }[];
};
type DeliveryView = {
  id: string;
  delivery_id: string;
  outcome: string;
  reason: string | null;
  memories: number;
  attempts: number;
  received_at: string | null;
  processed_at: string | null;
};

/** Outcome counts by reason: `stored`, `ignored: <reason>` for each reason, `dead`. */
function outcomeCounts(h: ConnectorHealthView | null): Html {
  const o = h?.outcomes;
  if (!o) return html`<span class="muted">—</span>`;
  const parts: Html[] = [html`<li>stored: ${o.stored}</li>`];
  for (const [reason, n] of Object.entries(o.ignored).sort((a, b) => b[1] - a[1])) {
    parts.push(html`<li><span class="bad">ignored: ${reason}</span>: ${n}</li>`);
  }
  parts.push(html`<li${o.dead > 0 ? html` class="bad"` : ""}>dead: ${o.dead}</li>`);
  return html`<ul class="plain">${parts}</ul>`;
}

/** A connector's health warnings (MOSTLY_IGNORED, PREVIOUS_SECRET_IN_USE), each with its code. */
function warningsOf(name: string, h: ConnectorHealthView | null): Html {
  const w = h?.warnings ?? [];
  if (w.length === 0) return html``;
  return html`<ul class="plain warnings" aria-label="Warnings for ${name}">${w.map((x) => html`<li class="bad"><strong class="mono">${x.code}</strong>: ${x.message}</li>`)}</ul>`;
}
type DeadLetterView = {
  id: string;
  connector_id: string;
  delivery_id: string | null;
  attempts: number;
  error: string | null;
  dead_at: string | null;
};
type WebhookView = {
  id: string;
  url: string;
  events: string[];
  status: string;
  consecutive_failures: number;
  last_success_at: string | null;
  last_failure_at: string | null;
  last_error: string | null;
};

export function connectorsPage(
  ctx: PageContext,
  connectors: ConnectorRow[],
  dead: DeadLetterView[] | null,
  webhooks: WebhookView[] | null,
  msg?: string,
): Html {
  const replay = can(ctx.actor, "deadletters:manage");
  return layout(
    ctx,
    "Connectors",
    html`${notice(msg)}
<h2>Health</h2>
${table(
  "Connectors",
  [
    "Connector",
    "Source",
    "Last delivery",
    "Accepted",
    "Success rate",
    "Signature failures",
    "Pending",
    "Dead letters",
    "Outcomes",
    "Warnings",
  ],
  connectors.map(
    (c) =>
      html`<tr>${td("Connector", c.name)}${td("Source", c.source)}${td("Last delivery", when(c.health?.last_delivery_at))}${td("Accepted", c.health?.accepted ?? 0)}${td("Success rate", c.health?.success_rate == null ? "—" : `${Math.round(c.health.success_rate * 100)} %`)}${td("Signature failures", c.health?.signature_failures ?? 0)}${td("Pending", c.health?.pending ?? 0)}${td("Dead letters", html`<span class="${(c.health?.dead_letters_pending ?? 0) > 0 ? "bad" : "ok"}">${c.health?.dead_letters_pending ?? 0}</span>`)}${td("Outcomes", outcomeCounts(c.health))}${td("Warnings", (c.health?.warnings?.length ?? 0) > 0 ? warningsOf(c.name, c.health) : html`<span class="ok">none</span>`)}</tr>`,
  ),
  "No connectors.",
)}
<h2>Recent deliveries</h2>
${connectors.length === 0 ? html`<p class="muted">No connectors.</p>` : ""}
${connectors.map(
  (c) => html`<section aria-labelledby="dl-${c.id}"><h3 id="dl-${c.id}">${c.name}</h3>
${table(
  `Recent deliveries of ${c.name}`,
  ["Delivery", "Outcome", "Reason", "Memories", "Attempts", "Received", "Finished"],
  (c.deliveries ?? []).map(
    (d) =>
      html`<tr>${td("Delivery", d.delivery_id, "mono")}${td("Outcome", html`<span class="${d.outcome === "stored" ? "ok" : d.outcome === "pending" ? "" : "bad"}">${d.outcome}</span>`)}${td("Reason", d.reason ?? "", "mono")}${td("Memories", d.memories)}${td("Attempts", d.attempts)}${td("Received", when(d.received_at))}${td("Finished", when(d.processed_at))}</tr>`,
  ),
  "No deliveries yet.",
)}</section>`,
)}
${
  dead
    ? html`<h2>Dead letters</h2>
${table(
  "Dead letters",
  ["Delivery", "Connector", "Attempts", "Error", "Dead since", ...(replay ? ["Action"] : [])],
  dead.map(
    (d) =>
      html`<tr>${td("Delivery", d.delivery_id ?? d.id, "mono")}${td("Connector", d.connector_id, "mono")}${td("Attempts", d.attempts)}${td("Error", d.error ?? "")}${td("Dead since", when(d.dead_at))}${
        replay
          ? td(
              "Action",
              html`<form class="inline" method="post" action="/console/connectors/dead-letters/${d.id}/replay">${csrfField(ctx.csrf)}<button type="submit" class="secondary" aria-label="Replay delivery ${d.delivery_id ?? d.id}">Replay</button></form>`,
            )
          : ""
      }</tr>`,
  ),
  "No dead letters.",
)}
${
  replay && dead.length > 0
    ? html`<form method="post" action="/console/connectors/dead-letters/replay">${csrfField(ctx.csrf)}<button type="submit">Replay all dead letters</button></form>`
    : ""
}`
    : ""
}
${
  webhooks
    ? html`<h2>Outbound webhooks</h2>
${table(
  "Outbound webhooks",
  ["URL", "Events", "State", "Failures in a row", "Last success", "Last failure"],
  webhooks.map(
    (w) =>
      html`<tr>${td("URL", w.url, "mono")}${td("Events", w.events.join(", "), "mono")}${td("State", html`<span class="${w.status === "enabled" ? "ok" : "bad"}">${w.status}</span>`)}${td("Failures in a row", w.consecutive_failures)}${td("Last success", when(w.last_success_at))}${td("Last failure", html`${when(w.last_failure_at)}${w.last_error ? html`<br><span class="muted">${w.last_error}</span>` : ""}`)}</tr>`,
  ),
  "No outbound webhooks.",
)}`
    : ""
}`,
  );
}

export function policyPage(
  ctx: PageContext,
  policy: Record<string, unknown>,
  json: string,
  error?: string,
): Html {
  const approvals = (policy.approvals ?? {}) as Record<string, number>;
  const tiers = (policy.tiers ?? {}) as Record<string, string>;
  return layout(
    ctx,
    "Policy",
    html`${notice(error, "error")}
<h2>Approval quorum per risk tier</h2>
${table(
  "Approvals per tier",
  ["Tier", "Approvers needed"],
  Object.entries(approvals).map(
    ([tier, n]) =>
      html`<tr>${td("Tier", tier)}${td("Approvers needed", n === 0 ? "none: runs at once" : n)}</tr>`,
  ),
  "No tiers.",
)}
<h2>Tier overrides per operation</h2>
${table(
  "Tier overrides",
  ["Operation", "Tier"],
  Object.entries(tiers).map(([op, tier]) => html`<tr>${td("Operation", op, "mono")}${td("Tier", tier)}</tr>`),
  "No overrides: every operation has its default tier.",
)}
${
  can(ctx.actor, "policy:write")
    ? html`<h2>Edit</h2>
<form class="stack" method="post" action="/console/policy">${csrfField(ctx.csrf)}
<label for="policy-json">Policy (JSON; checked against the same schema as <span class="mono">PUT /v1/tenants/:id/policy</span>)
<textarea id="policy-json" name="policy" rows="18" spellcheck="false" class="mono">${json}</textarea></label>
<button type="submit">Save the policy</button>
</form>`
    : html`<h2>Current policy</h2><pre class="mono">${json}</pre>`
}`,
  );
}

type UserView = {
  id: string;
  email: string;
  roles: string[];
  status: string;
  sign_in: string;
  last_login_at: string | null;
};
const ROLE_NAMES = ["ADMIN", "AUDIT_ADMIN", "DEVELOPER", "VIEWER"] as const;

export function peoplePage(
  ctx: PageContext,
  users: UserView[],
  passkeys: ReadonlyMap<string, number>,
  msg?: string,
): Html {
  const manage = can(ctx.actor, "users:update");
  return layout(
    ctx,
    "People",
    html`${notice(msg)}
${table(
  "People",
  ["Email", "Roles", "State", "Sign-in", "Passkeys", "Last sign-in", ...(manage ? ["Change"] : [])],
  users.map(
    (u) =>
      html`<tr>${td("Email", u.email)}${td("Roles", u.roles.join(", "))}${td("State", html`<span class="${u.status === "active" ? "ok" : "bad"}">${u.status}</span>`)}${td("Sign-in", u.sign_in)}${td(
        "Passkeys",
        html`${String(passkeys.get(u.id) ?? 0)}${
          manage && (passkeys.get(u.id) ?? 0) > 0 && u.id !== ctx.actor.id
            ? html` <form class="inline" method="post" action="/console/people/${u.id}/passkeys/remove">${csrfField(ctx.csrf)}<button type="submit" class="danger" aria-label="Remove the passkeys of ${u.email}">Remove</button></form>`
            : ""
        }`,
      )}${td("Last sign-in", when(u.last_login_at))}${
        manage
          ? td(
              "Change",
              html`<form method="post" action="/console/people/${u.id}">${csrfField(ctx.csrf)}
<fieldset><legend>Roles of ${u.email}</legend>${ROLE_NAMES.map((r) => html`<label><input type="checkbox" name="roles" value="${r}"${u.roles.includes(r) ? " checked" : ""}> ${r}</label>`)}</fieldset>
<label><span><input type="checkbox" name="disabled" value="true"${u.status === "disabled" ? " checked" : ""}> Disabled</span></label>
<button type="submit" class="secondary">Save ${u.email}</button></form>
<form class="inline" method="post" action="/console/people/${u.id}/sessions/end">${csrfField(ctx.csrf)}<button type="submit" class="secondary" aria-label="Sign ${u.email} out everywhere">Sign out everywhere</button></form>`,
            )
          : ""
      }</tr>`,
  ),
  "No people.",
)}
${
  can(ctx.actor, "users:create")
    ? html`<h2>Add a person</h2>
<form class="stack" method="post" action="/console/people">${csrfField(ctx.csrf)}
<label for="p-email">Email <input id="p-email" name="email" type="email" required></label>
<label for="p-password">Password (optional) <input id="p-password" name="password" type="password" autocomplete="new-password"></label>
<fieldset><legend>Roles</legend>${ROLE_NAMES.map((r) => html`<label><input type="checkbox" name="roles" value="${r}"${r === "VIEWER" ? " checked" : ""}> ${r}</label>`)}</fieldset>
<button type="submit">Add</button>
</form>`
    : ""
}`,
  );
}

export function passkeysPage(
  ctx: PageContext,
  keys: { id: string; created_at: string; last_used_at: string | null }[],
  adding: { mayAdd: boolean; windowMinutes: number },
): Html {
  return layout(
    ctx,
    "Passkeys",
    html`<p>A passkey signs you in without a password (this device's screen lock or a security key).</p>
${table(
  "Your passkeys",
  ["Passkey", "Added", "Last used", "Action"],
  keys.map(
    (k) =>
      html`<tr>${td("Passkey", `${k.id.slice(0, 16)}…`, "mono")}${td("Added", when(k.created_at))}${td("Last used", when(k.last_used_at))}${td(
        "Action",
        html`<form class="inline" method="post" action="/console/passkeys/${k.id}/remove">${csrfField(ctx.csrf)}<button type="submit" class="danger" aria-label="Remove passkey ${k.id.slice(0, 16)}">Remove</button></form>`,
      )}</tr>`,
  ),
  "You have no passkey yet.",
)}
${
  adding.mayAdd
    ? html`<p><button type="button" data-passkey-register>Add a passkey</button></p>`
    : html`<p>A passkey is added within ${String(adding.windowMinutes)} minutes of signing in. To add one, sign out, sign in again and come back to this page.</p>
<form class="inline" method="post" action="/console/logout">${csrfField(ctx.csrf)}<button type="submit">Sign out</button></form>`
}
<p id="passkey-status" role="status" aria-live="polite"></p>`,
  );
}

import type { ConnectorConfig, ConnectorSource, MappingConfig } from "./connectors.schemas.ts";
import { defaultMappingKind } from "./connectors.schemas.ts";

/**
 * Turns a verified webhook payload into memory drafts. Pure: no I/O, no clock. Every string that
 * leaves here is bounded and every tag/entity is in the label alphabet, so the memory service receives
 * drafts it can validate rather than raw third-party JSON.
 *
 * Payload text is stored as given; secret scanning happens where every memory is written, not here.
 */

export type MetadataValue = string | number | boolean | null;

export type MemoryDraft = {
  namespace: string;
  type: string;
  content: string;
  tags: string[];
  entities: string[];
  metadata: Record<string, MetadataValue>;
};

export type IgnoreReason =
  | "EVENT_UNSUPPORTED"
  | "ACTION_IGNORED"
  | "EVENT_TYPE_NOT_ALLOWED"
  | "BOT_MESSAGE"
  | "URL_VERIFICATION"
  | "PING"
  | "NO_CONTENT"
  | "NOT_AN_EVENT";

/** Ignoring is not an error: the sender gets a 2xx and nothing is stored. */
export type MappingResult = { drafts: MemoryDraft[]; ignored?: { reason: IgnoreReason; detail?: string } };

export const MAX_LABELS = 32;
export const MAX_LABEL_CHARS = 128;
export const DEFAULT_MAX_CONTENT_CHARS = 8000;
const MAX_METADATA_STRING = 512;
const MAX_PUSH_COMMITS = 20;

// ---------------------------------------------------------------------------------------------------
// Sanitising

const LABEL_DISALLOWED = /[^\p{L}\p{N} _.:/@#-]+/gu;
const LEADING_NON_ALNUM = /^[^\p{L}\p{N}]+/u;

/**
 * Brings any string into the label alphabet `[\p{L}\p{N} _.:/@#-]`: NFC, disallowed runs become `-`,
 * whitespace collapses, it starts with a letter or digit, at most 128 code points. Undefined when
 * nothing is left.
 */
export function sanitiseLabel(raw: string): string | undefined {
  const cleaned = raw
    .normalize("NFC")
    .replace(/\s+/gu, " ")
    .replace(LABEL_DISALLOWED, "-")
    .replace(LEADING_NON_ALNUM, "");
  const capped = Array.from(cleaned).slice(0, MAX_LABEL_CHARS).join("").trimEnd();
  return capped === "" ? undefined : capped;
}

/** Sanitised, de-duplicated (first occurrence wins), at most 32. */
export function sanitiseLabels(raw: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const r of raw) {
    if (out.length >= MAX_LABELS) break;
    const label = sanitiseLabel(r);
    if (label === undefined || seen.has(label)) continue;
    seen.add(label);
    out.push(label);
  }
  return out;
}

/**
 * Normalises line endings, drops control characters other than newline and tab, trims, and caps the
 * length in code points (so a surrogate pair is never split) with a trailing ellipsis.
 */
export function capContent(raw: string, maxChars: number): string {
  const cleaned = raw
    .replace(/\r\n?/g, "\n")
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "")
    .trim();
  // UTF-16 length bounds the code-point count from above, so short text needs no splitting; long text
  // only needs its first 2×max units examined (max code points take at most that many).
  if (cleaned.length <= maxChars) return cleaned;
  const head = Array.from(cleaned.slice(0, maxChars * 2));
  if (head.length <= maxChars && cleaned.length <= maxChars * 2) return cleaned;
  return `${head.slice(0, maxChars - 1).join("")}…`;
}

function metadataString(value: string): string {
  return Array.from(value).slice(0, MAX_METADATA_STRING).join("");
}

// ---------------------------------------------------------------------------------------------------
// JSON pointer (RFC 6901)

export type PointerResult = { found: true; value: unknown } | { found: false };

/**
 * Resolves an RFC 6901 JSON pointer. Only own properties are followed (never `__proto__` or
 * inherited members), array indices must be canonical (`0`, `12`, not `01` or `-`).
 */
export function resolvePointer(doc: unknown, pointer: string): PointerResult {
  if (pointer === "") return { found: true, value: doc };
  if (!pointer.startsWith("/")) return { found: false };
  let current: unknown = doc;
  for (const rawToken of pointer.slice(1).split("/")) {
    const token = rawToken.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(current)) {
      if (!/^(?:0|[1-9][0-9]*)$/.test(token)) return { found: false };
      const index = Number(token);
      if (index >= current.length) return { found: false };
      current = current[index];
    } else if (typeof current === "object" && current !== null) {
      if (!Object.hasOwn(current, token)) return { found: false };
      current = (current as Record<string, unknown>)[token];
    } else {
      return { found: false };
    }
  }
  return { found: true, value: current };
}

function at(doc: unknown, pointer: string): unknown {
  const r = resolvePointer(doc, pointer);
  return r.found ? r.value : undefined;
}

function str(doc: unknown, pointer: string): string | undefined {
  const v = at(doc, pointer);
  return typeof v === "string" && v !== "" ? v : undefined;
}

function num(doc: unknown, pointer: string): number | undefined {
  const v = at(doc, pointer);
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** Strings from a value that is a string, number, or an array of those (other shapes give nothing). */
function labelStrings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (typeof value === "number" && Number.isFinite(value)) return [String(value)];
  if (Array.isArray(value)) return value.slice(0, MAX_LABELS).flatMap((v) => labelStrings(v));
  return [];
}

function compact(metadata: Record<string, MetadataValue | undefined>): Record<string, MetadataValue> {
  const out: Record<string, MetadataValue> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (v === undefined) continue;
    out[k] = typeof v === "string" ? metadataString(v) : v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Shared assembly

/** True when `type` is allowed by the list; `undefined` list allows all. A trailing `*` is a prefix. */
export function eventTypeAllowed(type: string, allowed: readonly string[] | undefined): boolean {
  if (allowed === undefined) return true;
  return allowed.some((pattern) =>
    pattern.endsWith("*") ? type.startsWith(pattern.slice(0, -1)) : pattern === type,
  );
}

type DraftParts = {
  content: string;
  tags: string[];
  entities: string[];
  metadata: Record<string, MetadataValue | undefined>;
};

export type MappingContext = {
  mapping: MappingConfig;
  source: ConnectorSource;
  /** The deduplicated delivery id, recorded so a memory can be traced to the delivery that made it. */
  deliveryId?: string;
};

function ignored(reason: IgnoreReason, detail?: string): MappingResult {
  return {
    drafts: [],
    ignored: detail === undefined ? { reason } : { reason, detail: metadataString(detail) },
  };
}

/** Applies the mapping's namespace, type, static tags and extra pointers, then bounds everything. */
function draft(ctx: MappingContext, payload: unknown, parts: DraftParts, defaultType: string): MemoryDraft {
  const m = ctx.mapping;
  const content = capContent(parts.content, m.maxContentChars ?? DEFAULT_MAX_CONTENT_CHARS);
  const extraTags = (m.tagPointers ?? []).flatMap((p) => labelStrings(at(payload, p)));
  const extraEntities = (m.entityPointers ?? []).flatMap((p) => labelStrings(at(payload, p)));
  const extraMetadata: Record<string, MetadataValue | undefined> = {};
  for (const [name, pointer] of Object.entries(m.metadataPointers ?? {})) {
    const v = at(payload, pointer);
    if (typeof v === "string" || typeof v === "boolean" || v === null) extraMetadata[name] = v;
    else if (typeof v === "number" && Number.isFinite(v)) extraMetadata[name] = v;
  }
  return {
    namespace: m.namespace,
    type: m.type ?? defaultType,
    content,
    tags: sanitiseLabels([...parts.tags, ...(m.staticTags ?? []), ...extraTags]),
    entities: sanitiseLabels([...parts.entities, ...extraEntities]),
    metadata: compact({
      ...extraMetadata,
      ...parts.metadata,
      source: ctx.source,
      delivery_id: ctx.deliveryId,
    }),
  };
}

function single(
  ctx: MappingContext,
  payload: unknown,
  parts: DraftParts,
  defaultType: string,
): MappingResult {
  if (parts.content.trim() === "") return ignored("NO_CONTENT");
  return { drafts: [draft(ctx, payload, parts, defaultType)] };
}

// ---------------------------------------------------------------------------------------------------
// GitHub

/**
 * GitHub events that are acknowledged without a memory: they carry neither text nor a change a team
 * asks about later (stars, installs, project boards, bookkeeping of the hook itself).
 */
export const GITHUB_SKIPPED_EVENTS: ReadonlySet<string> = new Set([
  "github_app_authorization",
  "installation",
  "installation_repositories",
  "installation_target",
  "label",
  "marketplace_purchase",
  "merge_group",
  "meta",
  "org_block",
  "package",
  "page_build",
  "project",
  "project_card",
  "project_column",
  "projects_v2",
  "projects_v2_item",
  "registry_package",
  "repository_dispatch",
  "repository_import",
  "sponsorship",
  "star",
  "watch",
  "workflow_dispatch",
  "deployment_review",
  "deployment_protection_rule",
]);

/** Check and workflow conclusions worth remembering: the ones someone has to act on. */
const FAILED_CONCLUSIONS = new Set([
  "failure",
  "timed_out",
  "cancelled",
  "action_required",
  "startup_failure",
]);

function withBody(head: string, body: string | undefined): string {
  return body === undefined || body.trim() === "" ? head : `${head}\n\n${body}`;
}

function joinLines(...lines: (string | undefined | false)[]): string {
  return lines.filter((l): l is string => typeof l === "string" && l.trim() !== "").join("\n");
}

function words(action: string): string {
  return action.replace(/_/g, " ");
}

type GithubFacts = {
  event: string;
  action: string | undefined;
  repo: string | undefined;
  where: string;
  who: string;
  tags: string[];
  entities: string[];
  meta: Record<string, MetadataValue | undefined>;
};

type GithubPart = {
  content: string;
  tags?: string[];
  entities?: string[];
  meta?: Record<string, MetadataValue | undefined>;
};

/** What a handler decides: a memory's parts, or an ignore with its reason. */
type GithubDecision = GithubPart | { ignore: IgnoreReason; detail: string };

const user = (login: string | undefined) => (login ? [`user:${login}`] : []);

function labelNames(payload: unknown, pointer: string): string[] {
  const labels = at(payload, pointer);
  return Array.isArray(labels)
    ? labels.flatMap((l) => {
        const name = str(l, "/name");
        return name ? [`label:${name}`] : [];
      })
    : [];
}

/** The verb and detail line of an issue or pull request action that is not about its text. */
function threadChange(payload: unknown, action: string): { verb: string; detail?: string } {
  switch (action) {
    case "assigned":
      return { verb: `assigned ${str(payload, "/assignee/login") ?? "someone"} to` };
    case "unassigned":
      return { verb: `unassigned ${str(payload, "/assignee/login") ?? "someone"} from` };
    case "labeled":
      return { verb: `added label "${str(payload, "/label/name") ?? "?"}" to` };
    case "unlabeled":
      return { verb: `removed label "${str(payload, "/label/name") ?? "?"}" from` };
    case "milestoned":
      return { verb: `added to milestone "${str(payload, "/milestone/title") ?? "?"}"` };
    case "demilestoned":
      return { verb: `removed from milestone "${str(payload, "/milestone/title") ?? "?"}"` };
    case "review_requested": {
      const reviewer = str(payload, "/requested_reviewer/login") ?? str(payload, "/requested_team/name");
      return { verb: `requested a review from ${reviewer ?? "someone"} on` };
    }
    case "review_request_removed": {
      const reviewer = str(payload, "/requested_reviewer/login") ?? str(payload, "/requested_team/name");
      return { verb: `removed the review request for ${reviewer ?? "someone"} on` };
    }
    case "transferred": {
      const to = str(payload, "/changes/new_repository/full_name");
      return { verb: "transferred", ...(to ? { detail: `Moved to ${to}.` } : {}) };
    }
    case "locked": {
      const reason =
        str(payload, "/issue/active_lock_reason") ?? str(payload, "/pull_request/active_lock_reason");
      return { verb: "locked", ...(reason ? { detail: `Lock reason: ${reason}.` } : {}) };
    }
    case "synchronize": {
      const before = (str(payload, "/before") ?? "").slice(0, 7);
      const after = (str(payload, "/after") ?? "").slice(0, 7);
      return {
        verb: "pushed new commits to",
        ...(after ? { detail: `Head moved ${before || "?"} → ${after}.` } : {}),
      };
    }
    case "converted_to_draft":
      return { verb: "converted to draft" };
    case "ready_for_review":
      return { verb: "marked ready for review" };
    default:
      return { verb: words(action) };
  }
}

/** Issues and pull requests: every action, with the title, and the body where it says something new. */
function githubThread(payload: unknown, f: GithubFacts, kind: "issue" | "pull_request"): GithubDecision {
  const root = kind === "issue" ? "/issue" : "/pull_request";
  const noun = kind === "issue" ? "issue" : "pull request";
  const action = f.action ?? "updated";
  const n = num(payload, `${root}/number`) ?? num(payload, "/number");
  const title = str(payload, `${root}/title`) ?? "";
  const author = str(payload, `${root}/user/login`);
  const merged = at(payload, "/pull_request/merged") === true;
  const stateReason = str(payload, `${root}/state_reason`);
  let verb: string;
  let detail: string | undefined;
  if (action === "closed") {
    verb = merged ? "merged" : stateReason === "not_planned" ? "closed as not planned" : "closed";
  } else if (action === "opened" || action === "edited" || action === "reopened" || action === "deleted") {
    verb = action;
  } else {
    ({ verb, detail } = threadChange(payload, action));
  }
  const subject = `${noun} #${n ?? "?"}`;
  // "added to milestone" reads with the subject first; the rest read "<verb> <subject>".
  const head =
    verb.startsWith("added to") || verb.startsWith("removed from")
      ? `${f.who}: ${subject} in ${f.where} ${verb}: ${title}`
      : `${f.who} ${verb} ${subject} in ${f.where}: ${title}`;
  const body =
    action === "opened" || action === "edited" || action === "deleted"
      ? str(payload, `${root}/body`)
      : undefined;
  const previousTitle = action === "edited" ? str(payload, "/changes/title/from") : undefined;
  const content = withBody(
    joinLines(head, previousTitle && `Previously titled: ${previousTitle}`, detail),
    body,
  );
  return {
    content,
    tags: [
      ...labelNames(payload, `${root}/labels`),
      ...(merged ? ["state:merged"] : []),
      ...(stateReason ? [`state_reason:${stateReason}`] : []),
      ...(at(payload, "/pull_request/draft") === true ? ["draft"] : []),
    ],
    entities: [
      ...user(author),
      ...user(str(payload, "/assignee/login")),
      ...user(str(payload, "/requested_reviewer/login")),
    ],
    meta: {
      number: n,
      title,
      url: str(payload, `${root}/html_url`),
      state: str(payload, `${root}/state`),
      state_reason: stateReason,
      ...(kind === "pull_request"
        ? {
            merged,
            base: str(payload, "/pull_request/base/ref"),
            head: str(payload, "/pull_request/head/ref"),
          }
        : {}),
    },
  };
}

/** Comments of every kind: on issues, pull requests (review comments), commits and discussions. */
function githubComment(payload: unknown, f: GithubFacts): GithubDecision {
  const action = f.action ?? "created";
  const author = str(payload, "/comment/user/login") ?? f.who;
  const body = str(payload, "/comment/body");
  let on: string;
  let number: number | undefined;
  let title: string | undefined;
  switch (f.event) {
    case "issue_comment": {
      number = num(payload, "/issue/number");
      title = str(payload, "/issue/title");
      on = `${at(payload, "/issue/pull_request") !== undefined ? "pull request" : "issue"} #${number ?? "?"}`;
      break;
    }
    case "pull_request_review_comment":
      number = num(payload, "/pull_request/number");
      title = str(payload, "/pull_request/title");
      on = `pull request #${number ?? "?"}`;
      break;
    case "discussion_comment":
      number = num(payload, "/discussion/number");
      title = str(payload, "/discussion/title");
      on = `discussion #${number ?? "?"}`;
      break;
    default: {
      const sha = (str(payload, "/comment/commit_id") ?? "").slice(0, 7);
      on = `commit ${sha || "?"}`;
    }
  }
  const path = str(payload, "/comment/path");
  const line = num(payload, "/comment/line") ?? num(payload, "/comment/position");
  const verb =
    action === "created"
      ? "commented"
      : action === "edited"
        ? "edited a comment"
        : `${words(action)} a comment`;
  const where = path ? ` at ${path}${line !== undefined ? `:${line}` : ""}` : "";
  const head = `${author} ${verb} on ${on} in ${f.where}${title ? ` (${title})` : ""}${where}:`;
  return {
    content: withBody(head, body),
    entities: user(author),
    meta: { number, title, url: str(payload, "/comment/html_url"), path },
  };
}

function githubReview(payload: unknown, f: GithubFacts): GithubDecision {
  const n = num(payload, "/pull_request/number");
  const title = str(payload, "/pull_request/title") ?? "";
  const state = (str(payload, "/review/state") ?? "commented").toLowerCase();
  const reviewer = str(payload, "/review/user/login") ?? f.who;
  let verb: string;
  if (f.action === "dismissed") verb = "had a review dismissed on";
  else if (state === "approved") verb = "approved";
  else if (state === "changes_requested") verb = "requested changes on";
  else verb = f.action === "edited" ? "edited a review of" : "reviewed";
  return {
    content: withBody(
      `${reviewer} ${verb} pull request #${n ?? "?"} in ${f.where}: ${title}`,
      str(payload, "/review/body"),
    ),
    tags: [`review:${state}`],
    entities: user(reviewer),
    meta: { number: n, title, url: str(payload, "/review/html_url"), review_state: state },
  };
}

function githubReviewThread(payload: unknown, f: GithubFacts): GithubDecision {
  const n = num(payload, "/pull_request/number");
  const title = str(payload, "/pull_request/title") ?? "";
  const comments = at(payload, "/thread/comments");
  const list = Array.isArray(comments) ? comments : [];
  const path = list.length > 0 ? str(list[0], "/path") : undefined;
  const lines = list
    .slice(0, 20)
    .map((c) => `${str(c, "/user/login") ?? "someone"}: ${str(c, "/body") ?? ""}`);
  return {
    content: joinLines(
      `${f.who} ${words(f.action ?? "updated")} a review thread on pull request #${n ?? "?"} in ${f.where}: ${title}${path ? ` (${path})` : ""}`,
      ...lines,
    ),
    entities: list.flatMap((c) => user(str(c, "/user/login"))),
    meta: { number: n, title, path, url: str(payload, "/pull_request/html_url") },
  };
}

function githubRelease(payload: unknown, f: GithubFacts): GithubDecision {
  const tag = str(payload, "/release/tag_name");
  const name = str(payload, "/release/name");
  const label = name && name !== tag ? `${name} (${tag ?? "untagged"})` : (tag ?? name ?? "a release");
  const pre = at(payload, "/release/prerelease") === true;
  return {
    content: withBody(
      `${f.who} ${words(f.action ?? "published")} ${pre ? "pre-release" : "release"} ${label} in ${f.where}`,
      f.action === "deleted" ? undefined : str(payload, "/release/body"),
    ),
    tags: [...(tag ? [`tag:${tag}`] : []), ...(pre ? ["prerelease"] : [])],
    entities: user(str(payload, "/release/author/login")),
    meta: { tag, name, url: str(payload, "/release/html_url") },
  };
}

function githubDiscussion(payload: unknown, f: GithubFacts): GithubDecision {
  const action = f.action ?? "updated";
  const n = num(payload, "/discussion/number");
  const title = str(payload, "/discussion/title") ?? "";
  const category = str(payload, "/discussion/category/name");
  let detail: string | undefined;
  let body: string | undefined;
  let verb = words(action);
  switch (action) {
    case "created":
    case "edited":
      body = str(payload, "/discussion/body");
      break;
    case "answered":
      verb = "marked an answer on";
      body = str(payload, "/answer/body");
      detail = `Answer by ${str(payload, "/answer/user/login") ?? "someone"}:`;
      break;
    case "labeled":
    case "unlabeled":
      detail = `Label: ${str(payload, "/label/name") ?? "?"}`;
      break;
    case "category_changed":
      verb = "changed the category of";
      detail = `Category: ${str(payload, "/changes/category/from/name") ?? "?"} → ${category ?? "?"}`;
      break;
    case "transferred":
      detail = `Moved to ${str(payload, "/changes/new_repository/full_name") ?? "another repository"}.`;
      break;
  }
  const head = `${f.who} ${verb} discussion #${n ?? "?"} in ${f.where}${category ? ` [${category}]` : ""}: ${title}`;
  return {
    content: withBody(joinLines(head, detail), body),
    tags: [...labelNames(payload, "/discussion/labels"), ...(category ? [`category:${category}`] : [])],
    entities: [...user(str(payload, "/discussion/user/login")), ...user(str(payload, "/answer/user/login"))],
    meta: { number: n, title, url: str(payload, "/discussion/html_url"), category },
  };
}

function refName(ref: string): { kind: "branch" | "tag" | "ref"; name: string } {
  if (ref.startsWith("refs/heads/")) return { kind: "branch", name: ref.slice("refs/heads/".length) };
  if (ref.startsWith("refs/tags/")) return { kind: "tag", name: ref.slice("refs/tags/".length) };
  return { kind: "ref", name: ref };
}

function githubPush(payload: unknown, f: GithubFacts): GithubDecision {
  const ref = str(payload, "/ref") ?? "";
  const { kind, name } = refName(ref);
  const pusher = str(payload, "/pusher/name") ?? f.who;
  const commits = at(payload, "/commits");
  const list = Array.isArray(commits) ? commits : [];
  const refTags = [`${kind}:${name}`];
  const meta = {
    ref,
    before: str(payload, "/before"),
    after: str(payload, "/after"),
    compare: str(payload, "/compare"),
    commits: list.length,
    forced: at(payload, "/forced") === true,
  };
  if (at(payload, "/deleted") === true) {
    return {
      content: `${pusher} deleted ${kind} ${name} in ${f.where}`,
      tags: [...refTags, "action:deleted"],
      meta,
    };
  }
  const created = at(payload, "/created") === true;
  const forced = at(payload, "/forced") === true;
  const lines = list.slice(0, MAX_PUSH_COMMITS).map((c) => {
    const sha = (str(c, "/id") ?? "").slice(0, 7);
    const message = (str(c, "/message") ?? "").split("\n")[0] ?? "";
    const author = str(c, "/author/username") ?? str(c, "/author/name");
    return `- ${sha} ${message}${author ? ` (${author})` : ""}`;
  });
  if (list.length > MAX_PUSH_COMMITS) lines.push(`- … and ${list.length - MAX_PUSH_COMMITS} more`);
  let head: string;
  if (kind === "tag") {
    const sha = (str(payload, "/after") ?? "").slice(0, 7);
    head = `${pusher} ${created ? "pushed new tag" : "moved tag"} ${name} in ${f.where}${sha ? ` at ${sha}` : ""}`;
  } else if (list.length === 0) {
    head = `${pusher} ${created ? "created" : "updated"} ${kind} ${name} in ${f.where}`;
  } else {
    const count = list.length === 1 ? "1 commit" : `${list.length} commits`;
    head = `${pusher} ${forced ? "force-pushed" : "pushed"} ${count} to ${created ? `new ${kind} ` : ""}${name} in ${f.where}:`;
  }
  const authors = list.flatMap((c) => user(str(c, "/author/username")));
  return {
    content: joinLines(head, ...lines),
    tags: [...refTags, ...(created ? ["action:created"] : []), ...(forced ? ["forced"] : [])],
    entities: authors,
    meta,
  };
}

function githubRef(payload: unknown, f: GithubFacts): GithubDecision {
  const refType = str(payload, "/ref_type") ?? "ref";
  const ref = str(payload, "/ref") ?? "?";
  const verb = f.event === "create" ? "created" : "deleted";
  return {
    content: withBody(
      `${f.who} ${verb} ${refType} ${ref} in ${f.where}`,
      f.event === "create" ? str(payload, "/description") : undefined,
    ),
    tags: [`${refType}:${ref}`],
    meta: { ref, ref_type: refType },
  };
}

/** Checks, suites, workflow runs and jobs, commit statuses: remembered when they fail. */
function githubRun(payload: unknown, f: GithubFacts): GithubDecision {
  const root =
    f.event === "check_run"
      ? "/check_run"
      : f.event === "check_suite"
        ? "/check_suite"
        : f.event === "workflow_run"
          ? "/workflow_run"
          : "/workflow_job";
  if (f.event === "status") {
    const state = str(payload, "/state") ?? "";
    if (state !== "failure" && state !== "error")
      return { ignore: "ACTION_IGNORED", detail: `status.${state}` };
    const sha = (str(payload, "/sha") ?? "").slice(0, 7);
    return {
      content: joinLines(
        `Commit status ${str(payload, "/context") ?? "?"} is ${state} for ${sha} in ${f.where}`,
        str(payload, "/description"),
      ),
      tags: [`conclusion:${state}`],
      meta: { state, sha: str(payload, "/sha"), url: str(payload, "/target_url") },
    };
  }
  const conclusion = str(payload, `${root}/conclusion`);
  if (f.action !== "completed" || conclusion === undefined || !FAILED_CONCLUSIONS.has(conclusion)) {
    return {
      ignore: "ACTION_IGNORED",
      detail: `${f.event}.${f.action ?? "?"}${conclusion ? ` ${conclusion}` : ""}`,
    };
  }
  const name =
    str(payload, `${root}/name`) ??
    str(payload, `${root}/workflow_name`) ??
    str(payload, `${root}/app/name`) ??
    f.event.replace(/_/g, " ");
  const branch = str(payload, `${root}/head_branch`) ?? str(payload, `${root}/check_suite/head_branch`);
  const sha = (str(payload, `${root}/head_sha`) ?? "").slice(0, 7);
  const noun = f.event.replace(/_/g, " ");
  return {
    content: joinLines(
      `${noun} "${name}" ${words(conclusion)} in ${f.where}${branch ? ` on ${branch}` : ""}${sha ? ` at ${sha}` : ""}`,
      str(payload, `${root}/display_title`),
      str(payload, `${root}/output/title`),
      str(payload, `${root}/output/summary`),
    ),
    tags: [`conclusion:${conclusion}`, ...(branch ? [`branch:${branch}`] : [])],
    meta: { conclusion, name, branch, url: str(payload, `${root}/html_url`) },
  };
}

function githubAlert(payload: unknown, f: GithubFacts): GithubDecision {
  const action = words(f.action ?? "updated");
  switch (f.event) {
    case "code_scanning_alert": {
      const rule = str(payload, "/alert/rule/description") ?? str(payload, "/alert/rule/id") ?? "?";
      const severity =
        str(payload, "/alert/rule/security_severity_level") ?? str(payload, "/alert/rule/severity");
      const path = str(payload, "/alert/most_recent_instance/location/path");
      return {
        content: joinLines(
          `Code scanning alert #${num(payload, "/alert/number") ?? "?"} ${action} in ${f.where}: ${rule}`,
          severity && `Severity: ${severity}`,
          path && `Location: ${path}`,
          str(payload, "/alert/most_recent_instance/message/text"),
          str(payload, "/alert/tool/name") && `Tool: ${str(payload, "/alert/tool/name")}`,
        ),
        tags: [...(severity ? [`severity:${severity}`] : [])],
        meta: { number: num(payload, "/alert/number"), url: str(payload, "/alert/html_url"), severity },
      };
    }
    case "dependabot_alert": {
      const pkg = str(payload, "/alert/dependency/package/name") ?? "?";
      const eco = str(payload, "/alert/dependency/package/ecosystem");
      const severity =
        str(payload, "/alert/security_vulnerability/severity") ??
        str(payload, "/alert/security_advisory/severity");
      const fixed = str(payload, "/alert/security_vulnerability/first_patched_version/identifier");
      return {
        content: joinLines(
          `Dependabot alert #${num(payload, "/alert/number") ?? "?"} ${action} in ${f.where}: ${pkg}${eco ? ` (${eco})` : ""}`,
          str(payload, "/alert/security_advisory/summary"),
          severity && `Severity: ${severity}`,
          fixed && `Fixed in ${fixed}`,
        ),
        tags: [...(severity ? [`severity:${severity}`] : []), `package:${pkg}`],
        meta: {
          number: num(payload, "/alert/number"),
          url: str(payload, "/alert/html_url"),
          severity,
          package: pkg,
        },
      };
    }
    case "repository_vulnerability_alert": {
      const pkg = str(payload, "/alert/affected_package_name") ?? "?";
      const severity = str(payload, "/alert/severity");
      return {
        content: joinLines(
          `Vulnerability alert ${action} in ${f.where}: ${pkg} ${str(payload, "/alert/affected_range") ?? ""}`.trim(),
          str(payload, "/alert/external_identifier"),
          severity && `Severity: ${severity}`,
          str(payload, "/alert/fixed_in") && `Fixed in ${str(payload, "/alert/fixed_in")}`,
        ),
        tags: [...(severity ? [`severity:${severity}`] : []), `package:${pkg}`],
        meta: { severity, package: pkg, ghsa: str(payload, "/alert/ghsa_id") },
      };
    }
    case "secret_scanning_alert":
      return {
        content: `Secret scanning alert #${num(payload, "/alert/number") ?? "?"} ${action} in ${f.where}: ${str(payload, "/alert/secret_type_display_name") ?? str(payload, "/alert/secret_type") ?? "a secret"}`,
        meta: { number: num(payload, "/alert/number"), url: str(payload, "/alert/html_url") },
      };
    default: {
      const ghsa = str(payload, "/security_advisory/ghsa_id");
      const severity = str(payload, "/security_advisory/severity");
      return {
        content: withBody(
          joinLines(
            `Security advisory ${ghsa ?? ""} ${action}: ${str(payload, "/security_advisory/summary") ?? ""}`.replace(
              / {2,}/g,
              " ",
            ),
            severity && `Severity: ${severity}`,
          ),
          str(payload, "/security_advisory/description"),
        ),
        tags: [...(severity ? [`severity:${severity}`] : []), ...(ghsa ? [`advisory:${ghsa}`] : [])],
        meta: { ghsa, severity },
      };
    }
  }
}

/** Repository, membership, team and organisation changes: who now has (or lost) access to what. */
function githubAccess(payload: unknown, f: GithubFacts): GithubDecision {
  const action = words(f.action ?? "changed");
  const org = str(payload, "/organization/login");
  switch (f.event) {
    case "repository": {
      const from =
        str(payload, "/changes/repository/name/from") ??
        str(payload, "/changes/owner/from/user/login") ??
        str(payload, "/changes/owner/from/organization/login");
      return {
        content: withBody(
          joinLines(`${f.who} ${action} repository ${f.where}`, from && `Previously: ${from}`),
          str(payload, "/repository/description"),
        ),
        meta: { visibility: str(payload, "/repository/visibility") },
      };
    }
    case "public":
      return { content: `${f.who} made repository ${f.where} public` };
    case "fork": {
      const forkee = str(payload, "/forkee/full_name") ?? "?";
      return {
        content: `${f.who} forked ${f.where} to ${forkee}`,
        entities: [`repo:${forkee}`],
        meta: { forkee },
      };
    }
    case "member": {
      const member = str(payload, "/member/login") ?? "someone";
      const permission =
        str(payload, "/changes/permission/to") ?? str(payload, "/changes/old_permission/from");
      return {
        content: joinLines(
          `${f.who} ${action} collaborator ${member} ${f.action === "removed" ? "from" : "on"} ${f.where}`,
          permission && `Permission: ${permission}`,
        ),
        entities: user(member),
      };
    }
    case "membership": {
      const member = str(payload, "/member/login") ?? "someone";
      const team = str(payload, "/team/name") ?? "?";
      return {
        content: `${f.who} ${f.action === "removed" ? "removed" : "added"} ${member} ${f.action === "removed" ? "from" : "to"} team ${team}${org ? ` in ${org}` : ""}`,
        tags: [`team:${team}`],
        entities: [...user(member), `team:${team}`],
      };
    }
    case "organization": {
      const member =
        str(payload, "/membership/user/login") ??
        str(payload, "/invitation/login") ??
        str(payload, "/invitation/email");
      const role = str(payload, "/membership/role") ?? str(payload, "/invitation/role");
      return {
        content: joinLines(
          `${f.who}: organization ${org ?? "?"} ${action}${member ? ` (${member})` : ""}`,
          role && `Role: ${role}`,
          str(payload, "/changes/login/from") && `Previously named ${str(payload, "/changes/login/from")}`,
        ),
        entities: [...user(member), ...(org ? [`org:${org}`] : [])],
      };
    }
    case "team":
    case "team_add": {
      const team = str(payload, "/team/name") ?? "?";
      const verb = f.event === "team_add" ? "added to repository" : action;
      const target =
        f.repo && (f.event === "team_add" || f.action?.includes("repository")) ? ` ${f.repo}` : "";
      return {
        content: joinLines(
          `${f.who}: team ${team} ${verb}${target}${org ? ` in ${org}` : ""}`,
          str(payload, "/team/description"),
        ),
        tags: [`team:${team}`],
        entities: [`team:${team}`],
        meta: { permission: str(payload, "/team/permission") },
      };
    }
    case "deploy_key":
      return {
        content: `${f.who} ${action} deploy key "${str(payload, "/key/title") ?? "?"}" on ${f.where}${at(payload, "/key/read_only") === false ? " (read-write)" : ""}`,
      };
    default: {
      const rule = str(payload, "/rule/name") ?? "?";
      return {
        content: `${f.who} ${action} branch protection rule "${rule}" in ${f.where}`,
        tags: [`branch:${rule}`],
      };
    }
  }
}

function githubOther(payload: unknown, f: GithubFacts): GithubDecision {
  switch (f.event) {
    case "milestone":
      return {
        content: withBody(
          `${f.who} ${words(f.action ?? "updated")} milestone "${str(payload, "/milestone/title") ?? "?"}" in ${f.where}${str(payload, "/milestone/due_on") ? ` (due ${str(payload, "/milestone/due_on")})` : ""}`,
          str(payload, "/milestone/description"),
        ),
        meta: { url: str(payload, "/milestone/html_url") },
      };
    case "gollum": {
      const pages = at(payload, "/pages");
      const list = Array.isArray(pages) ? pages.slice(0, 20) : [];
      return {
        content: joinLines(
          `${f.who} changed the wiki of ${f.where}:`,
          ...list.map(
            (p) =>
              `- ${str(p, "/action") ?? "edited"} "${str(p, "/title") ?? str(p, "/page_name") ?? "?"}"${str(p, "/summary") ? `: ${str(p, "/summary")}` : ""}`,
          ),
        ),
      };
    }
    case "deployment": {
      const env = str(payload, "/deployment/environment") ?? "?";
      const ref = str(payload, "/deployment/ref");
      return {
        content: joinLines(
          `${f.who} deployed ${ref ?? (str(payload, "/deployment/sha") ?? "").slice(0, 7)} of ${f.where} to ${env}`,
          str(payload, "/deployment/description"),
        ),
        tags: [`environment:${env}`],
        meta: { environment: env, ref },
      };
    }
    default: {
      // deployment_status
      const state = str(payload, "/deployment_status/state") ?? "";
      if (!FAILED_CONCLUSIONS.has(state) && state !== "error") {
        return { ignore: "ACTION_IGNORED", detail: `deployment_status.${state}` };
      }
      const env =
        str(payload, "/deployment_status/environment") ?? str(payload, "/deployment/environment") ?? "?";
      return {
        content: joinLines(
          `Deployment of ${f.where} to ${env} ended in ${state}`,
          str(payload, "/deployment_status/description"),
        ),
        tags: [`environment:${env}`, `conclusion:${state}`],
        meta: { environment: env, state, url: str(payload, "/deployment_status/target_url") },
      };
    }
  }
}

const GITHUB_HANDLERS: Readonly<Record<string, (payload: unknown, f: GithubFacts) => GithubDecision>> = {
  issues: (p, f) => githubThread(p, f, "issue"),
  pull_request: (p, f) => githubThread(p, f, "pull_request"),
  issue_comment: githubComment,
  pull_request_review_comment: githubComment,
  commit_comment: githubComment,
  discussion_comment: githubComment,
  pull_request_review: githubReview,
  pull_request_review_thread: githubReviewThread,
  release: githubRelease,
  discussion: githubDiscussion,
  push: githubPush,
  create: githubRef,
  delete: githubRef,
  check_run: githubRun,
  check_suite: githubRun,
  workflow_run: githubRun,
  workflow_job: githubRun,
  status: githubRun,
  code_scanning_alert: githubAlert,
  dependabot_alert: githubAlert,
  repository_vulnerability_alert: githubAlert,
  secret_scanning_alert: githubAlert,
  security_advisory: githubAlert,
  repository: githubAccess,
  public: githubAccess,
  fork: githubAccess,
  member: githubAccess,
  membership: githubAccess,
  organization: githubAccess,
  team: githubAccess,
  team_add: githubAccess,
  deploy_key: githubAccess,
  branch_protection_rule: githubAccess,
  milestone: githubOther,
  gollum: githubOther,
  deployment: githubOther,
  deployment_status: githubOther,
};

/** The GitHub events that can become memories (some only for certain actions or conclusions). */
export const GITHUB_MAPPED_EVENTS: readonly string[] = Object.keys(GITHUB_HANDLERS);

/**
 * GitHub webhooks. `event` is the `X-GitHub-Event` header. Every memory says who did what where, with
 * the human text the payload carries (titles, bodies, comments, release notes, reasons). Tags:
 * `github`, `repo:<full_name>`, `event:<event>`, `action:<action>` and event-specific ones
 * (`label:`, `branch:`, `tag:`, `severity:`, `conclusion:`); entities: `user:<login>`, `repo:<full_name>`.
 */
export function mapGithub(event: string | undefined, payload: unknown, ctx: MappingContext): MappingResult {
  if (event === undefined) return ignored("EVENT_UNSUPPORTED", "no X-GitHub-Event header");
  if (event === "ping") return ignored("PING");
  if (!eventTypeAllowed(event, ctx.mapping.eventTypes)) return ignored("EVENT_TYPE_NOT_ALLOWED", event);
  const handler = GITHUB_HANDLERS[event];
  if (handler === undefined || !Object.hasOwn(GITHUB_HANDLERS, event))
    return ignored("EVENT_UNSUPPORTED", event);

  const repo = str(payload, "/repository/full_name");
  const sender = str(payload, "/sender/login");
  const action = str(payload, "/action");
  const facts: GithubFacts = {
    event,
    action,
    repo,
    where: repo ?? str(payload, "/organization/login") ?? "a repository",
    who: sender ?? "someone",
    tags: [
      "github",
      ...(repo ? [`repo:${repo}`] : []),
      `event:${event}`,
      ...(action ? [`action:${action}`] : []),
    ],
    entities: [...user(sender), ...(repo ? [`repo:${repo}`] : [])],
    meta: { event, action, repository: repo, sender },
  };
  const decision = handler(payload, facts);
  if ("ignore" in decision) return ignored(decision.ignore, decision.detail);
  return single(
    ctx,
    payload,
    {
      content: decision.content,
      tags: [...facts.tags, ...(decision.tags ?? [])],
      entities: [...facts.entities, ...(decision.entities ?? [])],
      metadata: { ...facts.meta, ...(decision.meta ?? {}) },
    },
    "event",
  );
}

// ---------------------------------------------------------------------------------------------------
// Slack

const SLACK_ACCEPTED_SUBTYPES = new Set(["thread_broadcast", "file_share", "me_message"]);

/**
 * Reactions that record a decision or a flag (done, approved, rejected, needs attention); other
 * reactions are acknowledged without a memory. A connector may list its own (`options.reactions`).
 */
export const DEFAULT_SLACK_REACTIONS: readonly string[] = [
  "white_check_mark",
  "heavy_check_mark",
  "ballot_box_with_check",
  "x",
  "no_entry",
  "no_entry_sign",
  "rotating_light",
  "warning",
  "pushpin",
  "bookmark",
  "memo",
  "+1",
  "thumbsup",
  "-1",
  "thumbsdown",
];

/** Slack's URL handshake: the `challenge` to echo back, when the payload is one. */
export function slackChallenge(payload: unknown): string | undefined {
  return str(payload, "/type") === "url_verification" ? str(payload, "/challenge") : undefined;
}

type SlackContext = MappingContext & {
  includeBotMessages?: boolean | undefined;
  reactions?: readonly string[] | undefined;
};

const mentionsIn = (text: string) =>
  Array.from(text.matchAll(/<@([UW][A-Z0-9]{2,30})(?:\|[^>]*)?>/g), (m) => `user:${m[1]}`);

/** A slash command (form-encoded `command`, `text`, `user_id`, ...). The verification token and response URL are never kept. */
function mapSlackCommand(payload: unknown, ctx: SlackContext): MappingResult {
  const command = str(payload, "/command") ?? "";
  if (!eventTypeAllowed("slash_command", ctx.mapping.eventTypes))
    return ignored("EVENT_TYPE_NOT_ALLOWED", "slash_command");
  const userId = str(payload, "/user_id");
  const userName = str(payload, "/user_name");
  const channel = str(payload, "/channel_id");
  const channelName = str(payload, "/channel_name");
  const team = str(payload, "/team_id");
  const text = str(payload, "/text") ?? "";
  return single(
    ctx,
    payload,
    {
      content: `${userName ?? userId ?? "someone"} ran ${command}${text ? ` ${text}` : ""}${channelName ? ` in #${channelName}` : ""}`,
      tags: [
        "slack",
        "event:slash_command",
        `command:${command.replace(/^\//, "")}`,
        ...(channel ? [`channel:${channel}`] : []),
        ...(team ? [`team:${team}`] : []),
      ],
      entities: [
        ...(userId ? [`user:${userId}`] : []),
        ...(channel ? [`channel:${channel}`] : []),
        ...mentionsIn(text),
      ],
      metadata: {
        command,
        team_id: team,
        channel,
        channel_name: channelName,
        user: userId,
        user_name: userName,
        trigger_id: str(payload, "/trigger_id"),
      },
    },
    "event",
  );
}

/** The submitted values of a modal: `state.values.<block>.<action>` as `value`, selected options or dates. */
function viewValues(payload: unknown): string[] {
  const values = at(payload, "/view/state/values");
  if (typeof values !== "object" || values === null) return [];
  const out: string[] = [];
  for (const [block, actions] of Object.entries(values)) {
    if (typeof actions !== "object" || actions === null) continue;
    for (const [actionId, v] of Object.entries(actions)) {
      const shown =
        str(v, "/value") ??
        str(v, "/selected_option/text/text") ??
        str(v, "/selected_date") ??
        str(v, "/selected_user") ??
        str(v, "/selected_channel");
      if (shown !== undefined) out.push(`${actionId || block}: ${shown}`);
      if (out.length >= 20) return out;
    }
  }
  return out;
}

/** Interactive payloads (`payload=` JSON): button clicks and menus, modal submissions, shortcuts. */
function mapSlackInteraction(payload: unknown, ctx: SlackContext): MappingResult {
  const type = str(payload, "/type") ?? "";
  if (!eventTypeAllowed(type, ctx.mapping.eventTypes)) return ignored("EVENT_TYPE_NOT_ALLOWED", type);
  const userId = str(payload, "/user/id");
  const who = str(payload, "/user/username") ?? str(payload, "/user/name") ?? userId ?? "someone";
  const channel = str(payload, "/channel/id") ?? str(payload, "/container/channel_id");
  const team = str(payload, "/team/id");
  const messageText = str(payload, "/message/text");
  let content: string;
  switch (type) {
    case "block_actions": {
      const actions = at(payload, "/actions");
      const list = Array.isArray(actions) ? actions.slice(0, 10) : [];
      const chosen = list.map((a) => {
        const label =
          str(a, "/text/text") ??
          str(a, "/selected_option/text/text") ??
          str(a, "/value") ??
          str(a, "/action_id") ??
          "?";
        return `"${label}"${str(a, "/action_id") ? ` (${str(a, "/action_id")})` : ""}`;
      });
      content = joinLines(
        `${who} chose ${chosen.join(", ") || "an action"}${str(payload, "/channel/name") ? ` in #${str(payload, "/channel/name")}` : ""}`,
        messageText && `On message: ${messageText}`,
      );
      break;
    }
    case "view_submission":
      content = joinLines(
        `${who} submitted "${str(payload, "/view/title/text") ?? str(payload, "/view/callback_id") ?? "a form"}"`,
        ...viewValues(payload),
      );
      break;
    case "shortcut":
    case "message_action":
      content = joinLines(
        `${who} used shortcut ${str(payload, "/callback_id") ?? "?"}`,
        messageText && `On message: ${messageText}`,
      );
      break;
    default:
      return ignored("EVENT_UNSUPPORTED", `interaction ${type}`);
  }
  return single(
    ctx,
    payload,
    {
      content,
      tags: [
        "slack",
        `event:${type}`,
        ...(channel ? [`channel:${channel}`] : []),
        ...(team ? [`team:${team}`] : []),
      ],
      entities: [...(userId ? [`user:${userId}`] : []), ...(channel ? [`channel:${channel}`] : [])],
      metadata: {
        interaction: type,
        team_id: team,
        channel,
        user: userId,
        callback_id: str(payload, "/callback_id") ?? str(payload, "/view/callback_id"),
      },
    },
    "event",
  );
}

function mapSlackReaction(payload: unknown, ctx: SlackContext, eventType: string): MappingResult {
  const reaction = str(payload, "/event/reaction") ?? "";
  const meaningful = ctx.reactions ?? DEFAULT_SLACK_REACTIONS;
  if (!meaningful.includes(reaction)) return ignored("ACTION_IGNORED", `${eventType} :${reaction}:`);
  const userId = str(payload, "/event/user");
  const channel = str(payload, "/event/item/channel");
  const ts = str(payload, "/event/item/ts");
  const author = str(payload, "/event/item_user");
  const team = str(payload, "/team_id");
  const verb = eventType === "reaction_added" ? "reacted" : "removed reaction";
  return single(
    ctx,
    payload,
    {
      content: `${userId ? `<@${userId}>` : "someone"} ${verb} :${reaction}: on a message${author ? ` by <@${author}>` : ""}${channel ? ` in <#${channel}>` : ""}${ts ? ` (ts ${ts})` : ""}`,
      tags: [
        "slack",
        `event:${eventType}`,
        `reaction:${reaction}`,
        ...(channel ? [`channel:${channel}`] : []),
        ...(team ? [`team:${team}`] : []),
      ],
      entities: [
        ...(userId ? [`user:${userId}`] : []),
        ...(author ? [`user:${author}`] : []),
        ...(channel ? [`channel:${channel}`] : []),
      ],
      metadata: {
        event_id: str(payload, "/event_id"),
        team_id: team,
        channel,
        user: userId,
        item_ts: ts,
        reaction,
      },
    },
    "event",
  );
}

/**
 * Slack: Events API `event_callback` messages (thread replies included), `app_mention` and
 * meaningful reactions; slash commands and interactive payloads (both form-encoded). Content is the
 * human text; entities the author, the channel and mentioned users. Edits, deletions, joins and (by
 * default) bot posts are ignored.
 */
export function mapSlack(payload: unknown, ctx: SlackContext): MappingResult {
  if (str(payload, "/command")?.startsWith("/")) return mapSlackCommand(payload, ctx);
  const type = str(payload, "/type");
  if (type === "url_verification") return ignored("URL_VERIFICATION");
  if (
    type === "block_actions" ||
    type === "view_submission" ||
    type === "shortcut" ||
    type === "message_action"
  ) {
    return mapSlackInteraction(payload, ctx);
  }
  if (type !== "event_callback") return ignored("NOT_AN_EVENT", type);
  const eventType = str(payload, "/event/type") ?? "";
  if (!eventTypeAllowed(eventType, ctx.mapping.eventTypes))
    return ignored("EVENT_TYPE_NOT_ALLOWED", eventType);
  if (eventType === "reaction_added" || eventType === "reaction_removed")
    return mapSlackReaction(payload, ctx, eventType);
  if (eventType !== "message" && eventType !== "app_mention") return ignored("EVENT_UNSUPPORTED", eventType);
  const subtype = str(payload, "/event/subtype");
  const isBot = subtype === "bot_message" || str(payload, "/event/bot_id") !== undefined;
  if (isBot && ctx.includeBotMessages !== true) return ignored("BOT_MESSAGE");
  if (subtype !== undefined && subtype !== "bot_message" && !SLACK_ACCEPTED_SUBTYPES.has(subtype)) {
    return ignored("ACTION_IGNORED", `message.${subtype}`);
  }
  const text = str(payload, "/event/text") ?? "";
  const user = str(payload, "/event/user") ?? str(payload, "/event/bot_id");
  const channel = str(payload, "/event/channel");
  const team = str(payload, "/team_id") ?? str(payload, "/event/team");
  const ts = str(payload, "/event/ts");
  const threadTs = str(payload, "/event/thread_ts");
  const inThread = threadTs !== undefined && threadTs !== ts;
  return single(
    ctx,
    payload,
    {
      content: text,
      tags: [
        "slack",
        `event:${eventType}`,
        ...(channel ? [`channel:${channel}`] : []),
        ...(team ? [`team:${team}`] : []),
        ...(threadTs ? [`thread:${threadTs}`] : []),
        ...(inThread ? ["thread_reply"] : []),
      ],
      entities: [
        ...(user ? [`user:${user}`] : []),
        ...(channel ? [`channel:${channel}`] : []),
        ...mentionsIn(text),
      ],
      metadata: {
        event_id: str(payload, "/event_id"),
        event_time: num(payload, "/event_time"),
        team_id: team,
        channel,
        user,
        ts,
        thread_ts: threadTs,
        parent_user: str(payload, "/event/parent_user_id"),
        channel_type: str(payload, "/event/channel_type"),
      },
    },
    "message",
  );
}

// ---------------------------------------------------------------------------------------------------
// Stripe

/** ISO 4217 currencies Stripe treats as having no minor unit, and those with three decimals. */
const ZERO_DECIMAL = new Set("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split(" "));
const THREE_DECIMAL = new Set("bhd jod kwd omr tnd".split(" "));

/** Stripe amounts are integers in the currency's minor unit: 2000 usd is 20.00 USD, 2000 jpy is 2000 JPY. */
export function formatStripeAmount(amount: number, currency: string): string {
  const c = currency.toLowerCase();
  const decimals = ZERO_DECIMAL.has(c) ? 0 : THREE_DECIMAL.has(c) ? 3 : 2;
  return `${(amount / 10 ** decimals).toFixed(decimals)} ${c.toUpperCase()}`;
}

/** A customer as a person reads it: `Jenny Rosen <jenny@example.com>`, or just the one that is there. */
function person(name: string | undefined, email: string | undefined): string | undefined {
  if (name && email) return `${name} <${email}>`;
  return name ?? email;
}

type StripeFacts = {
  /** The amount this event is about, in minor units, with the field it came from. */
  amount?: { value: number; field: string };
  currency?: string;
  customerName?: string;
  customerEmail?: string;
  product?: string;
  lines: string[];
  tags: string[];
};

/**
 * The amount that matters for the object: an unpaid invoice is about what is due (it always carries
 * `amount_paid: 0` too), a paid one about what was paid; a refund or dispute its own amount.
 */
function stripeAmount(o: unknown, kind: string | undefined, type: string): StripeFacts["amount"] {
  const pick = (...fields: string[]) => {
    for (const field of fields) {
      const value = num(o, `/${field}`);
      if (value !== undefined) return { value, field };
    }
    return undefined;
  };
  if (kind === "invoice") {
    const paid =
      str(o, "/status") === "paid" || type === "invoice.paid" || type === "invoice.payment_succeeded";
    return paid
      ? pick("amount_paid", "total", "amount_due")
      : pick("amount_due", "amount_remaining", "total");
  }
  if (kind === "checkout.session") return pick("amount_total", "amount_subtotal");
  if (kind === "price") return pick("unit_amount");
  if (kind === "subscription") return undefined;
  return pick("amount", "amount_total");
}

/** The human fields of each object kind: names, emails, descriptions, messages and reasons. */
function stripeFacts(o: unknown, kind: string | undefined, type: string): StripeFacts {
  const f: StripeFacts = { lines: [], tags: [] };
  const amount = stripeAmount(o, kind, type);
  if (amount) f.amount = amount;
  const currency = str(o, "/currency");
  if (currency) f.currency = currency;
  const line = (label: string, value: string | undefined) => {
    if (value) f.lines.push(`${label}: ${value}`);
  };
  const status = str(o, "/status");
  switch (kind) {
    case "payment_intent": {
      f.customerEmail = str(o, "/receipt_email") ?? str(o, "/customer/email");
      f.customerName = str(o, "/customer/name") ?? str(o, "/shipping/name");
      line("Description", str(o, "/description"));
      line("Failure", str(o, "/last_payment_error/message"));
      line("Decline code", str(o, "/last_payment_error/decline_code") ?? str(o, "/last_payment_error/code"));
      line("Cancellation reason", str(o, "/cancellation_reason"));
      line("Status", status);
      break;
    }
    case "charge": {
      f.customerName = str(o, "/billing_details/name");
      f.customerEmail = str(o, "/billing_details/email") ?? str(o, "/receipt_email");
      line("Description", str(o, "/description"));
      line("Failure", str(o, "/failure_message"));
      line("Failure code", str(o, "/failure_code"));
      line("Outcome", str(o, "/outcome/seller_message"));
      const refunded = num(o, "/amount_refunded");
      if (refunded && currency) line("Refunded", formatStripeAmount(refunded, currency));
      line(
        "Card",
        str(o, "/payment_method_details/card/brand") &&
          `${str(o, "/payment_method_details/card/brand")} •••• ${str(o, "/payment_method_details/card/last4") ?? "?"}`,
      );
      break;
    }
    case "refund":
      line("Reason", str(o, "/reason"));
      line("Failure", str(o, "/failure_reason"));
      line("Charge", str(o, "/charge"));
      line("Status", status);
      break;
    case "invoice": {
      f.customerName = str(o, "/customer_name");
      f.customerEmail = str(o, "/customer_email");
      line("Invoice", str(o, "/number"));
      line("Status", status);
      const lines = at(o, "/lines/data");
      if (Array.isArray(lines)) {
        for (const l of lines.slice(0, 10)) {
          const d = str(l, "/description");
          if (d) f.lines.push(`- ${d}`);
        }
      }
      const due = num(o, "/amount_due");
      if (status !== "paid" && due !== undefined && currency)
        line("Amount due", formatStripeAmount(due, currency));
      line("Billing reason", str(o, "/billing_reason"));
      line("Failure", str(o, "/last_finalization_error/message"));
      const attempts = num(o, "/attempt_count");
      if (attempts !== undefined && attempts > 0 && status !== "paid")
        line("Payment attempts", String(attempts));
      line("Link", str(o, "/hosted_invoice_url"));
      break;
    }
    case "subscription": {
      f.customerName = str(o, "/customer/name");
      f.customerEmail = str(o, "/customer/email");
      line("Status", status);
      const items = at(o, "/items/data");
      if (Array.isArray(items)) {
        for (const item of items.slice(0, 10)) {
          const nickname = str(item, "/price/nickname") ?? str(item, "/plan/nickname");
          const product =
            str(item, "/price/product/name") ?? str(item, "/price/product") ?? str(item, "/plan/product");
          const unit = num(item, "/price/unit_amount") ?? num(item, "/plan/amount");
          const cur = str(item, "/price/currency") ?? str(item, "/plan/currency");
          const interval = str(item, "/price/recurring/interval") ?? str(item, "/plan/interval");
          if (!f.product && product) f.product = product;
          f.lines.push(
            `- ${[nickname, product].filter(Boolean).join(" / ") || "item"}${unit !== undefined && cur ? ` at ${formatStripeAmount(unit, cur)}${interval ? `/${interval}` : ""}` : ""}`,
          );
        }
      }
      if (at(o, "/cancel_at_period_end") === true) f.lines.push("Cancels at the end of the period.");
      line("Cancellation reason", str(o, "/cancellation_details/reason"));
      line("Cancellation feedback", str(o, "/cancellation_details/feedback"));
      line("Cancellation comment", str(o, "/cancellation_details/comment"));
      break;
    }
    case "customer":
      f.customerName = str(o, "/name");
      f.customerEmail = str(o, "/email");
      line("Description", str(o, "/description"));
      line("Phone", str(o, "/phone"));
      break;
    case "product":
      f.product = str(o, "/name");
      line("Description", str(o, "/description"));
      if (typeof at(o, "/active") === "boolean") line("Active", at(o, "/active") ? "yes" : "no");
      break;
    case "price": {
      f.product = str(o, "/product/name") ?? str(o, "/product");
      line("Nickname", str(o, "/nickname"));
      line("Interval", str(o, "/recurring/interval"));
      break;
    }
    case "dispute":
      line("Reason", str(o, "/reason"));
      line("Status", status);
      line("Charge", str(o, "/charge"));
      {
        const due = num(o, "/evidence_details/due_by");
        if (due !== undefined) line("Evidence due", new Date(due * 1000).toISOString().slice(0, 10));
      }
      break;
    case "payout": {
      line("Status", status);
      line("Description", str(o, "/description"));
      line("Statement descriptor", str(o, "/statement_descriptor"));
      line("Failure", str(o, "/failure_message"));
      line("Failure code", str(o, "/failure_code"));
      const arrival = num(o, "/arrival_date");
      if (arrival !== undefined) line("Arrival", new Date(arrival * 1000).toISOString().slice(0, 10));
      break;
    }
    case "checkout.session":
      f.customerName = str(o, "/customer_details/name");
      f.customerEmail = str(o, "/customer_details/email") ?? str(o, "/customer_email");
      line("Payment status", str(o, "/payment_status"));
      line("Status", status);
      break;
    default:
      line("Description", str(o, "/description"));
      line("Status", status);
  }
  return f;
}

/** `customer.subscription.deleted` reads as "customer subscription deleted". */
function stripeHeadline(type: string): string {
  return type.replace(/[._]/g, " ");
}

/**
 * Stripe events: a headline with the amount in the right field and currency and the customer, then the
 * object's human fields (product and customer names, emails, failure messages, cancellation and
 * dispute reasons). Tags `stripe`, `event:<type>`, `object:<kind>`, `mode:live|test`; entities
 * `customer:<id>`, `product:<id>` and `<kind>:<id>`.
 */
export function mapStripe(payload: unknown, ctx: MappingContext): MappingResult {
  if (str(payload, "/object") !== "event") return ignored("NOT_AN_EVENT");
  const type = str(payload, "/type");
  if (type === undefined) return ignored("NOT_AN_EVENT", "no type");
  if (!eventTypeAllowed(type, ctx.mapping.eventTypes)) return ignored("EVENT_TYPE_NOT_ALLOWED", type);
  const o = at(payload, "/data/object");
  const objectKind = str(o, "/object");
  const objectId = str(o, "/id");
  const facts = stripeFacts(o, objectKind, type);
  // `customer` is an id unless the sender expanded it into an object.
  const customer = objectKind === "customer" ? objectId : (str(o, "/customer") ?? str(o, "/customer/id"));
  const productId =
    objectKind === "product" ? objectId : (str(o, "/product") ?? str(o, "/product/id") ?? facts.product);
  const livemode = at(payload, "/livemode");
  const who = person(facts.customerName, facts.customerEmail);

  let head = `Stripe ${stripeHeadline(type)}`;
  const details: string[] = [];
  if (facts.amount !== undefined && facts.currency !== undefined) {
    details.push(formatStripeAmount(facts.amount.value, facts.currency));
  }
  if (facts.product && objectKind !== "product") details.push(facts.product);
  if (objectKind === "product" && facts.product) details.push(`product ${facts.product}`);
  if (who) details.push(who);
  else if (customer && objectKind !== "customer") details.push(`customer ${customer}`);
  if (details.length > 0) head += `: ${details.join(", ")}`;
  if (objectKind || objectId) head += ` (${[objectKind, objectId].filter(Boolean).join(" ")})`;

  return single(
    ctx,
    payload,
    {
      content: joinLines(head, ...facts.lines),
      tags: [
        "stripe",
        `event:${type}`,
        ...(objectKind ? [`object:${objectKind}`] : []),
        ...(typeof livemode === "boolean" ? [livemode ? "mode:live" : "mode:test"] : []),
        ...facts.tags,
      ],
      entities: [
        ...(customer ? [`customer:${customer}`] : []),
        ...(productId?.startsWith("prod_") ? [`product:${productId}`] : []),
        ...(objectKind && objectId ? [`${objectKind}:${objectId}`] : []),
      ],
      metadata: {
        event_id: str(payload, "/id"),
        event_type: type,
        object: objectKind,
        object_id: objectId,
        amount: facts.amount?.value,
        amount_field: facts.amount?.field,
        currency: facts.currency,
        customer,
        customer_name: facts.customerName,
        customer_email: facts.customerEmail,
        livemode: typeof livemode === "boolean" ? livemode : undefined,
        created: num(payload, "/created"),
      },
    },
    "event",
  );
}

// ---------------------------------------------------------------------------------------------------
// Generic

function contentText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null || value === undefined) return undefined;
  return JSON.stringify(value);
}

/**
 * Any JSON payload, shaped by the mapping's JSON pointers: `contentPointer` for the text (objects are
 * stored as their JSON), `tagPointers` and `entityPointers` for labels (strings or arrays of strings),
 * `metadataPointers` for scalar fields.
 */
export function mapGeneric(payload: unknown, ctx: MappingContext): MappingResult {
  const m = ctx.mapping;
  if (m.eventTypePointer !== undefined) {
    const type = contentText(at(payload, m.eventTypePointer)) ?? "";
    if (!eventTypeAllowed(type, m.eventTypes)) return ignored("EVENT_TYPE_NOT_ALLOWED", type);
  }
  const content = m.contentPointer === undefined ? undefined : contentText(at(payload, m.contentPointer));
  if (content === undefined) return ignored("NO_CONTENT");
  return single(ctx, payload, { content, tags: [], entities: [], metadata: {} }, "event");
}

// ---------------------------------------------------------------------------------------------------
// Dispatch

function headerString(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/**
 * Parses a verified body. JSON as is; `application/x-www-form-urlencoded` is either a `payload=`
 * field holding JSON (GitHub hooks set to form content, Slack interactivity) or plain fields (Slack
 * slash commands), returned as an object of strings. `undefined` when the body is neither.
 */
export function parseDeliveryBody(body: Buffer, contentType: string | undefined): unknown {
  const text = body.toString("utf8");
  const mediaType = (contentType ?? "").split(";")[0]?.trim().toLowerCase();
  if (mediaType === "application/x-www-form-urlencoded") {
    const form = new URLSearchParams(text);
    const inner = form.get("payload");
    if (inner !== null) {
      try {
        return JSON.parse(inner) as unknown;
      } catch {
        return undefined;
      }
    }
    const fields: Record<string, string> = {};
    for (const [k, v] of form) if (!Object.hasOwn(fields, k)) fields[k] = v;
    return Object.keys(fields).length > 0 ? fields : undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export type MapDeliveryInput = {
  config: ConnectorConfig;
  /** Lower-cased request headers (GitHub names its event in one). */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The parsed body (`parseDeliveryBody`); `undefined` when it was neither JSON nor a form. */
  payload: unknown;
  deliveryId?: string;
};

/** Maps a verified delivery with its connector's mapping (built-in or generic). */
export function mapDelivery(input: MapDeliveryInput): MappingResult {
  const { config, payload } = input;
  if (payload === undefined) return ignored("NO_CONTENT", "body is neither JSON nor a form");
  const ctx: MappingContext = {
    mapping: config.mapping,
    source: config.source,
    ...(input.deliveryId === undefined ? {} : { deliveryId: input.deliveryId }),
  };
  const kind = config.mapping.kind ?? defaultMappingKind(config.source);
  if (kind === "generic") return mapGeneric(payload, ctx);
  switch (config.source) {
    case "github":
      return mapGithub(headerString(input.headers["x-github-event"]), payload, ctx);
    case "slack":
      return mapSlack(payload, {
        ...ctx,
        includeBotMessages: config.options.includeBotMessages,
        reactions: config.options.reactions,
      });
    case "stripe":
      return mapStripe(payload, ctx);
    default:
      return mapGeneric(payload, ctx);
  }
}

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

const ISSUE_ACTIONS = new Set(["opened", "edited", "closed", "reopened"]);
const PR_ACTIONS = new Set(["opened", "edited", "closed", "reopened", "ready_for_review"]);
const COMMENT_ACTIONS = new Set(["created", "edited"]);

function withBody(head: string, body: string | undefined): string {
  return body === undefined || body.trim() === "" ? head : `${head}\n\n${body}`;
}

/**
 * GitHub issues, pull requests, their comments and reviews, and pushes. `event` is the
 * `X-GitHub-Event` header. Tags: `github`, `repo:<full_name>`, `event:<event>`, `label:<name>`;
 * entities: `user:<login>` for the people involved and `repo:<full_name>`.
 */
export function mapGithub(event: string | undefined, payload: unknown, ctx: MappingContext): MappingResult {
  if (event === undefined) return ignored("EVENT_UNSUPPORTED", "no X-GitHub-Event header");
  if (event === "ping") return ignored("PING");
  if (!eventTypeAllowed(event, ctx.mapping.eventTypes)) return ignored("EVENT_TYPE_NOT_ALLOWED", event);

  const repo = str(payload, "/repository/full_name");
  const sender = str(payload, "/sender/login");
  const action = str(payload, "/action");
  const baseTags = ["github", ...(repo ? [`repo:${repo}`] : []), `event:${event}`];
  const baseEntities = [...(sender ? [`user:${sender}`] : []), ...(repo ? [`repo:${repo}`] : [])];
  const where = repo ?? "a repository";
  const who = sender ?? "someone";
  const labelsOf = (pointer: string) => {
    const labels = at(payload, pointer);
    return Array.isArray(labels)
      ? labels.flatMap((l) => {
          const name = str(l, "/name");
          return name ? [`label:${name}`] : [];
        })
      : [];
  };
  const baseMeta = { event, action, repository: repo, sender };

  switch (event) {
    case "issues": {
      if (action === undefined || !ISSUE_ACTIONS.has(action))
        return ignored("ACTION_IGNORED", `issues.${action}`);
      const n = num(payload, "/issue/number");
      const title = str(payload, "/issue/title") ?? "";
      const author = str(payload, "/issue/user/login");
      const head = `${who} ${action} issue #${n ?? "?"} in ${where}: ${title}`;
      const body = action === "opened" || action === "edited" ? str(payload, "/issue/body") : undefined;
      return single(
        ctx,
        payload,
        {
          content: withBody(head, body),
          tags: [...baseTags, ...labelsOf("/issue/labels")],
          entities: [...baseEntities, ...(author ? [`user:${author}`] : [])],
          metadata: {
            ...baseMeta,
            number: n,
            url: str(payload, "/issue/html_url"),
            state: str(payload, "/issue/state"),
          },
        },
        "event",
      );
    }
    case "pull_request": {
      if (action === undefined || !PR_ACTIONS.has(action)) {
        return ignored("ACTION_IGNORED", `pull_request.${action}`);
      }
      const n = num(payload, "/pull_request/number") ?? num(payload, "/number");
      const title = str(payload, "/pull_request/title") ?? "";
      const author = str(payload, "/pull_request/user/login");
      const merged = at(payload, "/pull_request/merged") === true;
      const verb = action === "closed" && merged ? "merged" : action.replace(/_/g, " ");
      const head = `${who} ${verb} pull request #${n ?? "?"} in ${where}: ${title}`;
      const body =
        action === "opened" || action === "edited" ? str(payload, "/pull_request/body") : undefined;
      return single(
        ctx,
        payload,
        {
          content: withBody(head, body),
          tags: [...baseTags, ...labelsOf("/pull_request/labels"), ...(merged ? ["state:merged"] : [])],
          entities: [...baseEntities, ...(author ? [`user:${author}`] : [])],
          metadata: {
            ...baseMeta,
            number: n,
            url: str(payload, "/pull_request/html_url"),
            merged,
            base: str(payload, "/pull_request/base/ref"),
            head: str(payload, "/pull_request/head/ref"),
          },
        },
        "event",
      );
    }
    case "issue_comment":
    case "pull_request_review_comment": {
      if (action === undefined || !COMMENT_ACTIONS.has(action)) {
        return ignored("ACTION_IGNORED", `${event}.${action}`);
      }
      const onPr =
        event === "pull_request_review_comment" || at(payload, "/issue/pull_request") !== undefined;
      const parent = event === "issue_comment" ? "/issue" : "/pull_request";
      const n = num(payload, `${parent}/number`);
      const title = str(payload, `${parent}/title`) ?? "";
      const author = str(payload, "/comment/user/login") ?? who;
      const path = str(payload, "/comment/path");
      const head =
        `${author} ${action === "edited" ? "edited a comment" : "commented"} on ` +
        `${onPr ? "pull request" : "issue"} #${n ?? "?"} in ${where} (${title})` +
        (path ? ` at ${path}` : "") +
        ":";
      return single(
        ctx,
        payload,
        {
          content: withBody(head, str(payload, "/comment/body")),
          tags: baseTags,
          entities: [...baseEntities, `user:${author}`],
          metadata: { ...baseMeta, number: n, url: str(payload, "/comment/html_url"), path },
        },
        "event",
      );
    }
    case "pull_request_review": {
      if (action !== "submitted") return ignored("ACTION_IGNORED", `${event}.${action}`);
      const n = num(payload, "/pull_request/number");
      const title = str(payload, "/pull_request/title") ?? "";
      const state = (str(payload, "/review/state") ?? "reviewed").toLowerCase();
      const verb =
        state === "approved"
          ? "approved"
          : state === "changes_requested"
            ? "requested changes on"
            : "reviewed";
      return single(
        ctx,
        payload,
        {
          content: withBody(
            `${who} ${verb} pull request #${n ?? "?"} in ${where}: ${title}`,
            str(payload, "/review/body"),
          ),
          tags: [...baseTags, `review:${state}`],
          entities: baseEntities,
          metadata: { ...baseMeta, number: n, url: str(payload, "/review/html_url"), review_state: state },
        },
        "event",
      );
    }
    case "push": {
      if (at(payload, "/deleted") === true) return ignored("ACTION_IGNORED", "push.deleted");
      const commits = at(payload, "/commits");
      if (!Array.isArray(commits) || commits.length === 0)
        return ignored("NO_CONTENT", "push without commits");
      const ref = str(payload, "/ref") ?? "";
      const branch = ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : ref;
      const pusher = str(payload, "/pusher/name") ?? who;
      const lines = commits.slice(0, MAX_PUSH_COMMITS).map((c) => {
        const sha = (str(c, "/id") ?? "").slice(0, 7);
        const message = (str(c, "/message") ?? "").split("\n")[0] ?? "";
        return `- ${sha} ${message}`;
      });
      if (commits.length > MAX_PUSH_COMMITS) lines.push(`- … and ${commits.length - MAX_PUSH_COMMITS} more`);
      const authors = commits.flatMap((c) => {
        const login = str(c, "/author/username");
        return login ? [`user:${login}`] : [];
      });
      const count = commits.length === 1 ? "1 commit" : `${commits.length} commits`;
      return single(
        ctx,
        payload,
        {
          content: `${pusher} pushed ${count} to ${branch} in ${where}:\n${lines.join("\n")}`,
          tags: [...baseTags, ...(branch ? [`branch:${branch}`] : [])],
          entities: [...baseEntities, ...authors],
          metadata: {
            ...baseMeta,
            ref,
            before: str(payload, "/before"),
            after: str(payload, "/after"),
            compare: str(payload, "/compare"),
            commits: commits.length,
          },
        },
        "event",
      );
    }
    default:
      return ignored("EVENT_UNSUPPORTED", event);
  }
}

// ---------------------------------------------------------------------------------------------------
// Slack

const SLACK_ACCEPTED_SUBTYPES = new Set(["thread_broadcast", "file_share", "me_message"]);

/** Slack's URL handshake: the `challenge` to echo back, when the payload is one. */
export function slackChallenge(payload: unknown): string | undefined {
  return str(payload, "/type") === "url_verification" ? str(payload, "/challenge") : undefined;
}

/**
 * Slack Events API `event_callback` message events (and `app_mention`). Content is the message text;
 * entities are the author, the channel and any mentioned users. Edits, deletions, joins and (by
 * default) bot posts are ignored.
 */
export function mapSlack(
  payload: unknown,
  ctx: MappingContext & { includeBotMessages?: boolean | undefined },
): MappingResult {
  const type = str(payload, "/type");
  if (type === "url_verification") return ignored("URL_VERIFICATION");
  if (type !== "event_callback") return ignored("NOT_AN_EVENT", type);
  const eventType = str(payload, "/event/type") ?? "";
  if (eventType !== "message" && eventType !== "app_mention") return ignored("EVENT_UNSUPPORTED", eventType);
  if (!eventTypeAllowed(eventType, ctx.mapping.eventTypes))
    return ignored("EVENT_TYPE_NOT_ALLOWED", eventType);
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
  const mentioned = Array.from(text.matchAll(/<@([UW][A-Z0-9]{2,30})(?:\|[^>]*)?>/g), (m) => `user:${m[1]}`);
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
      ],
      entities: [...(user ? [`user:${user}`] : []), ...(channel ? [`channel:${channel}`] : []), ...mentioned],
      metadata: {
        event_id: str(payload, "/event_id"),
        event_time: num(payload, "/event_time"),
        team_id: team,
        channel,
        user,
        ts: str(payload, "/event/ts"),
        thread_ts: str(payload, "/event/thread_ts"),
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

/**
 * Stripe events: type, the object's kind and id, and amount, currency and customer where the object
 * has them. Content is one short sentence; the rest goes to tags, entities and metadata.
 */
export function mapStripe(payload: unknown, ctx: MappingContext): MappingResult {
  if (str(payload, "/object") !== "event") return ignored("NOT_AN_EVENT");
  const type = str(payload, "/type");
  if (type === undefined) return ignored("NOT_AN_EVENT", "no type");
  if (!eventTypeAllowed(type, ctx.mapping.eventTypes)) return ignored("EVENT_TYPE_NOT_ALLOWED", type);
  const objectKind = str(payload, "/data/object/object");
  const objectId = str(payload, "/data/object/id");
  const amount =
    num(payload, "/data/object/amount") ??
    num(payload, "/data/object/amount_total") ??
    num(payload, "/data/object/amount_paid") ??
    num(payload, "/data/object/amount_due");
  const currency = str(payload, "/data/object/currency");
  // `customer` is an id unless the sender expanded it into an object.
  const customer = str(payload, "/data/object/customer") ?? str(payload, "/data/object/customer/id");
  const livemode = at(payload, "/livemode");

  let sentence = `Stripe event ${type}`;
  if (objectKind || objectId) sentence += ` for ${[objectKind, objectId].filter(Boolean).join(" ")}`;
  const details: string[] = [];
  if (amount !== undefined && currency !== undefined) details.push(formatStripeAmount(amount, currency));
  if (customer) details.push(`customer ${customer}`);
  if (details.length > 0) sentence += `: ${details.join(", ")}`;
  sentence += ".";

  return single(
    ctx,
    payload,
    {
      content: sentence,
      tags: [
        "stripe",
        `event:${type}`,
        ...(objectKind ? [`object:${objectKind}`] : []),
        ...(typeof livemode === "boolean" ? [livemode ? "mode:live" : "mode:test"] : []),
      ],
      entities: [
        ...(customer ? [`customer:${customer}`] : []),
        ...(objectKind && objectId ? [`${objectKind}:${objectId}`] : []),
      ],
      metadata: {
        event_id: str(payload, "/id"),
        event_type: type,
        object: objectKind,
        object_id: objectId,
        amount,
        currency,
        customer,
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

export type MapDeliveryInput = {
  config: ConnectorConfig;
  /** Lower-cased request headers (GitHub names its event in one). */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The parsed JSON body; `undefined` when the body was not JSON. */
  payload: unknown;
  deliveryId?: string;
};

/** Maps a verified delivery with its connector's mapping (built-in or generic). */
export function mapDelivery(input: MapDeliveryInput): MappingResult {
  const { config, payload } = input;
  if (payload === undefined) return ignored("NO_CONTENT", "body is not JSON");
  const ctx: MappingContext = {
    mapping: config.mapping,
    source: config.source,
    ...(input.deliveryId === undefined ? {} : { deliveryId: input.deliveryId }),
  };
  const kind = config.mapping.kind ?? defaultMappingKind(config.source);
  if (kind === "generic") return mapGeneric(payload, ctx);
  switch (config.source) {
    case "github": {
      const raw = input.headers["x-github-event"];
      const event = typeof raw === "string" ? raw : undefined;
      return mapGithub(event, payload, ctx);
    }
    case "slack":
      return mapSlack(payload, { ...ctx, includeBotMessages: config.options.includeBotMessages });
    case "stripe":
      return mapStripe(payload, ctx);
    default:
      return mapGeneric(payload, ctx);
  }
}

import type { ConnectorSource, MappingConfig } from "./connectors.schemas.ts";

/**
 * The shared kit of the payload mappings (one file per provider beside it): draft types, label and
 * content bounds, JSON pointers. Pure: no I/O, no clock. Every string that leaves a mapping is
 * bounded and every tag/entity is in the label alphabet, so the memory service receives drafts it can
 * validate rather than raw third-party JSON.
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
export const MAX_METADATA_STRING = 512;
export const MAX_PUSH_COMMITS = 20;

// ---------------------------------------------------------------------------------------------------
// Sanitising

export const LABEL_DISALLOWED = /[^\p{L}\p{N} _.:/@#-]+/gu;
export const LEADING_NON_ALNUM = /^[^\p{L}\p{N}]+/u;

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

export function metadataString(value: string): string {
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

export function at(doc: unknown, pointer: string): unknown {
  const r = resolvePointer(doc, pointer);
  return r.found ? r.value : undefined;
}

export function str(doc: unknown, pointer: string): string | undefined {
  const v = at(doc, pointer);
  return typeof v === "string" && v !== "" ? v : undefined;
}

export function num(doc: unknown, pointer: string): number | undefined {
  const v = at(doc, pointer);
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** Strings from a value that is a string, number, or an array of those (other shapes give nothing). */
export function labelStrings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (typeof value === "number" && Number.isFinite(value)) return [String(value)];
  if (Array.isArray(value)) return value.slice(0, MAX_LABELS).flatMap((v) => labelStrings(v));
  return [];
}

export function compact(metadata: Record<string, MetadataValue | undefined>): Record<string, MetadataValue> {
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

export type DraftParts = {
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

export function ignored(reason: IgnoreReason, detail?: string): MappingResult {
  return {
    drafts: [],
    ignored: detail === undefined ? { reason } : { reason, detail: metadataString(detail) },
  };
}

/** Applies the mapping's namespace, type, static tags and extra pointers, then bounds everything. */
export function draft(
  ctx: MappingContext,
  payload: unknown,
  parts: DraftParts,
  defaultType: string,
): MemoryDraft {
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

export function single(
  ctx: MappingContext,
  payload: unknown,
  parts: DraftParts,
  defaultType: string,
): MappingResult {
  if (parts.content.trim() === "") return ignored("NO_CONTENT");
  return { drafts: [draft(ctx, payload, parts, defaultType)] };
}

/** The non-empty lines, one per line. */
export function joinLines(...lines: (string | undefined | false)[]): string {
  return lines.filter((l): l is string => typeof l === "string" && l.trim() !== "").join("\n");
}

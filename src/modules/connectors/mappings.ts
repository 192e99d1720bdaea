/**
 * Turns a verified webhook payload into memory drafts: the body parser and the dispatcher to the
 * provider mappings (mappings.github.ts, mappings.slack.ts, mappings.stripe.ts, the generic one here).
 * Pure: no I/O, no clock. Payload text is stored as given; secret scanning happens where every memory
 * is written, not here.
 */

import type { ConnectorConfig } from "./connectors.schemas.ts";
import { defaultMappingKind } from "./connectors.schemas.ts";
import { mapGithub } from "./mappings.github.ts";
import {
  at,
  eventTypeAllowed,
  ignored,
  type MappingContext,
  type MappingResult,
  single,
} from "./mappings.kit.ts";
import { mapSlack } from "./mappings.slack.ts";
import { mapStripe } from "./mappings.stripe.ts";

/** What callers name: the provider mappings and the kit's public part. */
export { GITHUB_MAPPED_EVENTS, GITHUB_SKIPPED_EVENTS, mapGithub } from "./mappings.github.ts";
export {
  capContent,
  DEFAULT_MAX_CONTENT_CHARS,
  eventTypeAllowed,
  type IgnoreReason,
  MAX_LABEL_CHARS,
  MAX_LABELS,
  type MappingContext,
  type MappingResult,
  type MemoryDraft,
  type MetadataValue,
  type PointerResult,
  resolvePointer,
  sanitiseLabel,
  sanitiseLabels,
} from "./mappings.kit.ts";
export { DEFAULT_SLACK_REACTIONS, mapSlack, slackChallenge } from "./mappings.slack.ts";
export { formatStripeAmount, mapStripe } from "./mappings.stripe.ts";

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

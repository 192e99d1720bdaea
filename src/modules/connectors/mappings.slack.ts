import {
  at,
  eventTypeAllowed,
  ignored,
  joinLines,
  type MappingContext,
  type MappingResult,
  num,
  single,
  str,
} from "./mappings.kit.ts";

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

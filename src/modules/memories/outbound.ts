import { inspectFields } from "./fields.ts";
import type { Memory } from "./memories.schemas.ts";

/** The tenant's outbound inspection of one text: what may leave, or null to withhold it. */
export type OutboundInspect = (text: string) => Promise<{ content: string; flagged: boolean } | null>;

export type ScreenedMemory = { memory: Memory; flagged: boolean };

/**
 * Applies the outbound policy to a memory on its way to a caller: the content, every tag and entity,
 * and every metadata string (values and list items), as `fields.ts` lays them out. A metadata value
 * is inspected as `key: value` (a tag as `tag: value`), so a secret whose shape is only recognisable
 * by its name (`aws_secret_access_key`, `password`) is found too. The lines are inspected together in
 * one pass when they split back exactly (no line breaks inside values), else one by one.
 * Returns null when the policy withholds any part: a memory leaves whole or not at all.
 *
 * @example
 * await screenMemory(inspect, { ...m, metadata: { password: "hunter2hunter2" } })
 * // → { memory: { …, metadata: { password: "[REDACTED:password_assignment]" } }, flagged: true }
 */
export async function screenMemory(
  inspect: OutboundInspect | null,
  memory: Memory,
): Promise<ScreenedMemory | null> {
  if (!inspect) return { memory, flagged: false };
  const content = await inspect(memory.content);
  if (content === null) return null;
  let flagged = content.flagged;
  const fields = await inspectFields(memory, async (text) => {
    const out = await inspect(text);
    if (out?.flagged) flagged = true;
    return out === null ? null : out.content;
  });
  if (fields === null) return null;
  return { memory: { ...fields, content: content.content }, flagged };
}

/** Screens a list, dropping withheld memories; counts what was withheld and flagged for the audit. */
export async function screenMemories(
  inspect: OutboundInspect | null,
  memories: readonly Memory[],
): Promise<{ memories: Memory[]; withheld: number; flagged: number }> {
  const out: Memory[] = [];
  let withheld = 0;
  let flagged = 0;
  for (const m of memories) {
    const screened = await screenMemory(inspect, m);
    if (screened === null) {
      withheld++;
      continue;
    }
    if (screened.flagged) flagged++;
    out.push(screened.memory);
  }
  return { memories: out, withheld, flagged };
}

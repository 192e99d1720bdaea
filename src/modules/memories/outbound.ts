import type { Memory } from "./memories.schemas.ts";

/** The tenant's outbound inspection of one text: what may leave, or null to withhold it. */
export type OutboundInspect = (text: string) => Promise<{ content: string; flagged: boolean } | null>;

export type ScreenedMemory = { memory: Memory; flagged: boolean };

/**
 * Applies the outbound policy to a memory on its way to a caller: the content and every metadata
 * string (values and list items). A metadata value is inspected as `key: value`, so a secret whose
 * shape is only recognisable by its name (`aws_secret_access_key`, `password`) is found too. The
 * metadata lines are inspected together in one pass when they split back exactly (no line breaks
 * inside values), else one by one.
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

  const screenValue = async (key: string, value: unknown): Promise<{ value: unknown } | null> => {
    if (typeof value !== "string") return { value };
    const prefix = `${key}: `;
    const out = await inspect(prefix + value);
    if (out === null) return null;
    if (out.flagged) flagged = true;
    return { value: out.content.startsWith(prefix) ? out.content.slice(prefix.length) : out.content };
  };

  // Fast path: every string as one `key: value` line, inspected in one pass, then split back.
  // Used only when no value holds a line break and the answer splits back line for line.
  const leaves: { key: string; index: number | null; value: string }[] = [];
  for (const [key, value] of Object.entries(memory.metadata)) {
    if (typeof value === "string") leaves.push({ key, index: null, value });
    else if (Array.isArray(value))
      value.forEach((item, index) => {
        if (typeof item === "string") leaves.push({ key, index, value: item });
      });
  }
  if (leaves.length === 0) return { memory: { ...memory, content: content.content }, flagged };
  if (!leaves.some((l) => /[\r\n\u2028\u2029\u0085]/.test(l.value))) {
    const out = await inspect(leaves.map((l) => `${l.key}: ${l.value}`).join("\n"));
    if (out === null) return null;
    const lines = out.content.split("\n");
    if (lines.length === leaves.length && lines.every((line, i) => line.startsWith(`${leaves[i]?.key}: `))) {
      const metadata: Record<string, unknown> = { ...memory.metadata };
      for (const key of Object.keys(metadata))
        if (Array.isArray(metadata[key])) metadata[key] = [...(metadata[key] as unknown[])];
      leaves.forEach((leaf, i) => {
        const value = (lines[i] ?? "").slice(leaf.key.length + 2);
        if (leaf.index === null) metadata[leaf.key] = value;
        else (metadata[leaf.key] as unknown[])[leaf.index] = value;
      });
      return { memory: { ...memory, content: content.content, metadata }, flagged: flagged || out.flagged };
    }
  }

  const metadata: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(memory.metadata)) {
    if (Array.isArray(value)) {
      const items: unknown[] = [];
      for (const item of value) {
        const screened = await screenValue(key, item);
        if (screened === null) return null;
        items.push(screened.value);
      }
      metadata[key] = items;
    } else {
      const screened = await screenValue(key, value);
      if (screened === null) return null;
      metadata[key] = screened.value;
    }
  }
  return { memory: { ...memory, content: content.content, metadata }, flagged };
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

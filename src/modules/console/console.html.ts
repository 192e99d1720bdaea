import { escapeHtml } from "../../lib/html.ts";

/** Markup that is already safe (built by `html`); everything else interpolated is escaped. */
export type Html = { readonly __html: string };

const raw = (value: string): Html => ({ __html: value });
const isHtml = (v: unknown): v is Html => typeof v === "object" && v !== null && "__html" in v;

function part(v: unknown): string {
  if (v === null || v === undefined || v === false) return "";
  if (isHtml(v)) return v.__html;
  if (Array.isArray(v)) return v.map(part).join("");
  return escapeHtml(String(v));
}

/**
 * Tagged template for the console's markup: every interpolated value is escaped unless it is markup
 * built by this same tag; arrays are joined; null, undefined and false render nothing.
 *
 * @example
 * html`<td>${memory.content}</td>` // "<script>" arrives as "&lt;script&gt;"
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) out += part(values[i]) + (strings[i + 1] ?? "");
  return raw(out);
}

/** A document: the doctype and the rendered markup. */
export const documentOf = (body: Html): string => `<!doctype html>\n${body.__html}`;

/**
 * Strict decoders. Node's Buffer.from(s, "base64") skips characters it does not know and ignores
 * stray trailing bits, so two different strings can decode to the same bytes. Key material and
 * ciphertexts are accepted only in their one canonical spelling.
 */

/** Decodes standard base64 (padding optional) or base64url; null unless the text is canonical. */
export function decodeBase64Strict(text: string): Buffer | null {
  const s = text.trim();
  if (s.length === 0) return null;
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(s)) {
    const bytes = Buffer.from(s, "base64");
    return bytes.toString("base64").replace(/=+$/, "") === s.replace(/=+$/, "") ? bytes : null;
  }
  return decodeBase64UrlStrict(s);
}

/** Decodes unpadded base64url; null unless `text` is exactly what `toString("base64url")` gives. */
export function decodeBase64UrlStrict(text: string): Buffer | null {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
  const bytes = Buffer.from(text, "base64url");
  return bytes.toString("base64url") === text ? bytes : null;
}

/**
 * Encodes the parts of an HKDF info or AEAD associated-data string unambiguously: a JSON array, so
 * ("a.b", "c") and ("a", "b.c") can never produce the same bytes whatever the ids contain.
 */
export function bindingLabel(...parts: ReadonlyArray<string | number>): Buffer {
  return Buffer.from(JSON.stringify(parts), "utf8");
}

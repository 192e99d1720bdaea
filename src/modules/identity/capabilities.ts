/**
 * Scopes and capabilities.
 *
 * Coarse scopes (`read`, `write`, `admin`) say how much a credential may do; fine-grained
 * capabilities (`memories.recall`, `egress.github.read`) say what exactly. Capabilities are dotted
 * names matched on whole segments only, so a grant never leaks to a sibling whose name merely
 * starts with the same letters: `github.read` covers `github.read.issues`, never `github`,
 * `github.write` or `github.readme`.
 */

export const SCOPES = ["read", "write", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

/** Each scope includes the ones below it: admin ⊇ write ⊇ read. */
const SCOPE_RANK: Record<Scope, number> = { read: 1, write: 2, admin: 3 };

export function isScope(value: unknown): value is Scope {
  return typeof value === "string" && Object.hasOwn(SCOPE_RANK, value);
}

/** True when any granted scope is at least as strong as `required`. Unknown strings grant nothing. */
export function scopeSatisfies(granted: readonly string[], required: Scope): boolean {
  return granted.some((scope) => isScope(scope) && SCOPE_RANK[scope] >= SCOPE_RANK[required]);
}

/** A segment: lowercase letters, digits, `_` or `-`. Case matters, so `GitHub` is not `github`. */
const SEGMENT = /^[a-z0-9_-]{1,64}$/;
export const MAX_CAPABILITY_LENGTH = 256;
export const MAX_CAPABILITY_SEGMENTS = 8;

type Parsed = { segments: string[]; wildcard: boolean };

function parse(capability: unknown, allowWildcard: boolean): Parsed | null {
  if (typeof capability !== "string" || capability.length === 0) return null;
  if (capability.length > MAX_CAPABILITY_LENGTH) return null;
  const segments = capability.split(".");
  if (segments.length > MAX_CAPABILITY_SEGMENTS) return null;
  let wildcard = false;
  if (segments[segments.length - 1] === "*") {
    // A wildcard is only ever a whole trailing segment below a concrete prefix: `github.*`.
    if (!allowWildcard || segments.length < 2) return null;
    segments.pop();
    wildcard = true;
  }
  return segments.every((segment) => SEGMENT.test(segment)) ? { segments, wildcard } : null;
}

/** A well-formed concrete capability (what code asks for). */
export function isCapability(value: unknown): value is string {
  return parse(value, false) !== null;
}

/** A well-formed grant (what a credential holds): a capability, or one ending in `.*`. */
export function isCapabilityGrant(value: unknown): value is string {
  return parse(value, true) !== null;
}

/**
 * Whether one granted capability covers a required one.
 *
 * - `a.b` covers `a.b` and every descendant `a.b.…`;
 * - `a.b.*` covers every strict descendant `a.b.…` but not `a.b` itself;
 * - malformed input on either side covers nothing (never throws), and `required` cannot contain `*`.
 *
 * @example
 * capabilityCovers("github.read", "github.read.issues") // true
 * capabilityCovers("github.read", "github.readme")      // false
 * capabilityCovers("github.*", "github")                // false
 */
export function capabilityCovers(granted: string, required: string): boolean {
  const grant = parse(granted, true);
  const need = parse(required, false);
  if (grant === null || need === null) return false;
  if (
    grant.wildcard
      ? need.segments.length <= grant.segments.length
      : need.segments.length < grant.segments.length
  ) {
    return false;
  }
  return grant.segments.every((segment, i) => need.segments[i] === segment);
}

/** Whether any capability in `grantedList` covers `required`. */
export function hasCapability(grantedList: readonly string[], required: string): boolean {
  return grantedList.some((granted) => capabilityCovers(granted, required));
}

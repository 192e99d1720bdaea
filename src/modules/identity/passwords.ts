/**
 * Password hashing (argon2id) and the password policy.
 *
 * Parameters follow the OWASP Password Storage Cheat Sheet's first argon2id option:
 * m = 19456 KiB (19 MiB), t = 2 passes, p = 1 lane, 32-byte output, 16-byte random salt, encoded as
 * a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`). A stored hash records its own
 * parameters, so raising them later only needs `needsRehash` at the next successful sign-in.
 *
 * Comparison is constant-time inside argon2's verify. An unknown user is checked against a dummy
 * hash, so "no such user" and "wrong password" take the same time.
 */
import { type Algorithm, hash, parseOptions, verify } from "@node-rs/argon2";
import type { ZxcvbnFactory } from "@zxcvbn-ts/core";

/** `Algorithm.Argon2id`; the package declares it as a const enum, which erasable TypeScript cannot read. */
const ARGON2ID = 2 as Algorithm;

export const ARGON2ID_PARAMS = { memoryCost: 19_456, timeCost: 2, parallelism: 1, outputLen: 32 } as const;

/**
 * The policy, after Unicode NFKC normalisation, counted in code points (NIST SP 800-63B §5.1.1):
 * - at least 12 and at most 256 characters (the cap bounds hashing work per request);
 * - not one character repeated (`aaaaaaaaaaaa`);
 * - not commonly used or easily guessed: checked offline against zxcvbn-ts's common-password
 *   list, keyboard walks, sequences, repeats, dates and l33t variants, and against the account's own
 *   email; an estimate below 10^8 guesses (zxcvbn score < 3) is refused as `TOO_COMMON`;
 * - no composition rules (no "one digit, one symbol"): length does the work, and passphrases of
 *   plain words are welcome.
 */
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;
/** zxcvbn score 3: at least 10^8 guesses, "safely unguessable" against an online attack and slowed offline ones. */
export const PASSWORD_MIN_SCORE = 3;

export type PasswordPolicyResult =
  | { ok: true }
  | {
      ok: false;
      reason: "NOT_A_STRING" | "TOO_SHORT" | "TOO_LONG" | "SINGLE_CHARACTER" | "TOO_COMMON";
      message: string;
    };

/**
 * Loaded and built on first use: importing the dictionaries alone costs a few hundred milliseconds,
 * and most processes (every CLI command, most servers' lifetimes) never set a password.
 */
let estimator: Promise<ZxcvbnFactory> | undefined;
function guessability(): Promise<ZxcvbnFactory> {
  estimator ??= Promise.all([import("@zxcvbn-ts/core"), import("@zxcvbn-ts/language-common")]).then(
    ([core, common]) =>
      new core.ZxcvbnFactory({ dictionary: common.dictionary, graphs: common.adjacencyGraphs }),
  );
  return estimator;
}

/** Words of the account (an email and its parts) that a password must not be built from. */
function accountWords(inputs: readonly string[]): string[] {
  const words = new Set<string>();
  for (const input of inputs) {
    const lower = input.toLowerCase();
    words.add(lower);
    for (const part of lower.split(/[@.+_-]+/)) if (part.length >= 3) words.add(part);
    const local = lower.split("@")[0];
    if (local) words.add(local.replace(/[.+_-]/g, ""));
  }
  return [...words];
}

function normalise(password: string): string {
  return password.normalize("NFKC");
}

/**
 * @example
 * await checkPasswordPolicy("correct horse battery staple") // { ok: true }
 * await checkPasswordPolicy("Password123!")                 // { ok: false, reason: "TOO_COMMON", … }
 */
export async function checkPasswordPolicy(
  password: unknown,
  context: { userInputs?: readonly string[] } = {},
): Promise<PasswordPolicyResult> {
  if (typeof password !== "string") return { ok: false, reason: "NOT_A_STRING", message: "must be a string" };
  const chars = [...normalise(password)];
  if (chars.length < PASSWORD_MIN_LENGTH) {
    return { ok: false, reason: "TOO_SHORT", message: `must be at least ${PASSWORD_MIN_LENGTH} characters` };
  }
  if (chars.length > PASSWORD_MAX_LENGTH) {
    return { ok: false, reason: "TOO_LONG", message: `must be at most ${PASSWORD_MAX_LENGTH} characters` };
  }
  if (new Set(chars).size === 1) {
    return { ok: false, reason: "SINGLE_CHARACTER", message: "must not be one character repeated" };
  }
  const { score } = (await guessability()).check(chars.join(""), accountWords(context.userInputs ?? []));
  if (score < PASSWORD_MIN_SCORE) {
    return {
      ok: false,
      reason: "TOO_COMMON",
      message: "is commonly used or easy to guess; a few unrelated words make a strong one",
    };
  }
  return { ok: true };
}

/** Hashes a password that passed `checkPasswordPolicy`; throws if it did not (a caller bug). */
export async function hashPassword(password: string): Promise<string> {
  const policy = await checkPasswordPolicy(password);
  if (!policy.ok) throw new RangeError(`password ${policy.message}`);
  return hash(normalise(password), { ...ARGON2ID_PARAMS, algorithm: ARGON2ID });
}

let dummyHash: Promise<string> | undefined;

/** A hash of a random string with the current parameters, to spend the same time on unknown users. */
function getDummyHash(): Promise<string> {
  dummyHash ??= hash(crypto.randomUUID(), { ...ARGON2ID_PARAMS, algorithm: ARGON2ID });
  return dummyHash;
}

/**
 * True only when `password` matches `storedHash`. Pass `null` for an unknown user: the work is done
 * against a dummy hash and the answer is false. Malformed hashes and over-long input answer false.
 */
export async function verifyPassword(storedHash: string | null, password: string): Promise<boolean> {
  const usable = typeof password === "string" && password.length <= PASSWORD_MAX_LENGTH * 4;
  const target = storedHash !== null && usable ? storedHash : await getDummyHash();
  try {
    const matches = await verify(target, usable ? normalise(password) : "");
    return matches && storedHash !== null && usable;
  } catch {
    return false;
  }
}

/** True when a stored hash is not argon2id with at least the current parameters; rehash after sign-in. */
export function needsRehash(storedHash: string): boolean {
  try {
    const options = parseOptions(storedHash);
    return (
      !storedHash.startsWith("$argon2id$") ||
      options.algorithm !== ARGON2ID ||
      options.memoryCost < ARGON2ID_PARAMS.memoryCost ||
      options.timeCost < ARGON2ID_PARAMS.timeCost ||
      options.parallelism < ARGON2ID_PARAMS.parallelism ||
      options.outputLen < ARGON2ID_PARAMS.outputLen ||
      options.saltLen < 16
    );
  } catch {
    return true;
  }
}

/** Encryption at rest: master keyring, wrapped per-tenant data keys, and field encryption. */
export * from "./field-cipher.ts";
export * from "./keyfile.ts";
export * from "./master-key.ts";
export * from "./tenant-keys.ts";

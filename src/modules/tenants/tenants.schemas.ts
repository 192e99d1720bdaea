import { z } from "zod";
import { idPattern } from "../../lib/ids.ts";

export const tenantIdSchema = z.string().regex(idPattern("tenant"), "a tenant id (tnt_…)");

/** `aes-gcm`: content, history, metadata and labels are encrypted in the vault (the default). */
export const ENCRYPTION_MODES = ["aes-gcm", "none"] as const;
export type EncryptionMode = (typeof ENCRYPTION_MODES)[number];
/**
 * `markdown`: besides the database, every current memory is a plain markdown file in the vault
 * directory; such a tenant relies on filesystem encryption and cannot use `aes-gcm`.
 */
export const STORAGE_MODES = ["sqlite", "markdown"] as const;
export type StorageMode = (typeof STORAGE_MODES)[number];

export const createTenantBody = z
  .object({
    name: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}$/, "letters, digits, spaces and _ . -"),
    encryption: z.enum(ENCRYPTION_MODES).optional(),
    storage: z.enum(STORAGE_MODES).optional(),
  })
  .strict()
  .refine((b) => !(b.storage === "markdown" && b.encryption === "aes-gcm"), {
    message: "markdown storage keeps plaintext files: it needs encryption 'none' (use filesystem encryption)",
    path: ["encryption"],
  });
export type CreateTenantInput = z.infer<typeof createTenantBody>;

export const tenantSchema = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(["active"]),
  encryption: z.enum(ENCRYPTION_MODES),
  storage: z.enum(STORAGE_MODES),
  created_at: z.string(),
});

export const deletedTenantSchema = z.object({ id: z.string(), deleted: z.literal(true) });

export type Tenant = z.infer<typeof tenantSchema>;
export type TenantRow = {
  id: string;
  name: string;
  status: "active";
  encryption: EncryptionMode;
  storage: StorageMode;
  created_at: number;
};

export const toTenant = (row: TenantRow): Tenant => ({
  id: row.id,
  name: row.name,
  status: row.status,
  encryption: row.encryption,
  storage: row.storage,
  created_at: new Date(row.created_at).toISOString(),
});

import { z } from "zod";
import { idPattern } from "../../lib/ids.ts";

export const tenantIdSchema = z.string().regex(idPattern("tenant"), "a tenant id (tnt_…)");

export const createTenantBody = z
  .object({
    name: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}$/, "letters, digits, spaces and _ . -"),
  })
  .strict();

export const tenantSchema = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(["active"]),
  created_at: z.string(),
});

export type Tenant = z.infer<typeof tenantSchema>;
export type TenantRow = { id: string; name: string; status: "active"; created_at: number };

export const toTenant = (row: TenantRow): Tenant => ({
  id: row.id,
  name: row.name,
  status: row.status,
  created_at: new Date(row.created_at).toISOString(),
});

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
// Stripe

/** ISO 4217 currencies Stripe treats as having no minor unit, and those with three decimals. */
const ZERO_DECIMAL = new Set("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split(" "));
const THREE_DECIMAL = new Set("bhd jod kwd omr tnd".split(" "));

/** Stripe amounts are integers in the currency's minor unit: 2000 usd is 20.00 USD, 2000 jpy is 2000 JPY. */
export function formatStripeAmount(amount: number, currency: string): string {
  const c = currency.toLowerCase();
  const decimals = ZERO_DECIMAL.has(c) ? 0 : THREE_DECIMAL.has(c) ? 3 : 2;
  return `${(amount / 10 ** decimals).toFixed(decimals)} ${c.toUpperCase()}`;
}

/** A customer as a person reads it: `Jenny Rosen <jenny@example.com>`, or just the one that is there. */
function person(name: string | undefined, email: string | undefined): string | undefined {
  if (name && email) return `${name} <${email}>`;
  return name ?? email;
}

type StripeFacts = {
  /** The amount this event is about, in minor units, with the field it came from. */
  amount?: { value: number; field: string };
  currency?: string;
  customerName?: string;
  customerEmail?: string;
  product?: string;
  lines: string[];
  tags: string[];
};

/**
 * The amount that matters for the object: an unpaid invoice is about what is due (it always carries
 * `amount_paid: 0` too), a paid one about what was paid; a refund or dispute its own amount.
 */
function stripeAmount(o: unknown, kind: string | undefined, type: string): StripeFacts["amount"] {
  const pick = (...fields: string[]) => {
    for (const field of fields) {
      const value = num(o, `/${field}`);
      if (value !== undefined) return { value, field };
    }
    return undefined;
  };
  if (kind === "invoice") {
    const paid =
      str(o, "/status") === "paid" || type === "invoice.paid" || type === "invoice.payment_succeeded";
    return paid
      ? pick("amount_paid", "total", "amount_due")
      : pick("amount_due", "amount_remaining", "total");
  }
  if (kind === "checkout.session") return pick("amount_total", "amount_subtotal");
  if (kind === "price") return pick("unit_amount");
  if (kind === "subscription") return undefined;
  return pick("amount", "amount_total");
}

/** The human fields of each object kind: names, emails, descriptions, messages and reasons. */
function stripeFacts(o: unknown, kind: string | undefined, type: string): StripeFacts {
  const f: StripeFacts = { lines: [], tags: [] };
  const amount = stripeAmount(o, kind, type);
  if (amount) f.amount = amount;
  const currency = str(o, "/currency");
  if (currency) f.currency = currency;
  const line = (label: string, value: string | undefined) => {
    if (value) f.lines.push(`${label}: ${value}`);
  };
  const status = str(o, "/status");
  switch (kind) {
    case "payment_intent": {
      f.customerEmail = str(o, "/receipt_email") ?? str(o, "/customer/email");
      f.customerName = str(o, "/customer/name") ?? str(o, "/shipping/name");
      line("Description", str(o, "/description"));
      line("Failure", str(o, "/last_payment_error/message"));
      line("Decline code", str(o, "/last_payment_error/decline_code") ?? str(o, "/last_payment_error/code"));
      line("Cancellation reason", str(o, "/cancellation_reason"));
      line("Status", status);
      break;
    }
    case "charge": {
      f.customerName = str(o, "/billing_details/name");
      f.customerEmail = str(o, "/billing_details/email") ?? str(o, "/receipt_email");
      line("Description", str(o, "/description"));
      line("Failure", str(o, "/failure_message"));
      line("Failure code", str(o, "/failure_code"));
      line("Outcome", str(o, "/outcome/seller_message"));
      const refunded = num(o, "/amount_refunded");
      if (refunded && currency) line("Refunded", formatStripeAmount(refunded, currency));
      line(
        "Card",
        str(o, "/payment_method_details/card/brand") &&
          `${str(o, "/payment_method_details/card/brand")} •••• ${str(o, "/payment_method_details/card/last4") ?? "?"}`,
      );
      break;
    }
    case "refund":
      line("Reason", str(o, "/reason"));
      line("Failure", str(o, "/failure_reason"));
      line("Charge", str(o, "/charge"));
      line("Status", status);
      break;
    case "invoice": {
      f.customerName = str(o, "/customer_name");
      f.customerEmail = str(o, "/customer_email");
      line("Invoice", str(o, "/number"));
      line("Status", status);
      const lines = at(o, "/lines/data");
      if (Array.isArray(lines)) {
        for (const l of lines.slice(0, 10)) {
          const d = str(l, "/description");
          if (d) f.lines.push(`- ${d}`);
        }
      }
      const due = num(o, "/amount_due");
      if (status !== "paid" && due !== undefined && currency)
        line("Amount due", formatStripeAmount(due, currency));
      line("Billing reason", str(o, "/billing_reason"));
      line("Failure", str(o, "/last_finalization_error/message"));
      const attempts = num(o, "/attempt_count");
      if (attempts !== undefined && attempts > 0 && status !== "paid")
        line("Payment attempts", String(attempts));
      line("Link", str(o, "/hosted_invoice_url"));
      break;
    }
    case "subscription": {
      f.customerName = str(o, "/customer/name");
      f.customerEmail = str(o, "/customer/email");
      line("Status", status);
      const items = at(o, "/items/data");
      if (Array.isArray(items)) {
        for (const item of items.slice(0, 10)) {
          const nickname = str(item, "/price/nickname") ?? str(item, "/plan/nickname");
          const product =
            str(item, "/price/product/name") ?? str(item, "/price/product") ?? str(item, "/plan/product");
          const unit = num(item, "/price/unit_amount") ?? num(item, "/plan/amount");
          const cur = str(item, "/price/currency") ?? str(item, "/plan/currency");
          const interval = str(item, "/price/recurring/interval") ?? str(item, "/plan/interval");
          if (!f.product && product) f.product = product;
          f.lines.push(
            `- ${[nickname, product].filter(Boolean).join(" / ") || "item"}${unit !== undefined && cur ? ` at ${formatStripeAmount(unit, cur)}${interval ? `/${interval}` : ""}` : ""}`,
          );
        }
      }
      if (at(o, "/cancel_at_period_end") === true) f.lines.push("Cancels at the end of the period.");
      line("Cancellation reason", str(o, "/cancellation_details/reason"));
      line("Cancellation feedback", str(o, "/cancellation_details/feedback"));
      line("Cancellation comment", str(o, "/cancellation_details/comment"));
      break;
    }
    case "customer":
      f.customerName = str(o, "/name");
      f.customerEmail = str(o, "/email");
      line("Description", str(o, "/description"));
      line("Phone", str(o, "/phone"));
      break;
    case "product":
      f.product = str(o, "/name");
      line("Description", str(o, "/description"));
      if (typeof at(o, "/active") === "boolean") line("Active", at(o, "/active") ? "yes" : "no");
      break;
    case "price": {
      f.product = str(o, "/product/name") ?? str(o, "/product");
      line("Nickname", str(o, "/nickname"));
      line("Interval", str(o, "/recurring/interval"));
      break;
    }
    case "dispute":
      line("Reason", str(o, "/reason"));
      line("Status", status);
      line("Charge", str(o, "/charge"));
      {
        const due = num(o, "/evidence_details/due_by");
        if (due !== undefined) line("Evidence due", new Date(due * 1000).toISOString().slice(0, 10));
      }
      break;
    case "payout": {
      line("Status", status);
      line("Description", str(o, "/description"));
      line("Statement descriptor", str(o, "/statement_descriptor"));
      line("Failure", str(o, "/failure_message"));
      line("Failure code", str(o, "/failure_code"));
      const arrival = num(o, "/arrival_date");
      if (arrival !== undefined) line("Arrival", new Date(arrival * 1000).toISOString().slice(0, 10));
      break;
    }
    case "checkout.session":
      f.customerName = str(o, "/customer_details/name");
      f.customerEmail = str(o, "/customer_details/email") ?? str(o, "/customer_email");
      line("Payment status", str(o, "/payment_status"));
      line("Status", status);
      break;
    default:
      line("Description", str(o, "/description"));
      line("Status", status);
  }
  return f;
}

/** `customer.subscription.deleted` reads as "customer subscription deleted". */
function stripeHeadline(type: string): string {
  return type.replace(/[._]/g, " ");
}

/**
 * Stripe events: a headline with the amount in the right field and currency and the customer, then the
 * object's human fields (product and customer names, emails, failure messages, cancellation and
 * dispute reasons). Tags `stripe`, `event:<type>`, `object:<kind>`, `mode:live|test`; entities
 * `customer:<id>`, `product:<id>` and `<kind>:<id>`.
 */
export function mapStripe(payload: unknown, ctx: MappingContext): MappingResult {
  if (str(payload, "/object") !== "event") return ignored("NOT_AN_EVENT");
  const type = str(payload, "/type");
  if (type === undefined) return ignored("NOT_AN_EVENT", "no type");
  if (!eventTypeAllowed(type, ctx.mapping.eventTypes)) return ignored("EVENT_TYPE_NOT_ALLOWED", type);
  const o = at(payload, "/data/object");
  const objectKind = str(o, "/object");
  const objectId = str(o, "/id");
  const facts = stripeFacts(o, objectKind, type);
  // `customer` is an id unless the sender expanded it into an object.
  const customer = objectKind === "customer" ? objectId : (str(o, "/customer") ?? str(o, "/customer/id"));
  const productId =
    objectKind === "product" ? objectId : (str(o, "/product") ?? str(o, "/product/id") ?? facts.product);
  const livemode = at(payload, "/livemode");
  const who = person(facts.customerName, facts.customerEmail);

  let head = `Stripe ${stripeHeadline(type)}`;
  const details: string[] = [];
  if (facts.amount !== undefined && facts.currency !== undefined) {
    details.push(formatStripeAmount(facts.amount.value, facts.currency));
  }
  if (facts.product && objectKind !== "product") details.push(facts.product);
  if (objectKind === "product" && facts.product) details.push(`product ${facts.product}`);
  if (who) details.push(who);
  else if (customer && objectKind !== "customer") details.push(`customer ${customer}`);
  if (details.length > 0) head += `: ${details.join(", ")}`;
  if (objectKind || objectId) head += ` (${[objectKind, objectId].filter(Boolean).join(" ")})`;

  return single(
    ctx,
    payload,
    {
      content: joinLines(head, ...facts.lines),
      tags: [
        "stripe",
        `event:${type}`,
        ...(objectKind ? [`object:${objectKind}`] : []),
        ...(typeof livemode === "boolean" ? [livemode ? "mode:live" : "mode:test"] : []),
        ...facts.tags,
      ],
      entities: [
        ...(customer ? [`customer:${customer}`] : []),
        ...(productId?.startsWith("prod_") ? [`product:${productId}`] : []),
        ...(objectKind && objectId ? [`${objectKind}:${objectId}`] : []),
      ],
      metadata: {
        event_id: str(payload, "/id"),
        event_type: type,
        object: objectKind,
        object_id: objectId,
        amount: facts.amount?.value,
        amount_field: facts.amount?.field,
        currency: facts.currency,
        customer,
        customer_name: facts.customerName,
        customer_email: facts.customerEmail,
        livemode: typeof livemode === "boolean" ? livemode : undefined,
        created: num(payload, "/created"),
      },
    },
    "event",
  );
}

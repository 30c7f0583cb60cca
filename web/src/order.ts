// The order card reads the τ-retail order document the agent attaches to a reply. The protocol
// keeps it a free-form object, so every field is checked here before it is shown.

export interface CardItem {
  name: string;
  options: string;
  price: number | null;
  itemId: string;
}

export interface OrderCardData {
  orderId: string;
  status: string;
  items: CardItem[];
  itemsTotal: number;
  paid: number;
  refunded: number;
  tracking: string[];
  address: string;
  cancelReason?: string;
}

const text = (value: unknown): string => (typeof value === "string" || typeof value === "number" ? String(value) : "");
const num = (value: unknown): number | null => (typeof value === "number" && Number.isFinite(value) ? value : null);
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const record = (value: unknown): Record<string, unknown> =>
  value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

export function orderCard(document: Record<string, unknown> | null | undefined): OrderCardData | null {
  if (!document || typeof document.order_id !== "string") return null;
  const items = list(document.items).map((raw) => {
    const item = record(raw);
    const options = Object.entries(record(item.options))
      .map(([key, value]) => `${key.replace(/_/g, " ")}: ${text(value)}`)
      .join(", ");
    return { name: text(item.name) || text(item.item_id), options, price: num(item.price), itemId: text(item.item_id) };
  });
  let paid = 0;
  let refunded = 0;
  for (const raw of list(document.payment_history)) {
    const payment = record(raw);
    const amount = num(payment.amount) ?? 0;
    if (payment.transaction_type === "refund") refunded += amount;
    else paid += amount;
  }
  const tracking = list(document.fulfillments).flatMap((raw) => list(record(raw).tracking_id).map(text)).filter(Boolean);
  const address = record(document.address);
  const addressLine = [address.address1, address.address2, address.city, [address.state, address.zip].map(text).filter(Boolean).join(" "), address.country]
    .map(text)
    .filter(Boolean)
    .join(", ");
  return {
    orderId: document.order_id,
    status: text(document.status) || "unknown",
    items,
    itemsTotal: items.reduce((sum, item) => sum + (item.price ?? 0), 0),
    paid,
    refunded,
    tracking,
    address: addressLine,
    cancelReason: text(document.cancel_reason) || undefined,
  };
}

const money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
export const formatMoney = (amount: number): string => money.format(amount);

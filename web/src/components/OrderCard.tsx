import { formatMoney, orderCard } from "../order";
import type { OrderDocument } from "../state";

const STATUS_TONE: Record<string, string> = {
  pending: "info",
  processed: "info",
  delivered: "success",
  cancelled: "danger",
  "return requested": "warning",
  "exchange requested": "warning",
  "pending (item modified)": "info",
};

/** `preview`: the order as the proposed change would leave it (a confirmation), not as it is. */
export function OrderCard({ order, preview = false }: { order: OrderDocument; preview?: boolean }) {
  const card = orderCard(order);
  if (!card) return null;
  const headingId = `order-${card.orderId.replace(/\W/g, "")}-${Math.abs(hash(JSON.stringify(order)))}`;
  return (
    <section className={`order-card${preview ? " order-card--preview" : ""}`} aria-labelledby={headingId}>
      <header className="order-card__header">
        <h3 id={headingId} className="order-card__title">
          Order {card.orderId}
        </h3>
        {preview && <span className="order-card__preview">If you confirm</span>}
        <span className={`status-badge status-badge--${STATUS_TONE[card.status] ?? "info"}`} data-testid="order-status">
          {card.status}
        </span>
      </header>
      <ul className="order-card__items" aria-label="Items">
        {card.items.map((item, index) => (
          <li key={`${item.itemId}-${index}`} className="order-card__item">
            <span className="order-card__item-name">
              {item.name}
              {item.options && <span className="order-card__item-options">{item.options}</span>}
            </span>
            <span className="order-card__price">{item.price == null ? "" : formatMoney(item.price)}</span>
          </li>
        ))}
      </ul>
      <dl className="order-card__facts">
        <div>
          <dt>Items total</dt>
          <dd>{formatMoney(card.itemsTotal)}</dd>
        </div>
        {card.paid > 0 && (
          <div>
            <dt>Paid</dt>
            <dd>{formatMoney(card.paid)}</dd>
          </div>
        )}
        {card.refunded > 0 && (
          <div>
            <dt>Refunded</dt>
            <dd>{formatMoney(card.refunded)}</dd>
          </div>
        )}
        {card.tracking.length > 0 && (
          <div>
            <dt>Tracking</dt>
            <dd className="order-card__tracking">{card.tracking.join(", ")}</dd>
          </div>
        )}
        {card.address && (
          <div>
            <dt>Ships to</dt>
            <dd>{card.address}</dd>
          </div>
        )}
        {card.cancelReason && (
          <div>
            <dt>Reason</dt>
            <dd>{card.cancelReason}</dd>
          </div>
        )}
      </dl>
    </section>
  );
}

function hash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) | 0;
  return h;
}

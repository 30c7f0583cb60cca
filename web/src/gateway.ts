// What can arrive on the WebSocket, sorted before anything else looks at it:
// - the server's frames, which always carry a `type` (protocol.generated.ts);
// - API Gateway's own frames, which have no `type`. API Gateway sends one in answer to a client
//   message when it could not get that message handled, and keeps the connection open:
//     {"message": "Internal server error", "connectionId": "…", "requestId": "…"}
//         the function failed (raised, crashed, or could not be invoked);
//     {"message": "Endpoint request timed out", "connectionId": "…", "requestId": "…"}
//         29 s (the integration timeout) passed without the function returning. The function is
//         not stopped: it may still post the rest of the turn;
//     {"message": "Forbidden", "connectionId": "…", "requestId": "…"}
//         no route matched the message's `action` and there is no `$default` route;
//   (the local gateway, order_agent_dev/local/gateway.py, sends the first and the last the same way);
// - anything else (not JSON, not an object, a `type` this page does not know): logged, ignored.
import type { ServerFrame } from "./protocol.generated";

export interface GatewayFrame {
  message: string;
  connectionId?: string;
  requestId?: string;
}

export type Incoming =
  | { kind: "frame"; frame: ServerFrame }
  | { kind: "gateway"; frame: GatewayFrame }
  | { kind: "ignored"; reason: string };

// Every `type` of the generated union, checked by the compiler: a new frame type must be added here.
const FRAME_TYPES: Record<ServerFrame["type"], true> = {
  ack: true,
  typing: true,
  delta: true,
  message: true,
  done: true,
  error: true,
  session: true,
  pong: true,
};

/** Sorts one WebSocket message's data. Never throws. */
export function classify(data: unknown): Incoming {
  if (typeof data !== "string") return { kind: "ignored", reason: "a binary message" };
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { kind: "ignored", reason: "not JSON" };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { kind: "ignored", reason: "not a JSON object" };
  }
  const record = value as Record<string, unknown>;
  if ("type" in record) {
    return typeof record.type === "string" && Object.hasOwn(FRAME_TYPES, record.type)
      ? { kind: "frame", frame: value as ServerFrame }
      : { kind: "ignored", reason: `unknown frame type ${JSON.stringify(record.type)}` };
  }
  if (typeof record.message === "string") {
    const frame: GatewayFrame = { message: record.message };
    if (typeof record.connectionId === "string") frame.connectionId = record.connectionId;
    if (typeof record.requestId === "string") frame.requestId = record.requestId;
    return { kind: "gateway", frame };
  }
  return { kind: "ignored", reason: "no type and no message" };
}

export interface Interruption {
  code: string;
  message: string; // for the customer
}

/** What to tell the customer about one of API Gateway's frames (every one of them is retryable). */
export function describeGatewayFrame(frame: GatewayFrame): Interruption {
  switch (frame.message.trim().toLowerCase()) {
    case "endpoint request timed out":
      return { code: "gateway_timeout", message: "This is taking longer than usual. It may still arrive here, or you can try again." };
    case "internal server error":
      return { code: "gateway_error", message: "Something went wrong on our side." };
    case "forbidden":
      return { code: "gateway_forbidden", message: "The chat service did not accept this message." };
    default:
      return { code: "gateway_other", message: "Something went wrong on our side." };
  }
}

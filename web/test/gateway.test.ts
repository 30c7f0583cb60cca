import { describe, expect, it } from "vitest";

import { classify, describeGatewayFrame } from "../src/gateway";

// API Gateway's own frames, as it sends them (no `type`; ids are 16-character base64-like strings).
const gateway = (message: string) => ({ message, connectionId: "Zq0lpfIyliACGbQ=", requestId: "Zq1LaGLQliAFsbA=" });

describe("classify", () => {
  it("passes the server's frames on", () => {
    const frame = { type: "typing", sessionId: "s", turnId: "t" };
    expect(classify(JSON.stringify(frame))).toEqual({ kind: "frame", frame });
  });

  it.each(["Internal server error", "Endpoint request timed out", "Forbidden"])("recognises API Gateway's %j", (message) => {
    expect(classify(JSON.stringify(gateway(message)))).toEqual({ kind: "gateway", frame: gateway(message) });
  });

  it("takes a typeless frame with a message as API Gateway's even without its ids", () => {
    expect(classify('{"message": "Too Many Requests"}')).toEqual({ kind: "gateway", frame: { message: "Too Many Requests" } });
  });

  it.each([
    ["not JSON", "Internal server error"],
    ["not JSON", ""],
    ["not a JSON object", "null"],
    ["not a JSON object", "42"],
    ["not a JSON object", '"hello"'],
    ["not a JSON object", '[{"type": "ack"}]'],
    ['unknown frame type "surprise"', '{"type": "surprise"}'],
    ["unknown frame type 7", '{"type": 7, "message": "x"}'],
    ["no type and no message", '{"connectionId": "abc"}'],
    ["no type and no message", '{"message": 3}'],
  ])("ignores what it cannot use (%s): %s", (reason, data) => {
    expect(classify(data)).toEqual({ kind: "ignored", reason });
  });

  it("ignores binary messages", () => {
    expect(classify(new ArrayBuffer(4))).toEqual({ kind: "ignored", reason: "a binary message" });
  });
});

describe("describeGatewayFrame", () => {
  it("says what happened in words a customer understands, for each of API Gateway's frames", () => {
    expect(describeGatewayFrame(gateway("Endpoint request timed out"))).toEqual({
      code: "gateway_timeout",
      message: "This is taking longer than usual. It may still arrive here, or you can try again.",
    });
    expect(describeGatewayFrame(gateway("Internal server error"))).toEqual({ code: "gateway_error", message: "Something went wrong on our side." });
    expect(describeGatewayFrame(gateway("Forbidden"))).toEqual({ code: "gateway_forbidden", message: "The chat service did not accept this message." });
    expect(describeGatewayFrame(gateway("Limit Exceeded"))).toEqual({ code: "gateway_other", message: "Something went wrong on our side." });
  });
});

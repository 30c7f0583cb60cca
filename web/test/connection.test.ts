import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { backoffDelay, ChatConnection, DEFAULT_TIMINGS } from "../src/connection";
import type { ConnectionState } from "../src/state";
import { FakeSocket } from "./fakeSocket";

describe("backoffDelay", () => {
  it("grows exponentially, is capped, and keeps half of it random", () => {
    const low = (attempt: number) => backoffDelay(attempt, DEFAULT_TIMINGS, () => 0);
    const high = (attempt: number) => backoffDelay(attempt, DEFAULT_TIMINGS, () => 1);
    expect([0, 1, 2, 3].map(high)).toEqual([500, 1000, 2000, 4000]);
    expect([0, 1, 2, 3].map(low)).toEqual([250, 500, 1000, 2000]);
    expect(high(50)).toBe(DEFAULT_TIMINGS.backoffCapMs);
    expect(low(50)).toBe(DEFAULT_TIMINGS.backoffCapMs / 2);
  });
});

describe("ChatConnection", () => {
  let states: ConnectionState[];
  let opened: number;

  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.reset();
    states = [];
    opened = 0;
  });
  afterEach(() => vi.useRealTimers());

  function connect(canRecycle = () => true) {
    const connection = new ChatConnection({
      url: () => "ws://gateway.test/local",
      onFrame: () => {},
      onState: (state) => states.push(state),
      onOpen: (send) => {
        opened++;
        send({ action: "resume", sessionId: "s1", lastSeq: 7 });
      },
      canRecycle,
      WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
      random: () => 1,
    });
    connection.start();
    return connection;
  }

  it("resumes on open and reconnects after drops with growing delays", async () => {
    const connection = connect();
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.latest().open();
    expect(FakeSocket.latest().sent).toEqual([{ action: "resume", sessionId: "s1", lastSeq: 7 }]);
    expect(states.at(-1)).toEqual({ status: "open" });

    for (const delay of [500, 1000, 2000]) {
      const before = FakeSocket.instances.length;
      FakeSocket.latest().drop();
      expect(states.at(-1)?.status).toBe("offline");
      await vi.advanceTimersByTimeAsync(delay - 1);
      expect(FakeSocket.instances).toHaveLength(before); // not yet
      await vi.advanceTimersByTimeAsync(1);
      expect(FakeSocket.instances).toHaveLength(before + 1);
    }
    FakeSocket.latest().open(); // success resets the backoff
    FakeSocket.latest().drop();
    await vi.advanceTimersByTimeAsync(500);
    expect(FakeSocket.latest().readyState).toBe(FakeSocket.CONNECTING);
    expect(opened).toBe(2);
    connection.stop();
  });

  it("pings well inside API Gateway's 10-minute idle timeout", async () => {
    const connection = connect();
    await vi.advanceTimersByTimeAsync(0);
    const socket = FakeSocket.latest();
    socket.open();
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    const pings = socket.sent.filter((m) => m.action === "ping");
    expect(pings.length).toBeGreaterThanOrEqual(2);
    expect(DEFAULT_TIMINGS.heartbeatMs).toBeLessThan(10 * 60_000);
    connection.stop();
  });

  it("reconnects on its own before the 2-hour limit, but not in the middle of a turn", async () => {
    let turnRunning = true;
    const connection = connect(() => !turnRunning);
    await vi.advanceTimersByTimeAsync(0);
    const first = FakeSocket.latest();
    first.open();
    await vi.advanceTimersByTimeAsync(DEFAULT_TIMINGS.maxConnectionMs + DEFAULT_TIMINGS.heartbeatMs);
    expect(FakeSocket.latest()).toBe(first); // a turn is running: wait
    turnRunning = false;
    connection.turnEnded();
    await vi.advanceTimersByTimeAsync(0);
    expect(first.readyState).toBe(FakeSocket.CLOSED);
    expect(FakeSocket.instances).toHaveLength(2);
    FakeSocket.latest().open();
    expect(FakeSocket.latest().sent[0]).toMatchObject({ action: "resume" });
    expect(DEFAULT_TIMINGS.maxConnectionMs).toBeLessThan(2 * 60 * 60_000);
    connection.stop();
  });

  it("gives up a connection attempt that hangs, and stops for good when stopped", async () => {
    const connection = connect();
    await vi.advanceTimersByTimeAsync(DEFAULT_TIMINGS.connectTimeoutMs);
    expect(FakeSocket.latest().readyState).toBe(FakeSocket.CLOSED);
    expect(states.at(-1)?.status).toBe("offline");
    connection.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it("hands the server's frames and API Gateway's own frames on separately, and logs and drops anything else", async () => {
    const frames: unknown[] = [];
    const gatewayFrames: unknown[] = [];
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const connection = new ChatConnection({
      url: () => "ws://gateway.test/local",
      onFrame: (frame) => frames.push(frame),
      onGatewayFrame: (frame) => gatewayFrames.push(frame),
      onState: () => {},
      onOpen: () => {},
      canRecycle: () => true,
      WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    });
    connection.start();
    await vi.advanceTimersByTimeAsync(0);
    const socket = FakeSocket.latest();
    socket.open();
    socket.receive({ type: "pong" });
    socket.receiveRaw('{"message": "Endpoint request timed out", "connectionId": "Zq0lpfIyliACGbQ=", "requestId": "Zq1LaGLQliAFsbA="}');
    for (const noise of ["Internal server error", "null", "[1, 2]", '{"type": "surprise"}', '{"unrelated": true}']) socket.receiveRaw(noise);
    expect(frames).toEqual([{ type: "pong" }]);
    expect(gatewayFrames).toEqual([{ message: "Endpoint request timed out", connectionId: "Zq0lpfIyliACGbQ=", requestId: "Zq1LaGLQliAFsbA=" }]);
    expect(warn).toHaveBeenCalledTimes(6); // the gateway's frame, for support (its requestId), and the five ignored
    expect(socket.readyState).toBe(FakeSocket.OPEN); // none of it closes the connection
    warn.mockRestore();
    connection.stop();
  });

  it("reports an error instead of retrying when no URL can be made (sign-in needed)", async () => {
    const connection = new ChatConnection({
      url: () => Promise.reject(new Error("Please sign in to chat with us.")),
      onFrame: () => {},
      onState: (state) => states.push(state),
      onOpen: () => {},
      canRecycle: () => true,
      WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    });
    connection.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(states.at(-1)).toEqual({ status: "error", message: "Please sign in to chat with us." });
    expect(FakeSocket.instances).toHaveLength(0);
  });
});

import { act, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { App } from "../src/components/App";
import type { SiteConfig } from "../src/config";
import { renderMarkdown } from "../src/markdown";
import type { ServerFrame } from "../src/protocol.generated";
import { REPLY_WATCHDOG_MS } from "../src/useChat";
import { FakeSocket } from "./fakeSocket";

const CONFIG: SiteConfig = { websocketUrl: "ws://gateway.test/local", auth: { mode: "none" } };
const HASH = "b".repeat(64);

async function openApp() {
  render(<App config={CONFIG} />);
  await act(async () => {
    await Promise.resolve();
  });
  const socket = FakeSocket.latest();
  act(() => socket.open());
  return socket;
}

function receive(socket: FakeSocket, ...frames: ServerFrame[]) {
  act(() => frames.forEach((frame) => socket.receive(frame)));
}

describe("the chat page", () => {
  beforeEach(() => {
    FakeSocket.reset();
    vi.stubGlobal("WebSocket", FakeSocket);
  });
  afterEach(() => vi.unstubAllGlobals());

  it("sends on Enter, not on Shift+Enter, and renders the streamed reply with its order card", async () => {
    const socket = await openApp();
    const resume = socket.sent[0];
    expect(resume).toMatchObject({ action: "resume", lastSeq: 0 });
    const sessionId = (resume as { sessionId: string }).sessionId;

    const box = screen.getByLabelText("Your message");
    fireEvent.change(box, { target: { value: "Where is #W1?" } });
    fireEvent.keyDown(box, { key: "Enter", shiftKey: true });
    expect(socket.sent).toHaveLength(1);
    fireEvent.keyDown(box, { key: "Enter" });
    const send = socket.sent[1] as { action: string; messageId: string; text: string };
    expect(send).toMatchObject({ action: "sendMessage", sessionId, text: "Where is #W1?" });
    expect(screen.getByText("Sending…")).toBeTruthy();

    const turnId = send.messageId;
    receive(socket, { type: "ack", sessionId, messageId: turnId, duplicate: false, sessionToken: null }, { type: "typing", sessionId, turnId });
    expect(screen.getByTestId("typing")).toBeTruthy();
    expect(screen.getByText("Sent ✓")).toBeTruthy();

    receive(socket, { type: "delta", sessionId, turnId, seq: 1, text: "Order #W1 is " });
    expect(screen.queryByTestId("typing")).toBeNull();
    const order = {
      order_id: "#W1",
      status: "processed",
      items: [{ name: "Desk Lamp", item_id: "1", price: 20.5, options: { color: "black" } }],
      fulfillments: [{ tracking_id: ["TRACK123"], item_ids: ["1"] }],
      payment_history: [{ transaction_type: "payment", amount: 20.5, payment_method_id: "card" }],
    };
    receive(
      socket,
      { type: "message", sessionId, turnId, seq: 2, text: "Order #W1 is **processed**.", stage: "entry_intent", order, quickReplies: [], modelProvider: "offline" },
      { type: "done", sessionId, turnId, seq: 3, modelCalls: 1, usage: {} },
    );
    const log = screen.getByRole("log", { name: "Conversation" });
    expect(log.getAttribute("aria-live")).toBe("off");
    expect(within(log).getByText("processed", { selector: "strong" })).toBeTruthy();
    const card = within(log).getByRole("region", { name: "Order #W1" });
    expect(within(card).getByTestId("order-status").textContent).toBe("processed");
    expect(card.textContent).toContain("TRACK123");
    expect(card.textContent).toContain("$20.50");
    expect(screen.getByTestId("offline-note")).toBeTruthy();
    expect(screen.getByTestId("announcer").textContent).toBe("Order #W1 is processed.");
  });

  it("sends a quick reply with its confirmation hash, and starts a new conversation on request", async () => {
    const socket = await openApp();
    const sessionId = (socket.sent[0] as { sessionId: string }).sessionId;
    receive(
      socket,
      { type: "message", sessionId, turnId: "t0", seq: 1, text: "Cancel #W1?", stage: "order_confirmation", order: null, modelProvider: "bedrock",
        quickReplies: [{ label: "Yes", text: "yes", confirmHash: HASH, action: "send" }, { label: "No", text: "no", confirmHash: null, action: "send" }] },
      { type: "done", sessionId, turnId: "t0", seq: 2, modelCalls: 1, usage: {} },
    );
    expect(screen.queryByTestId("offline-note")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Yes" }));
    expect(socket.sent.at(-1)).toMatchObject({ action: "sendMessage", sessionId, text: "yes", confirmHash: HASH });
    expect(screen.queryByRole("button", { name: "Yes" })).toBeNull(); // answered

    fireEvent.click(screen.getByRole("button", { name: "New conversation" }));
    expect(screen.queryByText("Cancel #W1?")).toBeNull();
    fireEvent.change(screen.getByLabelText("Your message"), { target: { value: "hello" } });
    fireEvent.keyDown(screen.getByLabelText("Your message"), { key: "Enter" });
    const next = socket.sent.at(-1) as { sessionId: string };
    expect(next.sessionId).not.toBe(sessionId);
  });

  it("keeps an unsent message and sends it with the same id after reconnecting and resuming", async () => {
    vi.useFakeTimers();
    try {
      const socket = await openApp();
      act(() => socket.drop());
      expect(screen.getByTestId("connection-status").dataset.status).toBe("offline");
      fireEvent.change(screen.getByLabelText("Your message"), { target: { value: "are you there?" } });
      fireEvent.click(screen.getByRole("button", { name: "Send" }));
      expect(screen.getByText("Sending…")).toBeTruthy();
      await act(async () => {
        await vi.advanceTimersByTimeAsync(1000);
      });
      const next = FakeSocket.latest();
      expect(next).not.toBe(socket);
      act(() => next.open());
      expect(next.sent.map((m) => m.action)).toEqual(["resume", "sendMessage"]);
      expect(next.sent[1]).toMatchObject({ text: "are you there?" });
    } finally {
      vi.useRealTimers();
    }
  });

  it("restores the conversation after a reload and resumes after the last seq", async () => {
    const socket = await openApp();
    const sessionId = (socket.sent[0] as { sessionId: string }).sessionId;
    receive(
      socket,
      { type: "message", sessionId, turnId: "t0", seq: 4, text: "Hello again.", stage: "entry_intent", order: null, quickReplies: [], modelProvider: "offline" },
      { type: "done", sessionId, turnId: "t0", seq: 5, modelCalls: 1, usage: {} },
    );
    const { unmount } = { unmount: () => act(() => document.body.replaceChildren()) };
    unmount();
    const reloaded = await openApp();
    expect(reloaded.sent[0]).toEqual({ action: "resume", sessionId, lastSeq: 5 });
    expect(screen.getAllByText("Hello again.")).toHaveLength(1);
    expect(screen.getByTestId("announcer").textContent).toBe(""); // not read out again
  });

  it("keeps the session token the server issued and sends it to continue the conversation elsewhere", async () => {
    const token = "k".repeat(43);
    const socket = await openApp();
    const sessionId = (socket.sent[0] as { sessionId: string }).sessionId;
    expect(socket.sent[0]).not.toHaveProperty("sessionToken"); // a new conversation has none yet
    receive(socket, { type: "session", sessionId, status: "new", lastSeq: 0, turnInProgress: false, pending: null, sessionToken: token });
    fireEvent.change(screen.getByLabelText("Your message"), { target: { value: "hello" } });
    fireEvent.click(screen.getByRole("button", { name: "Send" }));
    expect(socket.sent[1]).toMatchObject({ action: "sendMessage", sessionId, sessionToken: token });
    act(() => document.body.replaceChildren()); // a reload of the tab
    const reloaded = await openApp();
    expect(reloaded.sent[0]).toEqual({ action: "resume", sessionId, lastSeq: 0, sessionToken: token });
  });

  it("offers Retry for a retryable failure and resends the same messageId", async () => {
    const socket = await openApp();
    const sessionId = (socket.sent[0] as { sessionId: string }).sessionId;
    fireEvent.change(screen.getByLabelText("Your message"), { target: { value: "hi" } });
    fireEvent.keyDown(screen.getByLabelText("Your message"), { key: "Enter" });
    const first = socket.sent.at(-1) as { messageId: string };
    receive(socket, { type: "error", code: "busy", message: "Still answering.", retryable: true, sessionId, turnId: first.messageId, seq: null });
    expect(screen.getByRole("alert").textContent).toContain("Still answering.");
    fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(socket.sent.at(-1)).toMatchObject({ action: "sendMessage", messageId: first.messageId, text: "hi" });
  });
});

describe("when API Gateway answers instead of the chat service", () => {
  const ids = '"connectionId": "Zq0lpfIyliACGbQ=", "requestId": "Zq1LaGLQliAFsbA="';
  const gatewayFrame = (message: string) => `{"message": "${message}", ${ids}}`;

  beforeEach(() => {
    FakeSocket.reset();
    vi.stubGlobal("WebSocket", FakeSocket);
    vi.spyOn(console, "warn").mockImplementation(() => {}); // the page logs what it ignores
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  /** Opens the page, sends `text`, and (unless told not to) lets the server acknowledge it and start typing. */
  async function ask(text: string, started = true) {
    const socket = await openApp();
    const sessionId = (socket.sent[0] as { sessionId: string }).sessionId;
    fireEvent.change(screen.getByLabelText("Your message"), { target: { value: text } });
    fireEvent.keyDown(screen.getByLabelText("Your message"), { key: "Enter" });
    const turnId = (socket.sent.at(-1) as { messageId: string }).messageId;
    if (started) {
      receive(socket, { type: "ack", sessionId, messageId: turnId, duplicate: false, sessionToken: null }, { type: "typing", sessionId, turnId });
      expect(screen.getByTestId("typing")).toBeTruthy();
    }
    return { socket, sessionId, turnId };
  }

  const transcript = () => within(screen.getByRole("log", { name: "Conversation" }));

  function composerFree() {
    return (screen.getByLabelText("Your message") as HTMLTextAreaElement).placeholder === "Write a message…";
  }

  it.each([
    ["Endpoint request timed out", true, "No reply yet: This is taking longer than usual. It may still arrive here, or you can try again."],
    ["Internal server error", true, "No reply yet: Something went wrong on our side."],
    ["Internal server error", false, "Not sent: Something went wrong on our side."],
    ["Forbidden", false, "Not sent: The chat service did not accept this message."],
    ["Limit Exceeded", true, "No reply yet: Something went wrong on our side."],
  ])("%j (turn started: %s) ends the wait with a clear message and a Retry of the same message", async (message, started, shown) => {
    const { socket, turnId } = await ask("Where is #W1?", started);
    act(() => socket.receiveRaw(gatewayFrame(message)));
    expect(screen.queryByTestId("typing")).toBeNull();
    expect(screen.getByRole("alert").textContent).toContain(shown);
    expect(composerFree()).toBe(true);
    expect(screen.getByText("Where is #W1?")).toBeTruthy(); // the customer's text stays
    // Edit only while the server never had it: a message that reached it may still be answered.
    expect(screen.queryByRole("button", { name: "Edit" }) !== null).toBe(!started);

    fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(socket.sent.at(-1)).toEqual({ action: "sendMessage", sessionId: expect.any(String), messageId: turnId, text: "Where is #W1?" });
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.getByText("Sending…")).toBeTruthy();
  });

  it("shows the late answer of a turn the gateway timed out, and clears the error", async () => {
    const { socket, sessionId, turnId } = await ask("Where is #W1?");
    receive(socket, { type: "delta", sessionId, turnId, seq: 1, text: "Let me look " });
    act(() => socket.receiveRaw(gatewayFrame("Endpoint request timed out")));
    expect(screen.getByRole("alert").textContent).toContain("taking longer than usual");
    expect(screen.getByText("Let me look")).toBeTruthy(); // what streamed stays

    // The function was still running: its frames come after all.
    receive(
      socket,
      { type: "message", sessionId, turnId, seq: 2, text: "Order #W1 is pending.", stage: "entry_intent", order: null, quickReplies: [], modelProvider: "offline" },
      { type: "done", sessionId, turnId, seq: 3, modelCalls: 1, usage: {} },
    );
    expect(screen.queryByRole("alert")).toBeNull();
    expect(transcript().getByText("Order #W1 is pending.")).toBeTruthy();
    expect(screen.getByText("Sent ✓")).toBeTruthy();
    expect(screen.queryByTestId("typing")).toBeNull();
    expect(composerFree()).toBe(true);
  });

  it("retries a timed-out turn with the same messageId and shows the recorded answer once", async () => {
    const { socket, sessionId, turnId } = await ask("Where is #W1?");
    act(() => socket.receiveRaw(gatewayFrame("Endpoint request timed out")));
    fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(screen.getByTestId("typing")).toBeTruthy(); // waiting again
    const answer: ServerFrame[] = [
      { type: "message", sessionId, turnId, seq: 1, text: "Order #W1 is pending.", stage: "entry_intent", order: null, quickReplies: [], modelProvider: "offline" },
      { type: "done", sessionId, turnId, seq: 2, modelCalls: 1, usage: {} },
    ];
    receive(socket, { type: "ack", sessionId, messageId: turnId, duplicate: true, sessionToken: null }, ...answer);
    receive(socket, ...answer); // the first run's own frames, arriving late after all
    expect(transcript().getAllByText("Order #W1 is pending.")).toHaveLength(1);
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.getByText("Sent ✓")).toBeTruthy();
  });

  it("keeps going when something unreadable arrives", async () => {
    const { socket, sessionId, turnId } = await ask("hi");
    for (const noise of ["<html>502 Bad Gateway</html>", "null", "[]", '{"type": "surprise"}', '{"connectionId": "x"}']) {
      act(() => socket.receiveRaw(noise));
    }
    expect(screen.getByTestId("typing")).toBeTruthy(); // still waiting, nothing broken
    expect(screen.queryByRole("alert")).toBeNull();
    receive(
      socket,
      { type: "message", sessionId, turnId, seq: 1, text: "Hello!", stage: "entry_intent", order: null, quickReplies: [], modelProvider: "offline" },
      { type: "done", sessionId, turnId, seq: 2, modelCalls: 1, usage: {} },
    );
    expect(transcript().getByText("Hello!")).toBeTruthy();
  });

  it("logs a gateway frame that belongs to no turn (a failed ping or resume) and shows nothing", async () => {
    const socket = await openApp();
    act(() => socket.receiveRaw(gatewayFrame("Internal server error")));
    expect(screen.queryByRole("alert")).toBeNull();
    expect(console.warn).toHaveBeenCalledWith("API Gateway answered instead of the chat service", expect.objectContaining({ message: "Internal server error" }));
  });

  describe("the reply watchdog", () => {
    beforeEach(() => vi.useFakeTimers());
    afterEach(() => vi.useRealTimers());

    const advance = (ms: number) =>
      act(async () => {
        await vi.advanceTimersByTimeAsync(ms);
      });

    it(`ends a wait with no frame at all for ${REPLY_WATCHDOG_MS / 1000} s in a retryable state; any frame pushes it back`, async () => {
      expect(REPLY_WATCHDOG_MS).toBeGreaterThan(29_000); // after API Gateway's own integration timeout
      const { socket, sessionId, turnId } = await ask("Where is #W1?");
      await advance(REPLY_WATCHDOG_MS - 1000);
      receive(socket, { type: "delta", sessionId, turnId, seq: 1, text: "Let me look " });
      await advance(REPLY_WATCHDOG_MS - 1000);
      expect(screen.queryByRole("alert")).toBeNull(); // 34 s since the delta: still waiting
      await advance(1000);
      expect(screen.getByRole("alert").textContent).toContain("No reply yet: Nothing has arrived for a while.");
      expect(screen.queryByTestId("typing")).toBeNull();
      expect(composerFree()).toBe(true);

      fireEvent.click(screen.getByRole("button", { name: "Retry" }));
      expect(socket.sent.at(-1)).toMatchObject({ action: "sendMessage", messageId: turnId, text: "Where is #W1?" });
      receive(socket, { type: "ack", sessionId, messageId: turnId, duplicate: true, sessionToken: null }); // still running on the server
      await advance(REPLY_WATCHDOG_MS);
      expect(screen.getByRole("alert").textContent).toContain("Nothing has arrived for a while."); // bounded again
    });

    it("also watches a message that was acknowledged but whose turn never began", async () => {
      await ask("Where is #W1?", false);
      const socket = FakeSocket.latest();
      const sent = socket.sent.at(-1) as { sessionId: string; messageId: string };
      receive(socket, { type: "ack", sessionId: sent.sessionId, messageId: sent.messageId, duplicate: false, sessionToken: null });
      await advance(REPLY_WATCHDOG_MS);
      expect(screen.getByRole("alert").textContent).toContain("No reply yet");
    });

    it("does not count time offline (the reconnect's resume catches up instead)", async () => {
      const { socket } = await ask("Where is #W1?");
      act(() => socket.drop());
      await advance(REPLY_WATCHDOG_MS * 2);
      expect(screen.queryByRole("alert")).toBeNull();
      // Between attempts or inside one (each gives up after its connect timeout): either way not open.
      expect(["offline", "connecting"]).toContain(screen.getByTestId("connection-status").dataset.status);
    });
  });
});

describe("markdown", () => {
  it("renders formatting but no raw HTML, scripts, handlers or javascript: links", () => {
    const html = renderMarkdown('**bold** <img src=x onerror="alert(1)"> <script>alert(1)</script> [x](javascript:alert(1)) [ok](https://example.com)');
    expect(html).toContain("<strong>bold</strong>");
    const dom = document.createElement("div");
    dom.innerHTML = html;
    expect(dom.querySelector("img, script, [onerror]")).toBeNull(); // raw HTML is shown as text, never parsed
    expect(dom.textContent).toContain('<img src=x onerror="alert(1)">');
    const links = [...dom.querySelectorAll("a")];
    expect(links.map((a) => a.getAttribute("href"))).toEqual([null, "https://example.com"]);
    expect(links.every((a) => a.rel === "noopener noreferrer" && a.target === "_blank")).toBe(true);
  });
});

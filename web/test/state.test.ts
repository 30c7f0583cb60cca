import { describe, expect, it } from "vitest";

import type { ServerFrame } from "../src/protocol.generated";
import {
  type AgentEntry,
  type ChatState,
  activeTurn,
  agentText,
  currentQuickReplies,
  initialState,
  awaitingReply,
  isBusy,
  reduce,
  type UserEntry,
} from "../src/state";

const S = "session-1";
const T = "turn-1";

function apply(state: ChatState, ...frames: ServerFrame[]): ChatState {
  return frames.reduce((s, frame) => reduce(s, { type: "frame", frame }), state);
}

const ack = (messageId = T, duplicate = false): ServerFrame => ({ type: "ack", sessionId: S, messageId, duplicate, sessionToken: null });
const typing = (turnId = T): ServerFrame => ({ type: "typing", sessionId: S, turnId });
const delta = (seq: number, text: string, turnId = T): ServerFrame => ({ type: "delta", sessionId: S, turnId, seq, text });
const message = (seq: number, text: string, extra: Partial<Extract<ServerFrame, { type: "message" }>> = {}): ServerFrame => ({
  type: "message",
  sessionId: S,
  turnId: T,
  seq,
  text,
  stage: "entry_intent",
  order: null,
  quickReplies: [],
  modelProvider: "offline",
  ...extra,
});
const done = (seq: number, turnId = T): ServerFrame => ({ type: "done", sessionId: S, turnId, seq, modelCalls: 1, usage: {} });
const CONFIRM = "a".repeat(64);
const YES_NO = [
  { label: "Yes", text: "yes", confirmHash: CONFIRM, action: "send" as const },
  { label: "No", text: "no", confirmHash: null, action: "send" as const },
];

function sent(text = "Where is my order?", id = T): ChatState {
  return reduce(initialState(S), { type: "send", id, text });
}

const user = (state: ChatState, id = T) => state.entries.find((e): e is UserEntry => e.kind === "user" && e.id === id)!;
const agent = (state: ChatState, turnId = T) =>
  state.entries.find((e): e is AgentEntry => e.kind === "agent" && e.turnId === turnId)!;

describe("frames in order", () => {
  it("streams a turn: sending → sent, typing, deltas, final message, done", () => {
    let state = sent();
    expect(user(state).status).toBe("sending");
    expect(isBusy(state)).toBe(true);

    state = apply(state, ack(), typing());
    expect(user(state).status).toBe("sent");
    expect(agent(state).pieces).toEqual([]);
    expect(isBusy(state)).toBe(true);

    state = apply(state, delta(1, "Order #W1 "), delta(2, "is pending."));
    expect(agentText(agent(state))).toBe("Order #W1 is pending.");

    const order = { order_id: "#W1", status: "pending", items: [] };
    state = apply(state, message(3, "Order **#W1** is pending.", { order, quickReplies: YES_NO, stage: "order_confirmation" }));
    expect(agentText(agent(state))).toBe("Order **#W1** is pending.");
    expect(agent(state).order).toEqual(order);
    expect(state.offlineModel).toBe(true);
    expect(isBusy(state)).toBe(true); // until done

    state = apply(state, done(4));
    expect(agent(state).finished).toBe(true);
    expect(isBusy(state)).toBe(false);
    expect(state.lastSeq).toBe(4);
    expect(currentQuickReplies(state).map((q) => q.label)).toEqual(["Yes", "No"]);
  });

  it("offers quick replies only after the latest reply, not once the customer answered", () => {
    let state = apply(sent(), ack(), typing(), message(1, "Cancel it?", { quickReplies: YES_NO }), done(2));
    state = reduce(state, { type: "send", id: "turn-2", text: "yes", confirmHash: CONFIRM });
    expect(currentQuickReplies(state)).toEqual([]);
    expect(user(state, "turn-2").confirmHash).toBe(CONFIRM);
  });
});

describe("frames out of order", () => {
  it("shows deltas in seq order whatever order they arrive in", () => {
    const state = apply(sent(), ack(), typing(), delta(3, "three"), delta(1, "one "), delta(2, "two "));
    expect(agentText(agent(state))).toBe("one two three");
    expect(state.lastSeq).toBe(3);
  });

  it("builds the turn from a delta or message that arrives before typing and ack", () => {
    const state = apply(sent(), delta(1, "Hello"), message(2, "Hello there."), typing(), ack(), done(3));
    expect(user(state).status).toBe("sent");
    expect(state.entries.filter((e) => e.kind === "agent")).toHaveLength(1);
    expect(agentText(agent(state))).toBe("Hello there.");
    expect(agent(state).finished).toBe(true);
  });

  it("keeps the final text when a late delta arrives after the message", () => {
    const state = apply(sent(), message(2, "Final."), delta(1, "Fin"));
    expect(agentText(agent(state))).toBe("Final.");
  });
});

describe("duplicates", () => {
  it("ignores a frame whose seq was applied (resume replay, retried messageId)", () => {
    const first = apply(sent(), ack(), typing(), delta(1, "Hi. "), message(2, "Hi."), done(3));
    const again = apply(first, ack(T, true), message(2, "Hi."), done(3), delta(1, "Hi. "));
    expect(again.entries).toBe(first.entries);
    expect(agentText(agent(again))).toBe("Hi.");
    expect(again.seqs).toEqual([1, 2, 3]);
  });

  it("does not add the same outgoing message twice", () => {
    const state = reduce(sent("hi"), { type: "send", id: T, text: "hi" });
    expect(state.entries).toHaveLength(1);
  });
});

describe("resume", () => {
  it("waits while the server still runs a turn, and stops waiting when it ends", () => {
    let state = apply(sent(), ack(), typing(), delta(1, "Work"));
    state = apply(state, { type: "session", sessionId: S, status: "open", lastSeq: 1, turnInProgress: true, pending: null, sessionToken: null });
    expect(isBusy(state)).toBe(true);
    state = apply(state, message(5, "Done."), done(6));
    expect(isBusy(state)).toBe(false);
    expect(state.turnInProgress).toBe(false);
  });

  it("stops waiting, retryably, for a turn that ended while we were away without a frame we can get", () => {
    let state = apply(sent(), ack(), typing(), delta(1, "Partial"));
    state = apply(state, { type: "session", sessionId: S, status: "open", lastSeq: 1, turnInProgress: false, pending: null, sessionToken: null });
    expect(agent(state)).toMatchObject({ interrupted: true, finished: false });
    expect(user(state)).toMatchObject({ status: "interrupted", error: { code: "turn_lost", retryable: true } });
    expect(isBusy(state)).toBe(false);
    expect(awaitingReply(state)).toBe(false);
  });

  it("offers a pending confirmation the transcript does not show", () => {
    const state = apply(initialState(S), {
      type: "session",
      sessionId: S,
      status: "open",
      lastSeq: 9,
      turnInProgress: false,
      pending: { tool: "cancel_pending_order", hash: CONFIRM, text: "Cancel #W1?", order: null, quickReplies: YES_NO },
      sessionToken: null,
    });
    expect(currentQuickReplies(state).map((q) => q.confirmHash)).toEqual([CONFIRM, null]);
    expect(state.status).toBe("open");
  });

  it("marks the conversation closed from the final stage", () => {
    const state = apply(sent(), message(1, "Goodbye!", { stage: "closed" }), done(2));
    expect(state.status).toBe("closed");
  });
});

describe("session token (anonymous chat)", () => {
  const TOKEN = "t".repeat(43);

  it("keeps the token the ack of the session's first message carries, and no later null replaces it", () => {
    let state = apply(sent(), { type: "ack", sessionId: S, messageId: T, duplicate: false, sessionToken: TOKEN });
    expect(state.sessionToken).toBe(TOKEN);
    state = apply(state, { type: "session", sessionId: S, status: "open", lastSeq: 0, turnInProgress: false, pending: null, sessionToken: null });
    expect(state.sessionToken).toBe(TOKEN);
  });

  it("keeps the token of a session a resume started, but never one of another conversation", () => {
    const started = apply(initialState(S), { type: "session", sessionId: S, status: "new", lastSeq: 0, turnInProgress: false, pending: null, sessionToken: TOKEN });
    expect(started.sessionToken).toBe(TOKEN);
    const other = apply(initialState(S), { type: "session", sessionId: "another", status: "new", lastSeq: 0, turnInProgress: false, pending: null, sessionToken: TOKEN });
    expect(other.sessionToken).toBeNull();
  });

  it("forgets the token with the conversation", () => {
    const state = apply(initialState(S), { type: "ack", sessionId: S, messageId: T, duplicate: false, sessionToken: TOKEN });
    expect(reduce(state, { type: "reset", sessionId: "session-2" }).sessionToken).toBeNull();
  });
});

describe("limits", () => {
  it("fails the refused message with the limit's error: rate_limited may be retried, a conversation limit not", () => {
    let state = apply(sent(), { type: "error", code: "rate_limited", message: "Please wait a moment.", retryable: true, sessionId: S, turnId: T, seq: null });
    expect(user(state)).toMatchObject({ status: "failed", error: { code: "rate_limited", retryable: true } });
    expect(isBusy(state)).toBe(false);
    state = apply(sent(), { type: "error", code: "turn_limit_reached", message: "Please start a new conversation.", retryable: false, sessionId: S, turnId: T, seq: null });
    expect(user(state)).toMatchObject({ status: "failed", error: { code: "turn_limit_reached", retryable: false } });
  });
});

describe("errors", () => {
  it("fails a refused message (no seq) and leaves no empty agent bubble", () => {
    const state = apply(sent(), ack(), typing(), {
      type: "error",
      code: "busy",
      message: "Still answering your previous message.",
      retryable: true,
      sessionId: S,
      turnId: T,
      seq: null,
    });
    expect(user(state).status).toBe("failed");
    expect(user(state).error).toMatchObject({ code: "busy", retryable: true });
    expect(state.entries.filter((e) => e.kind === "agent")).toHaveLength(0);
    expect(isBusy(state)).toBe(false);

    const retried = reduce(state, { type: "retry", id: T });
    expect(user(retried).status).toBe("sending");
    expect(user(apply(retried, ack(T, true))).status).toBe("sent");
  });

  it("fails the sending message when the error names none (frame too large)", () => {
    const state = apply(sent("x".repeat(50_000)), {
      type: "error",
      code: "frame_too_large",
      message: "Messages are limited to 32768 bytes.",
      retryable: false,
      sessionId: null,
      turnId: null,
      seq: null,
    });
    expect(user(state)).toMatchObject({ status: "failed", error: { code: "frame_too_large", retryable: false } });
  });

  it("ends a turn that failed after it started (error with seq) as part of the conversation", () => {
    const state = apply(sent(), ack(), typing(), delta(1, "Let me"), {
      type: "error",
      code: "model_unavailable",
      message: "The assistant is unavailable; please try again.",
      retryable: true,
      sessionId: S,
      turnId: T,
      seq: 2,
    });
    expect(agent(state).error?.code).toBe("model_unavailable");
    expect(agent(state).finished).toBe(true);
    expect(user(state).status).toBe("sent");
    expect(state.lastSeq).toBe(2);
  });

  it("shows an error that belongs to no message as a notice", () => {
    const state = apply(initialState(S), { type: "error", code: "forbidden", message: "This conversation belongs to another user.", retryable: false, sessionId: S, turnId: null, seq: null });
    expect(state.entries).toEqual([expect.objectContaining({ kind: "notice", tone: "error" })]);
  });

  it("times out a message the server never acknowledged, retryably", () => {
    const state = reduce(sent(), { type: "sendTimedOut", id: T });
    expect(user(state)).toMatchObject({ status: "failed", error: { code: "timeout", retryable: true } });
    expect(reduce(state, { type: "sendTimedOut", id: T })).toBe(state);
  });
});

describe("sessions and announcements", () => {
  it("drops frames of another conversation", () => {
    const state = sent();
    expect(apply(state, { ...delta(1, "old"), sessionId: "other" } as ServerFrame)).toBe(state);
  });

  it("starts a new conversation empty, keeping the connection state", () => {
    let state = apply(sent(), ack(), message(1, "Hi."), done(2));
    state = reduce(state, { type: "connection", connection: { status: "open" } });
    state = reduce(state, { type: "reset", sessionId: "session-2" });
    expect(state).toMatchObject({ sessionId: "session-2", entries: [], lastSeq: 0, connection: { status: "open" } });
  });

  it("announces whole sentences as they complete, not tokens", () => {
    let state = apply(sent(), ack(), typing(), delta(1, "Your order "));
    expect(state.announcement).toBe("");
    state = apply(state, delta(2, "is **pending**. It ships"));
    expect(state.announcement).toBe("Your order is pending.");
    state = apply(state, delta(3, " soon"));
    expect(state.announcement).toBe("Your order is pending.");
    state = apply(state, message(4, "Your order is **pending**. It ships soon!"));
    expect(state.announcement).toBe("It ships soon!");
  });
});

describe("interruptions (API Gateway's own frames, the reply watchdog)", () => {
  const interrupt = (state: ChatState, code = "gateway_timeout", message = "This is taking longer than usual.") =>
    reduce(state, { type: "interrupt", code, message });

  it("fails a message the server never acknowledged, with Retry and Edit", () => {
    const state = interrupt(sent(), "gateway_error", "Something went wrong on our side.");
    expect(user(state)).toMatchObject({ status: "failed", error: { code: "gateway_error", retryable: true } });
    expect(isBusy(state)).toBe(false);
    expect(user(reduce(state, { type: "retry", id: T })).status).toBe("sending");
  });

  it("stops the typing indicator of a running turn, keeps what streamed, and offers Retry", () => {
    const running = apply(sent(), ack(), typing(), delta(1, "Let me check "));
    expect(activeTurn(running)).toBeDefined();
    const state = interrupt(running);
    expect(activeTurn(state)).toBeUndefined(); // no typing indicator
    expect(isBusy(state)).toBe(false); // the composer is free
    expect(awaitingReply(state)).toBe(false); // the watchdog is off
    expect(agentText(agent(state))).toBe("Let me check ");
    expect(user(state)).toMatchObject({ status: "interrupted", text: "Where is my order?", error: { code: "gateway_timeout", retryable: true } });
  });

  it("interrupts a message that was acknowledged before its turn began", () => {
    const state = interrupt(apply(sent(), ack()), "gateway_error");
    expect(user(state).status).toBe("interrupted");
    expect(state.entries.filter((e) => e.kind === "agent")).toHaveLength(0);
  });

  it("shows a late answer of a timed-out turn and clears the interruption", () => {
    const state = apply(
      interrupt(apply(sent(), ack(), typing(), delta(1, "Let me check "))),
      delta(2, "order #W1."),
    );
    expect(agent(state).interrupted).toBe(false);
    expect(activeTurn(state)).toBe(agent(state)); // streaming again
    expect(user(state)).toMatchObject({ status: "sent", error: undefined });
    const finished = apply(state, message(3, "Order #W1 is pending."), done(4));
    expect(agentText(agent(finished))).toBe("Order #W1 is pending.");
    expect(agent(finished).finished).toBe(true);
    expect(isBusy(finished)).toBe(false);
  });

  it("shows a late answer that arrives with no delta first", () => {
    const state = apply(interrupt(apply(sent(), ack(), typing())), message(1, "Here it is."), done(2));
    expect(agentText(agent(state))).toBe("Here it is.");
    expect(user(state).status).toBe("sent");
  });

  it("retries with the same messageId: the duplicate ack and the recorded answer complete the turn once", () => {
    const interrupted = interrupt(apply(sent(), ack(), typing(), delta(1, "Let me ")));
    const retried = reduce(interrupted, { type: "retry", id: T });
    expect(user(retried).status).toBe("sending");
    expect(activeTurn(retried)).toBe(agent(retried)); // waiting again
    const answered = apply(retried, ack(T, true), message(2, "Order #W1 is pending."), done(3));
    expect(user(answered).status).toBe("sent");
    expect(agentText(agent(answered))).toBe("Order #W1 is pending.");
    expect(answered.entries.filter((e) => e.kind === "agent")).toHaveLength(1);
    // The first run's frames, arriving late after all, change nothing.
    expect(apply(answered, message(2, "Order #W1 is pending."), done(3)).entries).toBe(answered.entries);
  });

  it("stops the typing indicator when the retry of a begun turn is not acknowledged either", () => {
    const retried = reduce(interrupt(apply(sent(), ack(), typing(), delta(1, "Let me "))), { type: "retry", id: T });
    for (const state of [interrupt(retried, "gateway_error"), reduce(retried, { type: "sendTimedOut", id: T })]) {
      expect(user(state).status).toBe("failed");
      expect(activeTurn(state)).toBeUndefined();
      expect(isBusy(state)).toBe(false);
    }
  });

  it("drops the first run's pieces when the server runs a retried turn afresh", () => {
    const retried = reduce(interrupt(apply(sent(), ack(), typing(), delta(1, "Half a sen"))), { type: "retry", id: T });
    const rerun = apply(retried, ack(), typing(), delta(2, "A whole answer."));
    expect(agentText(agent(rerun))).toBe("A whole answer.");
  });

  it("keeps the first run's pieces when the retry finds the turn still running", () => {
    const retried = reduce(interrupt(apply(sent(), ack(), typing(), delta(1, "Let me "))), { type: "retry", id: T });
    const state = apply(retried, ack(T, true), delta(2, "check."));
    expect(agentText(agent(state))).toBe("Let me check.");
  });

  it("changes nothing when no turn is in flight (a ping or resume that failed)", () => {
    const idle = apply(sent(), ack(), typing(), message(1, "Hi."), done(2));
    expect(interrupt(idle)).toBe(idle);
    expect(interrupt(initialState(S))).toEqual(initialState(S));
  });

  it("stops waiting for a turn a resume said was running", () => {
    const state = apply(initialState(S), { type: "session", sessionId: S, status: "open", lastSeq: 3, turnInProgress: true, pending: null, sessionToken: null });
    expect(awaitingReply(state)).toBe(true);
    const stopped = interrupt(state);
    expect(stopped.turnInProgress).toBe(false);
    expect(isBusy(stopped)).toBe(false);
  });

  it("tells the customer when the interrupted turn's message is not on this page", () => {
    const state = interrupt(apply(initialState(S), typing("from-another-tab")));
    expect(state.entries.at(-1)).toMatchObject({ kind: "notice", tone: "error", text: "This is taking longer than usual." });
    expect(isBusy(state)).toBe(false);
  });

  it("ignores a frame type it does not know", () => {
    const state = sent();
    expect(apply(state, { type: "surprise" } as unknown as ServerFrame)).toBe(state);
  });
});

// The conversation as the page shows it, changed only by `reduce` (a pure function, so every
// frame order the network can produce is testable without a browser).
//
// Ordering rules: frames of the session carry `seq`, growing across the whole session. A frame
// whose seq was already applied is a duplicate (a resume replay, or a retried messageId whose
// answer is sent again) and changes nothing. Deltas may arrive out of order around a reconnect,
// so a turn keeps its pieces by seq and shows them sorted; the final `message` replaces them.
//
// Interrupted turns: when API Gateway answers a message itself ("Internal server error",
// "Endpoint request timed out", "Forbidden": gateway.ts), when nothing arrives for a turn for a
// long time (useChat's watchdog), or when a resume says the server no longer runs a turn we saw
// no end of, the turn in flight stops waiting: no typing indicator, the composer is free, and
// its message offers Retry (the same messageId, so the server still runs it at most once). The
// function behind a timed-out request may still be running: any later frame of that turn shows
// as usual and clears the interruption, and a retry gets the server's duplicate `ack` with the
// recorded answer (or, if the turn is still running, just the `ack`, and the frames follow).
import { plainText, sentencesEnd } from "./markdown";
import type {
  AckFrame,
  DeltaFrame,
  DoneFrame,
  ErrorFrame,
  MessageFrame,
  PendingConfirmation,
  QuickReplyModel,
  ServerFrame,
  SessionFrame,
  TypingFrame,
} from "./protocol.generated";

export type QuickReply = QuickReplyModel;
export type OrderDocument = Record<string, unknown>;

// sending: not acknowledged yet; sent: acknowledged (or a frame of its turn seen); failed: not
// acknowledged, and refused or timed out (Retry or Edit); interrupted: it reached the server but
// its answer stopped coming (Retry; a late frame of its turn makes it sent again).
export type UserStatus = "sending" | "sent" | "failed" | "interrupted";

export interface UserEntry {
  kind: "user";
  id: string; // the messageId; a retry sends the same one, so the server runs it once
  text: string;
  confirmHash?: string;
  status: UserStatus;
  error?: { code: string; message: string; retryable: boolean };
}

export interface AgentEntry {
  kind: "agent";
  turnId: string;
  pieces: { seq: number; text: string }[]; // streamed deltas, kept sorted by seq
  text?: string; // the final text, once the `message` frame arrived
  stage?: string;
  order?: OrderDocument | null;
  quickReplies: QuickReply[];
  modelProvider?: string;
  finished: boolean; // `done` or `error` seen
  error?: { code: string; message: string; retryable: boolean };
  interrupted?: boolean; // we stopped waiting for it (see the top of this file); not finished
  retried?: boolean; // its message was sent again after an interruption
}

export interface NoticeEntry {
  kind: "notice";
  id: string;
  text: string;
  tone: "error" | "info";
}

export type Entry = UserEntry | AgentEntry | NoticeEntry;

export type ConnectionStatus = "connecting" | "open" | "offline" | "error";

export interface ConnectionState {
  status: ConnectionStatus;
  retryAt?: number; // offline: when the next attempt starts (ms since epoch)
  message?: string; // error: why we stopped trying
}

export interface ChatState {
  sessionId: string;
  // Anonymous chat: the secret the server issued with this session (on the `ack` or `session`
  // frame that started it). A reconnect or reload must send it to continue the conversation.
  sessionToken: string | null;
  entries: Entry[];
  seqs: number[]; // applied seqs, for dedupe (sorted)
  lastSeq: number; // highest seq applied: what `resume` asks after
  status: SessionFrame["status"];
  turnInProgress: boolean; // the server said a turn runs (resume) and we have not seen it end
  pending: PendingConfirmation | null; // the proposal waiting for yes/no, from `resume`
  connection: ConnectionState;
  offlineModel: boolean; // some reply came from the offline model
  // Screen readers: the polite live region reads `announcement`, which grows by whole sentences
  // (per turn, `announced` is how much of its text has been read), never token by token.
  announcement: string;
  announced: Record<string, number>;
}

export type Action =
  | { type: "frame"; frame: ServerFrame }
  | { type: "send"; id: string; text: string; confirmHash?: string }
  | { type: "retry"; id: string }
  | { type: "sendTimedOut"; id: string }
  | { type: "interrupt"; code: string; message: string } // stop waiting for the turn in flight
  | { type: "remove"; id: string }
  | { type: "connection"; connection: ConnectionState }
  | { type: "reset"; sessionId: string };

export function initialState(sessionId: string): ChatState {
  return {
    sessionId,
    sessionToken: null,
    entries: [],
    seqs: [],
    lastSeq: 0,
    status: "new",
    turnInProgress: false,
    pending: null,
    connection: { status: "connecting" },
    offlineModel: false,
    announcement: "",
    announced: {},
  };
}

export const TURN_LOST = { code: "turn_lost", message: "The answer did not come through.", retryable: true };

// -- derived values -------------------------------------------------------------------------------

export function agentText(entry: AgentEntry): string {
  return entry.text ?? entry.pieces.map((piece) => piece.text).join("");
}

/** A turn the agent is still answering: the composer waits, the typing indicator shows. */
export function activeTurn(state: ChatState): AgentEntry | undefined {
  for (let i = state.entries.length - 1; i >= 0; i--) {
    const entry = state.entries[i];
    if (entry.kind === "agent" && !entry.finished && !entry.interrupted) return entry;
  }
  return undefined;
}

/** The turn we are waiting for, if any: its message (when we have it) and its agent entry (once it started). */
function inFlight(state: ChatState): { user?: UserEntry; turn?: AgentEntry } | undefined {
  const turn = activeTurn(state);
  if (turn) {
    const user = state.entries.find((e): e is UserEntry => e.kind === "user" && e.id === turn.turnId);
    return { user, turn };
  }
  // Acknowledged, and its turn not begun yet (or begun on a connection we lost).
  const last = [...state.entries].reverse().find((e): e is UserEntry => e.kind === "user");
  if (last?.status === "sent" && !state.entries.some((e) => e.kind === "agent" && e.turnId === last.id)) {
    return { user: last };
  }
  return undefined;
}

/** The server owes us frames of a turn: what useChat's watchdog watches. */
export function awaitingReply(state: ChatState): boolean {
  return state.turnInProgress || inFlight(state) !== undefined;
}

export function isBusy(state: ChatState): boolean {
  return (
    state.turnInProgress ||
    activeTurn(state) !== undefined ||
    state.entries.some((e) => e.kind === "user" && e.status === "sending")
  );
}

/** Quick replies to offer now: those of the latest agent reply, or the pending proposal's. */
export function currentQuickReplies(state: ChatState): QuickReply[] {
  if (isBusy(state)) return [];
  const last = state.entries[state.entries.length - 1];
  if (last?.kind === "agent" && last.quickReplies.length > 0) return last.quickReplies;
  if (state.pending && !(last?.kind === "user")) return state.pending.quickReplies ?? [];
  return [];
}

/** User messages to send (again) once the connection is open: never acknowledged, not failed. */
export function unsent(state: ChatState): UserEntry[] {
  return state.entries.filter((e): e is UserEntry => e.kind === "user" && e.status === "sending");
}

// -- the reducer ----------------------------------------------------------------------------------

export function reduce(state: ChatState, action: Action): ChatState {
  switch (action.type) {
    case "frame":
      return applyFrame(state, action.frame);
    case "send": {
      if (state.entries.some((e) => e.kind === "user" && e.id === action.id)) return state;
      const entry: UserEntry = { kind: "user", id: action.id, text: action.text, status: "sending" };
      if (action.confirmHash) entry.confirmHash = action.confirmHash;
      return { ...state, pending: null, entries: [...state.entries, entry] };
    }
    case "retry": {
      const next = updateUser(state, action.id, (e) =>
        e.status === "failed" || e.status === "interrupted" ? { ...e, status: "sending", error: undefined } : e,
      );
      // Waiting for its turn again; the pieces streamed so far stay until we learn more (see onTyping).
      return next === state ? state : updateTurn(next, action.id, (t) => (t.interrupted ? { ...t, interrupted: false, retried: true } : t));
    }
    case "sendTimedOut": {
      const entry = state.entries.find((e) => e.kind === "user" && e.id === action.id);
      return entry?.kind === "user" && entry.status === "sending"
        ? failMessage(state, action.id, { code: "timeout", message: "No answer from the server.", retryable: true })
        : state;
    }
    case "interrupt":
      return interrupt(state, { code: action.code, message: action.message, retryable: true });
    case "remove":
      return { ...state, entries: state.entries.filter((e) => !(e.kind === "user" && e.id === action.id)) };
    case "connection":
      return { ...state, connection: action.connection };
    case "reset":
      return { ...initialState(action.sessionId), connection: state.connection };
  }
}

function applyFrame(state: ChatState, frame: ServerFrame): ChatState {
  const next = keepSessionToken(applyFrameOnly(state, frame), frame);
  return next === state || !("turnId" in frame) || !frame.turnId ? next : announce(next, frame.turnId);
}

/** The session token a frame of this conversation carries (issued once, when the session began). */
function keepSessionToken(state: ChatState, frame: ServerFrame): ChatState {
  if ((frame.type !== "ack" && frame.type !== "session") || !frame.sessionToken) return state;
  if (frame.sessionId !== state.sessionId || frame.sessionToken === state.sessionToken) return state;
  return { ...state, sessionToken: frame.sessionToken };
}

/** Adds the turn's newly completed sentences (all of its text once final) to the announcement. */
function announce(state: ChatState, turnId: string): ChatState {
  const entry = state.entries.find((e): e is AgentEntry => e.kind === "agent" && e.turnId === turnId);
  if (!entry) return state;
  const text = plainText(agentText(entry));
  const from = state.announced[turnId] ?? 0;
  const final = entry.text !== undefined || entry.finished;
  const upTo = final ? text.length : sentencesEnd(text);
  const parts: string[] = [];
  if (upTo > from) parts.push(text.slice(from, upTo).trim());
  const errorKey = `${turnId}:error`;
  if (entry.error && !state.announced[errorKey]) parts.push(entry.error.message);
  if (parts.length === 0) return state;
  return {
    ...state,
    announcement: parts.filter(Boolean).join(" "),
    announced: { ...state.announced, [turnId]: Math.max(from, upTo), ...(entry.error ? { [errorKey]: 1 } : {}) },
  };
}

function applyFrameOnly(state: ChatState, frame: ServerFrame): ChatState {
  if ("sessionId" in frame && frame.sessionId && frame.sessionId !== state.sessionId) {
    return state; // a late frame of a conversation the customer has left
  }
  switch (frame.type) {
    case "ack":
      return onAck(state, frame);
    case "typing":
      return onTyping(state, frame);
    case "delta":
    case "message":
    case "done":
      return withSeq(state, frame.seq, (s) => onTurnFrame(s, frame));
    case "error":
      return frame.seq != null ? withSeq(state, frame.seq, (s) => onError(s, frame)) : onError(state, frame);
    case "session":
      return onSession(state, frame);
    case "pong":
      return state;
    default:
      return state; // a type this page does not know (gateway.ts drops those before they get here)
  }
}

/** Applies `apply` once per seq; a seq seen before is a duplicate and is dropped. */
function withSeq(state: ChatState, seq: number, apply: (s: ChatState) => ChatState): ChatState {
  if (binarySearch(state.seqs, seq) >= 0) return state;
  const next = apply(state);
  const seqs = [...state.seqs];
  seqs.splice(-binarySearch(seqs, seq) - 1, 0, seq);
  return { ...next, seqs, lastSeq: Math.max(state.lastSeq, seq) };
}

function binarySearch(sorted: number[], value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] === value) return mid;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

function updateUser(state: ChatState, id: string, change: (e: UserEntry) => UserEntry): ChatState {
  let changed = false;
  const entries = state.entries.map((e) => {
    if (e.kind !== "user" || e.id !== id) return e;
    const next = change(e);
    changed ||= next !== e;
    return next;
  });
  return changed ? { ...state, entries } : state;
}

function onAck(state: ChatState, frame: AckFrame): ChatState {
  return updateUser(state, frame.messageId, (e) => (e.status === "sent" ? e : { ...e, status: "sent", error: undefined }));
}

/** The agent entry of a turn, created (after its user message, if we have it) when first seen. */
function withTurn(state: ChatState, turnId: string, change: (e: AgentEntry) => AgentEntry): ChatState {
  // A frame of a turn implies its message reached the server, and that the turn is alive: an
  // interruption we declared (a gateway timeout, the watchdog) was too early.
  const acked = updateUser(state, turnId, (e) => (e.status === "sent" ? e : { ...e, status: "sent", error: undefined }));
  const index = acked.entries.findIndex((e) => e.kind === "agent" && e.turnId === turnId);
  if (index >= 0) {
    const entries = [...acked.entries];
    const changed = change(entries[index] as AgentEntry);
    entries[index] = changed.interrupted ? { ...changed, interrupted: false } : changed;
    return { ...acked, entries };
  }
  const created = change({ kind: "agent", turnId, pieces: [], quickReplies: [], finished: false });
  return { ...acked, entries: [...acked.entries, created] };
}

function updateTurn(state: ChatState, turnId: string, change: (e: AgentEntry) => AgentEntry): ChatState {
  const index = state.entries.findIndex((e) => e.kind === "agent" && e.turnId === turnId);
  if (index < 0) return state;
  const next = change(state.entries[index] as AgentEntry);
  if (next === state.entries[index]) return state;
  const entries = [...state.entries];
  entries[index] = next;
  return { ...state, entries };
}

/** Stops waiting for the turn in flight, leaving its message retryable (see the top of this file). */
function interrupt(state: ChatState, error: { code: string; message: string; retryable: boolean }): ChatState {
  // A message the server never acknowledged failed: Retry sends it again, Edit gives the text back.
  const sending = [...state.entries].reverse().find((e): e is UserEntry => e.kind === "user" && e.status === "sending");
  return sending ? failMessage(state, sending.id, error) : stopTurn(state, error);
}

/** The message failed; if it was a retry of a turn that had begun, that turn stops waiting too. */
function failMessage(state: ChatState, id: string, error: { code: string; message: string; retryable: boolean }): ChatState {
  const failed = updateUser(state, id, (e) => ({ ...e, status: "failed", error }));
  return updateTurn(failed, id, (t) => (t.finished || t.interrupted ? t : { ...t, interrupted: true }));
}

function stopTurn(state: ChatState, error: { code: string; message: string; retryable: boolean }): ChatState {
  const target = inFlight(state);
  if (!target) return state.turnInProgress ? { ...state, turnInProgress: false } : state;
  if (target.user?.status === "sending") return state; // sent again just now: its ack is awaited
  let next: ChatState = { ...state, turnInProgress: false };
  if (target.user) next = updateUser(next, target.user.id, (e) => ({ ...e, status: "interrupted", error }));
  if (target.turn) {
    next = updateTurn(next, target.turn.turnId, (e) => ({ ...e, interrupted: true }));
    if (!target.user) {
      // A turn whose message this page does not have (sent from another tab): nothing to retry here.
      const notice: NoticeEntry = { kind: "notice", id: `interrupted-${state.entries.length}`, text: error.message, tone: "error" };
      next = { ...next, entries: [...next.entries, notice] };
    }
  }
  return next;
}

function onTyping(state: ChatState, frame: TypingFrame): ChatState {
  // `typing` opens a run of the turn. After a retry it means the server runs the turn afresh
  // (the first run failed before it was recorded): the first run's streamed pieces go.
  return withTurn(state, frame.turnId, (e) =>
    e.retried && e.text === undefined ? { ...e, pieces: [], retried: false } : e,
  );
}

function onTurnFrame(state: ChatState, frame: DeltaFrame | MessageFrame | DoneFrame): ChatState {
  if (frame.type === "delta") {
    return withTurn(state, frame.turnId, (e) => {
      if (e.text !== undefined) return e; // the final text is already here
      const pieces = [...e.pieces, { seq: frame.seq, text: frame.text }].sort((a, b) => a.seq - b.seq);
      return { ...e, pieces };
    });
  }
  if (frame.type === "message") {
    const next = withTurn(state, frame.turnId, (e) => ({
      ...e,
      text: frame.text,
      pieces: [],
      stage: frame.stage,
      order: frame.order ?? null,
      quickReplies: frame.quickReplies ?? [],
      modelProvider: frame.modelProvider,
    }));
    const status = frame.stage === "closed" ? "closed" : frame.stage === "handed_off" ? "handed_off" : "open";
    return { ...next, status, pending: null, offlineModel: next.offlineModel || frame.modelProvider === "offline" };
  }
  const next = withTurn(state, frame.turnId, (e) => ({ ...e, finished: true }));
  return { ...next, turnInProgress: false };
}

function onError(state: ChatState, frame: ErrorFrame): ChatState {
  const error = { code: frame.code, message: frame.message, retryable: frame.retryable };
  if (frame.turnId && frame.seq != null) {
    // The turn started and failed: it is part of the conversation.
    const next = withTurn(state, frame.turnId, (e) => ({ ...e, finished: true, error }));
    return { ...next, turnInProgress: false };
  }
  // Refused before it ran (busy, too long, invalid): the message failed and can be retried or edited.
  const target =
    (frame.turnId && state.entries.find((e) => e.kind === "user" && e.id === frame.turnId)) ||
    state.entries.find((e) => e.kind === "user" && e.status === "sending");
  if (target && target.kind === "user") {
    const failed = updateUser(state, target.id, (e) => ({ ...e, status: "failed", error }));
    // A turn the server created and then refused leaves no agent entry behind.
    return { ...failed, entries: failed.entries.filter((e) => !(e.kind === "agent" && e.turnId === target.id && !agentText(e))) };
  }
  const notice: NoticeEntry = { kind: "notice", id: `error-${state.entries.length}`, text: frame.message, tone: "error" };
  return { ...state, entries: [...state.entries, notice] };
}

function onSession(state: ChatState, frame: SessionFrame): ChatState {
  // Everything up to the server's lastSeq that resume could return has been replayed before
  // this frame; a running turn will finish on this connection (or the next resume).
  let next = state;
  if (!frame.turnInProgress) {
    // A turn we saw start but never saw end, and that the server no longer runs, ended while we
    // were away without a lasting frame we could get (its function failed): its message offers
    // Retry. Older such turns just end, so nothing spins forever.
    if (activeTurn(state)) next = stopTurn(state, TURN_LOST);
    next = { ...next, entries: next.entries.map((e) => (e.kind === "agent" && !e.finished && !e.interrupted ? { ...e, finished: true } : e)) };
  }
  return {
    ...next,
    status: frame.status,
    turnInProgress: frame.turnInProgress,
    pending: frame.pending ?? null,
    lastSeq: Math.max(state.lastSeq, state.seqs.length ? state.seqs[state.seqs.length - 1] : 0),
  };
}

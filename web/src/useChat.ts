// The conversation hook: state (reduce), the connection, and the browser storage that lets a
// reload continue the same conversation (sessionStorage: it survives reloads, not closing the tab,
// so a shared computer does not keep a customer's conversation).
import { useCallback, useEffect, useMemo, useReducer, useRef } from "react";

import { connectUrl, SignInRequired } from "./auth";
import type { SiteConfig } from "./config";
import { ChatConnection, type Timings } from "./connection";
import { describeGatewayFrame, type GatewayFrame } from "./gateway";
import type { ClientMessage, ServerFrame } from "./protocol.generated";
import { activeTurn, awaitingReply, type ChatState, type Entry, initialState, reduce, unsent } from "./state";

const STORE = "order-agent.conversation";
const ACK_TIMEOUT_MS = 15_000;
const RESUME_POLL_MS = [1_000, 2_000, 4_000, 8_000]; // while the server runs a turn we lost track of
/**
 * The reply watchdog: while a turn is awaited on an open connection and nothing at all arrives
 * for this long, the turn is interrupted (retryable). A bit above API Gateway's 29-second
 * integration timeout, so in AWS the gateway's own "Endpoint request timed out" normally comes
 * first; this catches the cases where no such frame comes (a frame lost, the local gateway,
 * which has no integration timeout, a function that hangs after its last post).
 */
export const REPLY_WATCHDOG_MS = 35_000;
export const NO_REPLY = { code: "no_reply", message: "Nothing has arrived for a while. It may still come, or you can try again." };

export function newId(): string {
  return crypto.randomUUID();
}

interface Saved {
  sessionId: string;
  sessionToken?: string | null; // absent in what an older version of the page saved
  entries: Entry[];
  seqs: number[];
  lastSeq: number;
  status: ChatState["status"];
  offlineModel: boolean;
}

export function loadState(): ChatState {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE) ?? "null") as Saved | null;
    if (saved && typeof saved.sessionId === "string" && Array.isArray(saved.entries)) {
      // Replies restored after a reload were read out before: the live region starts silent.
      const announced = Object.fromEntries(
        saved.entries.filter((e) => e.kind === "agent").map((e) => [e.turnId, Number.MAX_SAFE_INTEGER]),
      );
      return { ...initialState(saved.sessionId), ...saved, sessionToken: saved.sessionToken ?? null, announced };
    }
  } catch {
    // unreadable: start a new conversation
  }
  return initialState(newId());
}

function save(state: ChatState): void {
  const saved: Saved = {
    sessionId: state.sessionId,
    sessionToken: state.sessionToken,
    entries: state.entries,
    seqs: state.seqs,
    lastSeq: state.lastSeq,
    status: state.status,
    offlineModel: state.offlineModel,
  };
  try {
    sessionStorage.setItem(STORE, JSON.stringify(saved));
  } catch {
    // storage full or disabled: the conversation still works, a reload starts anew
  }
}

/** The session token to send with a message of the current conversation, if the server issued one. */
function withToken<M extends ClientMessage>(message: M, state: ChatState): M {
  return state.sessionToken ? { ...message, sessionToken: state.sessionToken } : message;
}

export interface Chat {
  state: ChatState;
  send: (text: string, confirmHash?: string | null) => void;
  retry: (id: string) => void;
  remove: (id: string) => void;
  newConversation: () => void;
  reconnect: () => void;
}

export function useChat(config: SiteConfig, timings?: Partial<Timings>): Chat {
  const [state, dispatch] = useReducer(reduce, undefined, loadState);
  const stateRef = useRef(state); // for callbacks of the connection, which outlive renders
  const connectionRef = useRef<ChatConnection | null>(null);
  const ackTimers = useRef(new Map<string, ReturnType<typeof setTimeout>>());
  const resumePoll = useRef<{ timer?: ReturnType<typeof setTimeout>; attempt: number }>({ attempt: 0 });
  const lastHeard = useRef(0); // when the server last showed a turn moving on (ms since epoch): the watchdog's clock

  useEffect(() => {
    stateRef.current = state;
    save(state);
  }, [state]);

  const transmit = useCallback((message: ClientMessage & { action: "sendMessage" }) => {
    const sent = connectionRef.current?.send(withToken(message, stateRef.current)) ?? false;
    if (!sent) return; // goes out on the next connection (onOpen)
    lastHeard.current = Date.now();
    clearTimeout(ackTimers.current.get(message.messageId));
    ackTimers.current.set(
      message.messageId,
      setTimeout(() => dispatch({ type: "sendTimedOut", id: message.messageId }), ACK_TIMEOUT_MS),
    );
  }, []);

  const resume = useCallback(() => {
    const { sessionId, lastSeq } = stateRef.current;
    connectionRef.current?.send(withToken({ action: "resume", sessionId, lastSeq }, stateRef.current));
  }, []);

  const onFrame = useCallback(
    (frame: ServerFrame) => {
      if (frame.type !== "pong") lastHeard.current = Date.now();
      if (frame.type === "ack") {
        clearTimeout(ackTimers.current.get(frame.messageId));
        ackTimers.current.delete(frame.messageId);
      }
      dispatch({ type: "frame", frame });
      if (frame.type === "done" || (frame.type === "error" && frame.seq != null)) connectionRef.current?.turnEnded();
      if (frame.type === "session" && frame.sessionId === stateRef.current.sessionId) {
        // A turn still runs on the server: its frames may have been posted to the dropped
        // connection, so ask again until it has finished (bounded backoff).
        const poll = resumePoll.current;
        clearTimeout(poll.timer);
        if (frame.turnInProgress) {
          const delay = RESUME_POLL_MS[Math.min(poll.attempt++, RESUME_POLL_MS.length - 1)];
          poll.timer = setTimeout(resume, delay);
        } else {
          poll.attempt = 0;
        }
      }
    },
    [resume],
  );

  // API Gateway answered a message itself: the turn in flight stops waiting, retryably.
  const onGatewayFrame = useCallback((frame: GatewayFrame) => {
    dispatch({ type: "interrupt", ...describeGatewayFrame(frame) });
    connectionRef.current?.turnEnded();
  }, []);

  // The reply watchdog (REPLY_WATCHDOG_MS). Armed while a reply is awaited on an open
  // connection; every frame pushes it back (lastHeard), so only silence sets it off.
  const watching = state.connection.status === "open" && awaitingReply(state);
  useEffect(() => {
    if (!watching) return;
    let timer: ReturnType<typeof setTimeout>;
    const check = () => {
      const left = lastHeard.current + REPLY_WATCHDOG_MS - Date.now();
      if (left > 0) {
        timer = setTimeout(check, left);
      } else {
        dispatch({ type: "interrupt", ...NO_REPLY });
        connectionRef.current?.turnEnded();
      }
    };
    timer = setTimeout(check, Math.max(0, lastHeard.current + REPLY_WATCHDOG_MS - Date.now()));
    return () => clearTimeout(timer);
  }, [watching]);

  useEffect(() => {
    const connection = new ChatConnection({
      url: () => connectUrl(config.websocketUrl, config.auth),
      onFrame,
      onGatewayFrame,
      onState: (connectionState) => {
        if (connectionState.status === "open") lastHeard.current = Date.now(); // time offline does not count
        dispatch({ type: "connection", connection: connectionState });
      },
      onOpen: (send) => {
        const current = stateRef.current;
        send(withToken({ action: "resume", sessionId: current.sessionId, lastSeq: current.lastSeq }, current));
        for (const entry of unsent(current)) {
          transmit({ action: "sendMessage", sessionId: current.sessionId, messageId: entry.id, text: entry.text, ...(entry.confirmHash ? { confirmHash: entry.confirmHash } : {}) });
        }
      },
      canRecycle: () => !stateRef.current.turnInProgress && !activeTurn(stateRef.current),
      timings,
    });
    connectionRef.current = connection;
    connection.start();
    const online = () => connection.retryNow();
    window.addEventListener("online", online);
    const timers = ackTimers.current;
    const poll = resumePoll.current;
    return () => {
      window.removeEventListener("online", online);
      connection.stop();
      for (const timer of timers.values()) clearTimeout(timer);
      clearTimeout(poll.timer);
    };
  }, [config, onFrame, onGatewayFrame, transmit, timings]);

  const send = useCallback(
    (text: string, confirmHash?: string | null) => {
      const id = newId();
      dispatch({ type: "send", id, text, ...(confirmHash ? { confirmHash } : {}) });
      transmit({ action: "sendMessage", sessionId: stateRef.current.sessionId, messageId: id, text, ...(confirmHash ? { confirmHash } : {}) });
    },
    [transmit],
  );

  const retry = useCallback(
    (id: string) => {
      const entry = stateRef.current.entries.find((e) => e.kind === "user" && e.id === id);
      if (!entry || entry.kind !== "user") return;
      dispatch({ type: "retry", id });
      // The same messageId: if the first attempt did reach the server, it answers once.
      transmit({ action: "sendMessage", sessionId: stateRef.current.sessionId, messageId: id, text: entry.text, ...(entry.confirmHash ? { confirmHash: entry.confirmHash } : {}) });
    },
    [transmit],
  );

  const remove = useCallback((id: string) => dispatch({ type: "remove", id }), []);

  const newConversation = useCallback(() => {
    clearTimeout(resumePoll.current.timer);
    dispatch({ type: "reset", sessionId: newId() });
  }, []);

  const reconnect = useCallback(() => connectionRef.current?.retryNow(), []);

  return useMemo(
    () => ({ state, send, retry, remove, newConversation, reconnect }),
    [state, send, retry, remove, newConversation, reconnect],
  );
}

export { SignInRequired };

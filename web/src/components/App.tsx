import { type FormEvent, type KeyboardEvent, useEffect, useRef, useState } from "react";

import { signIn } from "../auth";
import type { SiteConfig } from "../config";
import { activeTurn, agentText, type ChatState, currentQuickReplies, isBusy, type QuickReply } from "../state";
import { type Chat, useChat } from "../useChat";
import { AgentMessage, Notice, TypingIndicator, UserMessage } from "./Messages";

const SUGGESTIONS: QuickReply[] = [
  { label: "Where is my order?", text: "Where is my order?", action: "send", confirmHash: null },
  { label: "Cancel an order", text: "I want to cancel an order", action: "send", confirmHash: null },
  { label: "Return an item", text: "I want to return an item", action: "send", confirmHash: null },
];

export function App({ config }: { config: SiteConfig }) {
  const chat = useChat(config);
  return <ChatView chat={chat} config={config} />;
}

export function ChatView({ chat, config }: { chat: Chat; config: SiteConfig }) {
  const { state } = chat;
  const [draft, setDraft] = useState("");
  const input = useRef<HTMLTextAreaElement>(null);
  const busy = isBusy(state);
  const turn = activeTurn(state);
  const quickReplies = state.entries.length === 0 ? SUGGESTIONS : currentQuickReplies(state);

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    const text = draft.trim();
    if (!text || busy) return;
    chat.send(text);
    setDraft("");
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    }
  };

  const choose = (reply: QuickReply) => {
    if (reply.action === "new_conversation") {
      chat.newConversation();
    } else {
      chat.send(reply.text, reply.confirmHash);
    }
    input.current?.focus();
  };

  return (
    <div className="app">
      <header className="topbar">
        <div className="topbar__brand">
          <span className="logo" aria-hidden="true">
            ✦
          </span>
          <div>
            <h1 className="topbar__title">Order support</h1>
            <ConnectionStatus state={state} onRetry={chat.reconnect} config={config} />
          </div>
        </div>
        <button type="button" className="button button--ghost" onClick={chat.newConversation}>
          New conversation
        </button>
      </header>

      {state.offlineModel && (
        <p className="banner" data-testid="offline-note">
          Demo mode: replies come from the built-in offline model, not from Claude.
        </p>
      )}

      <main className="transcript-wrap">
        <Transcript state={state} onRetry={chat.retry} onEdit={(id, text) => {
          chat.remove(id);
          setDraft(text);
          input.current?.focus();
        }} />
      </main>

      <Announcer state={state} />

      <footer className="composer-wrap">
        {quickReplies.length > 0 && (
          <div className="quick-replies" role="group" aria-label="Suggested replies">
            {quickReplies.map((reply) => (
              <button key={`${reply.label}-${reply.confirmHash ?? ""}`} type="button" className="chip" onClick={() => choose(reply)}>
                {reply.label}
              </button>
            ))}
          </div>
        )}
        <form className="composer" onSubmit={submit}>
          <label htmlFor="composer-input" className="sr-only">
            Your message
          </label>
          <textarea
            id="composer-input"
            ref={input}
            className="composer__input"
            rows={1}
            placeholder={busy ? "The agent is replying…" : "Write a message…"}
            aria-describedby="composer-hint"
            value={draft}
            onChange={(event) => setDraft(event.target.value)}
            onKeyDown={onKeyDown}
            autoFocus
          />
          <button type="submit" className="button button--primary composer__send" disabled={!draft.trim() || busy} aria-label="Send">
            <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
              <path d="M3 20.5 21 12 3 3.5l.01 6.6L15 12 3.01 13.9z" fill="currentColor" />
            </svg>
          </button>
        </form>
        <p id="composer-hint" className="composer__hint">
          Enter sends, Shift+Enter starts a new line.
        </p>
        {turn && <p className="sr-only">The agent is replying.</p>}
      </footer>
    </div>
  );
}

function ConnectionStatus({ state, onRetry, config }: { state: ChatState; onRetry: () => void; config: SiteConfig }) {
  const { connection } = state;
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (connection.status !== "offline") return;
    const tick = () => setNow(Date.now());
    const first = setTimeout(tick, 0); // `now` may be old: the countdown must start from the present
    const timer = setInterval(tick, 1000);
    return () => {
      clearTimeout(first);
      clearInterval(timer);
    };
  }, [connection.status]);
  let label: string;
  switch (connection.status) {
    case "open":
      label = "Online";
      break;
    case "connecting":
      label = "Connecting…";
      break;
    case "offline": {
      const seconds = Math.max(0, Math.ceil(((connection.retryAt ?? 0) - now) / 1000));
      label = seconds > 0 ? `Offline, reconnecting in ${seconds} s` : "Offline, reconnecting…";
      break;
    }
    case "error":
      label = connection.message ?? "Cannot connect";
      break;
  }
  return (
    <p className={`status status--${connection.status}`} data-testid="connection-status" data-status={connection.status}>
      <span className="status__dot" aria-hidden="true" />
      <span>{label}</span>
      {(connection.status === "offline" || connection.status === "error") && (
        <button type="button" className="link-button" onClick={onRetry}>
          Retry now
        </button>
      )}
      {connection.status === "error" && config.auth.mode === "jwt" && config.auth.cognito_domain && (
        <button type="button" className="link-button" onClick={() => void signIn(config.auth)}>
          Sign in
        </button>
      )}
    </p>
  );
}

function Transcript({ state, onRetry, onEdit }: { state: ChatState; onRetry: (id: string) => void; onEdit: (id: string, text: string) => void }) {
  const end = useRef<HTMLDivElement>(null);
  const turn = activeTurn(state);
  const lastText = turn ? agentText(turn) : "";
  useEffect(() => {
    end.current?.scrollIntoView?.({ block: "end" });
  }, [state.entries.length, lastText]);
  const showTyping = (turn !== undefined && !lastText) || (state.turnInProgress && !turn);
  return (
    // The log is not live itself (aria-live off): streamed text would be read token by token.
    // The Announcer below reads each reply sentence by sentence instead.
    <div className="transcript" role="log" aria-live="off" aria-label="Conversation" data-testid="transcript">
      {state.entries.length === 0 && (
        <div className="welcome">
          <h2>Hi! How can we help with your order?</h2>
          <p>
            Ask about an order's status, cancel a pending order, change its shipping address or return items. We'll
            first confirm who you are with your email address, or your name and zip code.
          </p>
        </div>
      )}
      {state.entries.map((entry) => {
        switch (entry.kind) {
          case "user":
            return <UserMessage key={`u-${entry.id}`} entry={entry} onRetry={() => onRetry(entry.id)} onEdit={() => onEdit(entry.id, entry.text)} />;
          case "agent":
            return <AgentMessage key={`a-${entry.turnId}`} entry={entry} streaming={!entry.finished && !entry.interrupted && entry.text === undefined} />;
          case "notice":
            return <Notice key={entry.id} entry={entry} />;
        }
      })}
      {showTyping && <TypingIndicator />}
      {state.status === "closed" && (
        <p className="notice notice--info">This conversation has ended. Start a new one any time.</p>
      )}
      <div ref={end} />
    </div>
  );
}

/** The polite live region: each reply is read once, a sentence at a time as it streams. */
function Announcer({ state }: { state: ChatState }) {
  return (
    <div className="sr-only" role="status" aria-live="polite" aria-atomic="true" data-testid="announcer">
      {state.announcement}
    </div>
  );
}

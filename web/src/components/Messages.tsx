import { useMemo, useState } from "react";

import { renderMarkdown } from "../markdown";
import { type AgentEntry, agentText, type NoticeEntry, type UserEntry } from "../state";
import { OrderCard } from "./OrderCard";

export function UserMessage({ entry, onRetry, onEdit }: { entry: UserEntry; onRetry: () => void; onEdit: () => void }) {
  return (
    <div className={`message message--user message--${entry.status}`} data-testid="user-message" data-status={entry.status}>
      <p className="bubble bubble--user">{entry.text.length > 600 ? `${entry.text.slice(0, 600)}…` : entry.text}</p>
      <p className="message__meta">
        {entry.status === "sending" && <span>Sending…</span>}
        {entry.status === "sent" && <span aria-label="Sent">Sent ✓</span>}
        {entry.status === "failed" && (
          <span className="message__error" role="alert">
            Not sent: {entry.error?.message ?? "something went wrong."}{" "}
            {(entry.error?.retryable ?? true) && (
              <button type="button" className="link-button" onClick={onRetry}>
                Retry
              </button>
            )}{" "}
            <button type="button" className="link-button" onClick={onEdit}>
              Edit
            </button>
          </span>
        )}
        {entry.status === "interrupted" && (
          // It reached the server: no Edit (a new message while this one may still be answered
          // would be refused as busy); Retry asks for the same messageId's answer again.
          <span className="message__error" role="alert">
            No reply yet: {entry.error?.message ?? "the answer stopped coming."}{" "}
            <button type="button" className="link-button" onClick={onRetry}>
              Retry
            </button>
          </span>
        )}
      </p>
    </div>
  );
}

export function AgentMessage({ entry, streaming }: { entry: AgentEntry; streaming: boolean }) {
  const text = agentText(entry);
  const html = useMemo(() => renderMarkdown(text), [text]);
  if (!text && !entry.error) return null;
  return (
    <div className="message message--agent" data-testid="agent-message" data-stage={entry.stage ?? ""}>
      <span className="avatar" aria-hidden="true">
        ✦
      </span>
      <div className="message__body">
        {text && (
          <div
            className={`bubble bubble--agent markdown${streaming ? " bubble--streaming" : ""}`}
            // Sanitised by DOMPurify in renderMarkdown (allow-list, no raw HTML).
            dangerouslySetInnerHTML={{ __html: html }}
          />
        )}
        {entry.order && <OrderCard order={entry.order} preview={entry.stage === "order_confirmation"} />}
        {entry.error && (
          <p className="message__error" role="alert">
            {entry.error.message}
          </p>
        )}
        {entry.text !== undefined && (
          <p className="message__meta">
            {entry.modelProvider === "offline" && <span className="tag">offline model</span>}
            <CopyButton text={entry.text} />
          </p>
        )}
      </div>
    </div>
  );
}

function CopyButton({ text }: { text: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      setCopied(false);
    }
  };
  return (
    <button type="button" className="link-button" onClick={copy} aria-label={copied ? "Copied" : "Copy reply"}>
      {copied ? "Copied" : "Copy"}
    </button>
  );
}

export function Notice({ entry }: { entry: NoticeEntry }) {
  return (
    <p className={`notice notice--${entry.tone}`} role={entry.tone === "error" ? "alert" : undefined}>
      {entry.text}
    </p>
  );
}

export function TypingIndicator() {
  return (
    <div className="message message--agent" data-testid="typing">
      <span className="avatar" aria-hidden="true">
        ✦
      </span>
      <p className="bubble bubble--agent typing">
        <span className="sr-only">The agent is typing</span>
        <span className="typing__dot" aria-hidden="true" />
        <span className="typing__dot" aria-hidden="true" />
        <span className="typing__dot" aria-hidden="true" />
      </p>
    </div>
  );
}

/* eslint-disable */
// GENERATED from order_agent.edge.protocol by web/scripts/gen-protocol.mjs (`make web-protocol`).
// Do not edit: `make test` fails when this file differs from what the server's models generate.

export type ClientMessage = SendMessage | Ping | Resume;

export interface SendMessage {
  action: "sendMessage";
  confirmHash?: string | null;
  messageId: string;
  sessionId: string;
  sessionToken?: string | null;
  text: string;
}
export interface Ping {
  action: "ping";
}
export interface Resume {
  action: "resume";
  lastSeq?: number;
  sessionId: string;
  sessionToken?: string | null;
}

export type ServerFrame =
  AckFrame | TypingFrame | DeltaFrame | MessageFrame | DoneFrame | ErrorFrame | SessionFrame | PongFrame;

export interface AckFrame {
  duplicate: boolean;
  messageId: string;
  sessionId: string;
  sessionToken: string | null;
  type: "ack";
}
export interface TypingFrame {
  sessionId: string;
  turnId: string;
  type: "typing";
}
export interface DeltaFrame {
  seq: number;
  sessionId: string;
  text: string;
  turnId: string;
  type: "delta";
}
export interface MessageFrame {
  modelProvider: string;
  order: {
    [k: string]: unknown | undefined;
  } | null;
  quickReplies: QuickReplyModel[];
  seq: number;
  sessionId: string;
  stage: string;
  text: string;
  turnId: string;
  type: "message";
}
export interface QuickReplyModel {
  action: "send" | "new_conversation";
  confirmHash: string | null;
  label: string;
  text: string;
}
export interface DoneFrame {
  modelCalls: number;
  seq: number;
  sessionId: string;
  turnId: string;
  type: "done";
  usage: {
    [k: string]: number | undefined;
  };
}
export interface ErrorFrame {
  code: string;
  message: string;
  retryable: boolean;
  seq: number | null;
  sessionId: string | null;
  turnId: string | null;
  type: "error";
}
export interface SessionFrame {
  lastSeq: number;
  pending: PendingConfirmation | null;
  sessionId: string;
  sessionToken: string | null;
  status: "new" | "open" | "closed" | "handed_off";
  turnInProgress: boolean;
  type: "session";
}
export interface PendingConfirmation {
  hash: string;
  order: {
    [k: string]: unknown | undefined;
  } | null;
  quickReplies: QuickReplyModel[];
  text: string;
  tool: string;
}
export interface PongFrame {
  type: "pong";
}

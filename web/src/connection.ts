// One WebSocket to the API Gateway endpoint, kept alive the way API Gateway needs:
// - reconnect after any drop, with capped exponential backoff and jitter (many clients dropped
//   by one deployment must not come back in the same second);
// - an application heartbeat (`ping`), because API Gateway closes a connection idle for 10
//   minutes and sends no pings of its own;
// - a planned reconnect before API Gateway's 2-hour connection limit, between turns;
// - `resume` with the last seq after every (re)connect, so nothing is missed or shown twice.
// What arrives is sorted by gateway.ts: the server's frames go to onFrame, API Gateway's own
// (typeless) frames to onGatewayFrame, and anything else is logged and dropped.
import { classify, type GatewayFrame } from "./gateway";
import type { ClientMessage, ServerFrame } from "./protocol.generated";
import type { ConnectionState } from "./state";

export interface Timings {
  backoffBaseMs: number;
  backoffCapMs: number;
  heartbeatMs: number;
  maxConnectionMs: number; // planned reconnect after this long (API Gateway closes at 2 h)
  connectTimeoutMs: number;
}

export const DEFAULT_TIMINGS: Timings = {
  backoffBaseMs: 500,
  backoffCapMs: 30_000,
  heartbeatMs: 5 * 60_000, // half of API Gateway's 10-minute idle timeout
  maxConnectionMs: 110 * 60_000, // 10 minutes of margin before the 2-hour limit
  connectTimeoutMs: 10_000,
};

/** The delay before reconnect attempt `attempt` (0-based): exponential, capped, half of it random. */
export function backoffDelay(attempt: number, timings: Timings, random: () => number = Math.random): number {
  const ceiling = Math.min(timings.backoffCapMs, timings.backoffBaseMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export interface ConnectionOptions {
  url: () => string | Promise<string>; // asked anew for each attempt (a token may have been refreshed)
  onFrame: (frame: ServerFrame) => void;
  onGatewayFrame?: (frame: GatewayFrame) => void; // API Gateway's own answer, e.g. "Internal server error"
  onState: (state: ConnectionState) => void;
  onOpen: (send: (message: ClientMessage) => boolean) => void; // resume, then resend what is unsent
  canRecycle: () => boolean; // no turn running: a planned reconnect may happen now
  timings?: Partial<Timings>;
  WebSocketImpl?: typeof WebSocket;
  random?: () => number;
}

export class ChatConnection {
  private socket: WebSocket | null = null;
  private attempt = 0;
  private stopped = false;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private openedAt = 0;
  private readonly timings: Timings;
  private readonly WS: typeof WebSocket;

  constructor(private readonly options: ConnectionOptions) {
    this.timings = { ...DEFAULT_TIMINGS, ...options.timings };
    this.WS = options.WebSocketImpl ?? WebSocket;
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, "page closed");
  }

  /** Send now if open; false when it must wait for the next connection (onOpen resends). */
  send(message: ClientMessage): boolean {
    if (this.socket?.readyState !== this.WS.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** Reconnect at once (the "Retry now" button, the browser coming back online). */
  retryNow(): void {
    if (this.stopped || this.socket) return;
    this.clearTimers();
    void this.connect();
  }

  /** Called when a turn ends: a planned reconnect that waited for it may go now. */
  turnEnded(): void {
    if (this.socket && this.openedAt && Date.now() - this.openedAt >= this.timings.maxConnectionMs) this.recycle();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.options.onState({ status: "connecting" });
    let url: string;
    try {
      url = await this.options.url();
    } catch (error) {
      this.options.onState({ status: "error", message: error instanceof Error ? error.message : String(error) });
      return;
    }
    if (this.stopped) return;
    const socket = new this.WS(url);
    this.socket = socket;
    const connectTimer = this.later(() => socket.close(), this.timings.connectTimeoutMs);
    socket.onopen = () => {
      this.timers.delete(connectTimer);
      clearTimeout(connectTimer);
      this.attempt = 0;
      this.openedAt = Date.now();
      this.options.onState({ status: "open" });
      this.startHeartbeat();
      this.options.onOpen((message) => this.send(message));
    };
    socket.onmessage = (event: MessageEvent) => {
      const incoming = classify(event.data);
      switch (incoming.kind) {
        case "frame":
          this.options.onFrame(incoming.frame);
          break;
        case "gateway":
          console.warn("API Gateway answered instead of the chat service", incoming.frame);
          this.options.onGatewayFrame?.(incoming.frame);
          break;
        case "ignored":
          console.warn(`ignored a WebSocket message (${incoming.reason})`, typeof event.data === "string" ? event.data.slice(0, 200) : event.data);
          break;
      }
    };
    socket.onclose = () => {
      if (this.socket !== socket) return; // an old socket we replaced on purpose
      this.socket = null;
      this.stopHeartbeat();
      if (this.stopped) return;
      const delay = backoffDelay(this.attempt++, this.timings, this.options.random);
      this.options.onState({ status: "offline", retryAt: Date.now() + delay });
      this.later(() => void this.connect(), delay);
    };
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      if (Date.now() - this.openedAt >= this.timings.maxConnectionMs && this.options.canRecycle()) {
        this.recycle();
        return;
      }
      this.send({ action: "ping" });
    }, Math.min(this.timings.heartbeatMs, this.timings.maxConnectionMs));
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /** A planned reconnect: close this socket and open the next one at once (no backoff). */
  private recycle(): void {
    const old = this.socket;
    this.socket = null;
    this.stopHeartbeat();
    old?.close(1000, "planned reconnect");
    void this.connect();
  }

  private later(run: () => void, ms: number): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.stopHeartbeat();
  }
}

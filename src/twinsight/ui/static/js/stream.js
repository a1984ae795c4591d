// The live stream: one WebSocket to /streams/ws (docs/streams.md), subscribed to every
// event. When it drops, the page is told (status "down", with the next attempt's delay) and
// it reconnects with a growing delay (1 s, 2 s, 4 s … at most 10 s); once back, the page
// reloads its state, because events sent while it was away are not replayed.

const MAX_DELAY_MS = 10000;

export class LiveStream {
  /** `onEvent(event)` for every event, `onStatus(status, detail)` with status one of
   *  "connecting", "live", "down"; `onReconnect()` after a drop, once live again. */
  constructor({ onEvent, onStatus, onReconnect }) {
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onReconnect = onReconnect;
    this.delay = 1000;
    this.dropped = false;
    this.socket = null;
  }

  start() {
    const url = new URL("/streams/ws?batch=true", location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    this.onStatus("connecting");
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.addEventListener("open", () => socket.send(JSON.stringify({ subscribe: {}, id: "page" })));
    socket.addEventListener("message", (message) => this.#receive(message.data));
    socket.addEventListener("close", (close) => this.#lost(close));
  }

  #receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (frame.type === "subscribed") {
      this.delay = 1000;
      this.onStatus("live");
      if (this.dropped) {
        this.dropped = false;
        this.onReconnect();
      }
    } else if (frame.type === "event") {
      this.onEvent(frame.event);
    } else if (frame.type === "batch") {
      for (const inner of frame.events) if (inner.type === "event") this.onEvent(inner.event);
    } else if (frame.type === "overflow") {
      this.onReconnect(); // events were lost: start again from the stored state
    } else if (frame.type === "error") {
      this.onStatus("down", `the stream refused the subscription: ${frame.error.message}`);
    }
  }

  #lost(close) {
    this.dropped = true;
    const seconds = Math.round(this.delay / 1000);
    const why = close.code === 4401 || close.code === 4403 ? `not allowed (${close.reason})` : "connection lost";
    this.onStatus("down", `Live updates stopped: ${why}. Reconnecting in ${seconds} s…`);
    setTimeout(() => this.start(), this.delay);
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
  }
}

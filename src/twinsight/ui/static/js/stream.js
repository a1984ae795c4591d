// The live stream: one WebSocket to /streams/ws (docs/streams.md), subscribed to every
// event. When it drops, the page is told (status "down", with the next attempt's delay) and
// it reconnects with a growing delay (1 s, 2 s, 4 s … at most 10 s); once back, the page
// reloads its state, because events sent while it was away are not replayed. The page reads
// its state only once subscribed (`whenLive`), so every change is either in what it reads
// or in the stream; a subscription that comes later than that counts as a reconnection.

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
    this.live = false;
    this.waiting = [];
  }

  /** Resolves true once subscribed, or false after `timeoutMs` without a subscription;
   *  in that case the first subscription is reported through `onReconnect`, so whoever
   *  read the state meanwhile reads it again. */
  whenLive(timeoutMs) {
    if (this.live) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.dropped = true; // what was read while waiting may miss events: read again when live
        resolve(false);
      }, timeoutMs);
      this.waiting.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
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
      this.live = true;
      for (const wake of this.waiting.splice(0)) wake();
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
    this.live = false;
    const seconds = Math.round(this.delay / 1000);
    const why = close.code === 4401 || close.code === 4403 ? `not allowed (${close.reason})` : "connection lost";
    this.onStatus("down", `Live updates stopped: ${why}. Reconnecting in ${seconds} s…`);
    setTimeout(() => this.start(), this.delay);
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
  }
}

// The WebSocket side of the page: one connection that keeps itself alive.
//
// - Every request carries a requestId; request() resolves with the one reply that echoes it, or rejects
//   with a SeatError (the server's error, a timeout, or the connection going away).
// - The session token lives in sessionStorage, so a refresh resumes the session and its holds, while
//   another tab starts its own session (another buyer).
// - When the connection drops it reconnects with exponential backoff and jitter, resumes with the token
//   and subscribes again; each subscription answers with a fresh snapshot, so nothing shown is stale.
// - Broadcasts carry a per-showtime seq that grows by one per change. A gap means a change was missed:
//   the connection subscribes again (a resync) and ignores changes until the fresh snapshot arrives.
// - A subscribe the server could not serve (internal_error, timeout, rate_limited), or an `unsubscribed`
//   it sends unasked (a resubscribe whose read failed), is tried again with backoff until a snapshot comes.
//
// Events (all CustomEvent, payload in `detail`):
//   state     {state: "connecting" | "connected" | "reconnecting" | "error", retryInMs, attempt}
//   session   {sessionId, resumed, hadToken}
//   snapshot  a current_seat_status message
//   change    a seat_status_change message, in seq order, never one the last snapshot already holds
//   audience  an audience message: {showtimeId, viewers}, how many people look at a showtime (this tab included)
//   resync    {showtimeId, reason}
//   figures   a figures message: a showtime's sales figures, on a connection that sent the admin key

const TOKEN_KEY = "seat-demo:token";
// Subscribe errors that say "not now" rather than "never": the subscribe is tried again.
const RETRYABLE = new Set(["internal_error", "timeout", "rate_limited"]);

export class SeatError extends Error {
  constructor(code, message, { conflictingSeats = [], retryAfterMs = null } = {}) {
    super(message);
    this.name = "SeatError";
    this.code = code;
    this.conflictingSeats = conflictingSeats;
    this.retryAfterMs = retryAfterMs;
  }
}

export class SeatConnection extends EventTarget {
  state = "connecting";
  sessionId = null;

  #url;
  #storage;
  #options;
  #socket = null;
  #established = false;
  #attempt = 0; // consecutive connection attempts that did not reach "connection_established"
  #retryTimer = null;
  #heartbeatTimer = null;
  #nextRequestId = 1;
  #pending = new Map(); // requestId -> {resolve, reject, timer}
  #subscriptions = new Set(); // showtimes we want, subscribed again after every reconnect
  #seq = new Map(); // showtimeId -> seq of the last change applied; absent until a snapshot arrives
  #resyncing = new Set(); // showtimes waiting for a fresh snapshot
  #retries = new Map(); // showtimeId -> {timer, attempt}: a subscribe to try again after a failure
  #clockOffsetMs = 0; // server clock minus ours

  constructor(url, options = {}) {
    super();
    this.#url = url;
    this.#storage = options.storage ?? window.sessionStorage;
    this.#options = {
      baseDelayMs: 500,
      maxDelayMs: 10_000,
      requestTimeoutMs: 10_000,
      heartbeatMs: 20_000,
      ...options,
    };
  }

  start() {
    window.addEventListener("online", () => this.retryNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.retryNow();
    });
    this.#open();
  }

  get connected() {
    return this.state === "connected";
  }

  /** This buyer's session token, for the REST calls the socket has no message for (pay, cancel). */
  get token() {
    return this.#storage.getItem(TOKEN_KEY);
  }

  /** The server's clock now, as best we know it (hold expiries are in server time). */
  serverNow() {
    return Date.now() + this.#clockOffsetMs;
  }

  /** Skip the backoff wait, if we are waiting. */
  retryNow() {
    if (this.#socket !== null || this.#retryTimer === null) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#open();
  }

  /** Send a request; resolve with its reply, or reject with a SeatError. */
  request(type, fields = {}) {
    if (!this.connected) {
      return Promise.reject(new SeatError("offline", "Not connected to the server right now."));
    }
    const requestId = `r${this.#nextRequestId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(requestId);
        reject(new SeatError("timeout", "The server did not answer in time."));
      }, this.#options.requestTimeoutMs);
      this.#pending.set(requestId, { resolve, reject, timer });
      this.#socket.send(JSON.stringify({ type, requestId, ...fields }));
    });
  }

  /** Follow a showtime: a snapshot now and after every reconnect, then its changes. */
  subscribe(showtimeId) {
    this.#subscriptions.add(showtimeId);
    if (this.connected) this.#sendSubscribe(showtimeId);
  }

  unsubscribe(showtimeId) {
    this.#subscriptions.delete(showtimeId);
    this.#seq.delete(showtimeId);
    this.#resyncing.delete(showtimeId);
    clearTimeout(this.#retries.get(showtimeId)?.timer);
    this.#retries.delete(showtimeId);
    if (this.connected) this.request("unsubscribe", { showtimeId }).catch(() => {});
  }

  /** Ask for a fresh snapshot; changes are ignored until it arrives. */
  resync(showtimeId, reason) {
    if (!this.#subscriptions.has(showtimeId) || this.#resyncing.has(showtimeId)) return;
    this.#resyncing.add(showtimeId);
    this.#emit("resync", { showtimeId, reason });
    if (this.connected) this.#sendSubscribe(showtimeId);
  }

  // --- The socket ----------------------------------------------------------------------------------

  #open() {
    this.#retryTimer = null;
    const token = this.#storage.getItem(TOKEN_KEY);
    const url = new URL(this.#url, window.location.href);
    if (token) url.searchParams.set("token", token);
    this.#established = false;
    this.#setState(this.state === "connected" ? "reconnecting" : this.state, { retrying: true });

    let socket;
    try {
      socket = new WebSocket(url);
    } catch {
      this.#scheduleRetry();
      return;
    }
    this.#socket = socket;
    socket.addEventListener("message", (event) => this.#onFrame(event.data, token !== null));
    socket.addEventListener("close", () => {
      if (this.#socket === socket) this.#onClosed();
    });
  }

  #onClosed() {
    const wasEstablished = this.#established;
    this.#socket = null;
    this.#established = false;
    clearInterval(this.#heartbeatTimer);
    for (const [requestId, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new SeatError("connection_lost", "The connection dropped before the server answered."));
      this.#pending.delete(requestId);
    }
    // After a reconnect every subscription starts again from a snapshot.
    this.#seq.clear();
    this.#resyncing.clear();
    for (const retry of this.#retries.values()) clearTimeout(retry.timer);
    this.#retries.clear();
    if (!wasEstablished) this.#attempt += 1;
    this.#scheduleRetry(wasEstablished ? "reconnecting" : "error");
  }

  #scheduleRetry(state = "error") {
    // Exponential backoff with jitter: half the delay fixed, half random, so a restarted server is not
    // hit by every page at the same instant.
    const ceiling = Math.min(this.#options.maxDelayMs, this.#options.baseDelayMs * 2 ** this.#attempt);
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.#retryTimer = setTimeout(() => this.#open(), delay);
    this.#setState(state, { retryInMs: delay });
  }

  /** Give up on a socket that stopped answering, without waiting for its closing handshake. */
  #abandon(socket) {
    if (this.#socket !== socket) return;
    socket.close(4000, "heartbeat timeout");
    this.#onClosed();
  }

  #startHeartbeat() {
    clearInterval(this.#heartbeatTimer);
    const socket = this.#socket;
    this.#heartbeatTimer = setInterval(() => {
      this.request("ping").catch((error) => {
        if (error.code === "timeout") this.#abandon(socket);
      });
    }, this.#options.heartbeatMs);
  }

  #onFrame(data, hadToken) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if ("timestamp" in message) this.#clockOffsetMs = message.timestamp - Date.now();

    const pending = message.requestId != null ? this.#pending.get(String(message.requestId)) : undefined;
    if (pending) {
      this.#pending.delete(String(message.requestId));
      clearTimeout(pending.timer);
      if (message.type === "error") {
        pending.reject(
          new SeatError(message.code, message.message, {
            conflictingSeats: message.conflictingSeats ?? [],
            retryAfterMs: message.retryAfterMs ?? null,
          }),
        );
      } else {
        pending.resolve(message);
      }
      return;
    }

    switch (message.type) {
      case "connection_established":
        return this.#onEstablished(message, hadToken);
      case "current_seat_status":
        return this.#onSnapshot(message);
      case "seat_status_change":
        return this.#onChange(message);
      case "unsubscribed":
        return this.#onUnsubscribed(message);
      case "audience":
        return this.#subscriptions.has(message.showtimeId) ? this.#emit("audience", message) : undefined;
      case "figures":
        return this.#emit("figures", message);
      default:
        return undefined;
    }
  }

  #onEstablished(message, hadToken) {
    this.#storage.setItem(TOKEN_KEY, message.token);
    this.sessionId = message.sessionId;
    this.#established = true;
    this.#attempt = 0;
    this.#emit("session", { sessionId: message.sessionId, resumed: message.resumed, hadToken });
    this.#setState("connected");
    this.#startHeartbeat();
    for (const showtimeId of this.#subscriptions) this.#sendSubscribe(showtimeId);
  }

  #sendSubscribe(showtimeId) {
    this.request("subscribe", { showtimeId }).catch((error) => {
      if (RETRYABLE.has(error.code)) {
        this.#lost(showtimeId, error.message);
      } else {
        // Lost with the connection (the reconnect subscribes again) or refused (unknown showtime).
        this.#resyncing.delete(showtimeId);
      }
    });
  }

  /** The server ended a subscription itself: until a fresh snapshot, nothing shown for it is live. */
  #onUnsubscribed(message) {
    if (this.#subscriptions.has(message.showtimeId)) this.#lost(message.showtimeId, message.reason);
  }

  /** Not subscribed, though we want to be: subscribe again after a backoff (the fault may last a while). */
  #lost(showtimeId, reason) {
    if (!this.#subscriptions.has(showtimeId) || this.#retries.get(showtimeId)?.timer) return;
    this.#seq.delete(showtimeId);
    this.#resyncing.add(showtimeId);
    this.#emit("resync", { showtimeId, reason });
    const attempt = (this.#retries.get(showtimeId)?.attempt ?? 0) + 1;
    const ceiling = Math.min(this.#options.maxDelayMs, this.#options.baseDelayMs * 2 ** attempt);
    const timer = setTimeout(
      () => {
        this.#retries.set(showtimeId, { timer: null, attempt });
        if (this.connected && this.#subscriptions.has(showtimeId)) this.#sendSubscribe(showtimeId);
      },
      Math.round(ceiling / 2 + (Math.random() * ceiling) / 2),
    );
    this.#retries.set(showtimeId, { timer, attempt });
  }

  #onSnapshot(message) {
    const showtimeId = message.showtimeId;
    if (!this.#subscriptions.has(showtimeId)) return;
    this.#seq.set(showtimeId, message.seq);
    this.#resyncing.delete(showtimeId);
    this.#retries.delete(showtimeId);
    this.#emit("snapshot", message);
  }

  #onChange(message) {
    const showtimeId = message.showtimeId;
    const last = this.#seq.get(showtimeId);
    if (last === undefined || this.#resyncing.has(showtimeId)) return; // a snapshot is on its way
    if (message.seq <= last) return; // the last snapshot already holds it
    if (message.seq !== last + 1) {
      this.resync(showtimeId, `missed changes ${last + 1}–${message.seq - 1}`);
      return;
    }
    this.#seq.set(showtimeId, message.seq);
    this.#emit("change", message);
  }

  #setState(state, extra = {}) {
    this.state = state;
    this.#emit("state", { state, attempt: this.#attempt, ...extra });
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

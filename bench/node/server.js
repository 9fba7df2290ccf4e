// The Node.js baseline: an in-memory seat server on the `ws` package, of the classic design: one set of
// subscribers per showtime, one map of locks per showtime, no persistence, no session tokens, no limits.
//
// It speaks the subset of the seat protocol the benchmark uses: connection_established on connect;
// subscribe -> subscribed + current_seat_status; lock / unlock -> ack, or error seat_unavailable /
// not_lock_owner; one seat_status_change per changed seat, with the showtime's seq, to every subscriber
// (or, to subscribers that sent "batch": true, one seat_status_changes frame per request).
//
// Run as `node bench/node/server.js`; it prints `listening PORT` and serves until SIGTERM.
"use strict";

const crypto = require("node:crypto");
const { WebSocketServer } = require("ws");

const showtimes = new Map(); // showtimeId -> { seq, holds: Map<seatId, sessionId>, single: Set, batched: Set }
let sessions = 0;

function showtime(id) {
  let state = showtimes.get(id);
  if (state === undefined) {
    state = { seq: 0, holds: new Map(), single: new Set(), batched: new Set() };
    showtimes.set(id, state);
  }
  return state;
}

function send(socket, message) {
  socket.send(JSON.stringify(message));
}

function broadcast(subscribers, message) {
  if (subscribers.size === 0) return;
  const frame = Buffer.from(JSON.stringify(message)); // encoded once, sent to everyone
  for (const socket of subscribers) socket.send(frame, { binary: false });
}

function change(showtimeId, state, request, sessionId) {
  const status = request.type === "lock" ? "locked" : "unlocked";
  const seats = request.seatIds;
  const taken = seats.filter((seat) => {
    const holder = state.holds.get(seat);
    return request.type === "lock" ? holder !== undefined && holder !== sessionId : holder !== sessionId;
  });
  if (taken.length > 0) {
    const code = request.type === "lock" ? "seat_unavailable" : "not_lock_owner";
    return { type: "error", requestId: request.requestId, code, message: `not available: ${taken.join(", ")}`, conflictingSeats: taken };
  }
  const changes = [];
  for (const seat of seats) {
    if (request.type === "lock" && state.holds.get(seat) === sessionId) continue; // already its own: no change
    if (request.type === "lock") state.holds.set(seat, sessionId);
    else state.holds.delete(seat);
    state.seq += 1;
    changes.push({ type: "seat_status_change", showtimeId, seatId: seat, status, sessionId, seq: state.seq, timestamp: Date.now() });
  }
  for (const body of changes) broadcast(state.single, body);
  if (changes.length > 0) broadcast(state.batched, { type: "seat_status_changes", showtimeId, changes });
  return { type: "ack", requestId: request.requestId, action: request.type, showtimeId, seatIds: seats };
}

function subscribe(socket, request, sessionId, joined) {
  const showtimeId = request.showtimeId;
  const state = showtime(showtimeId);
  (request.batch === true ? state.batched : state.single).add(socket);
  joined.add(state);
  send(socket, { type: "subscribed", requestId: request.requestId, showtimeId });
  const locked = [...state.holds.keys()];
  const mine = locked.filter((seat) => state.holds.get(seat) === sessionId);
  return {
    type: "current_seat_status",
    showtimeId,
    seq: state.seq,
    bookedSeats: [],
    lockedSeats: locked,
    mySeats: mine,
    holdExpiresAt: {},
    timestamp: Date.now(),
  };
}

function handle(socket) {
  sessions += 1;
  const sessionId = `s_${sessions.toString(16).padStart(24, "0")}`;
  const joined = new Set();
  const token = `${sessionId}.0.${crypto.randomBytes(24).toString("base64url")}`;
  send(socket, { type: "connection_established", sessionId, token, resumed: false, timestamp: Date.now() });
  socket.on("message", (data) => {
    let request;
    try {
      request = JSON.parse(data.toString());
    } catch {
      send(socket, { type: "error", requestId: null, code: "invalid_message", message: "not JSON" });
      return;
    }
    if (request.type === "subscribe") {
      send(socket, subscribe(socket, request, sessionId, joined));
    } else if (request.type === "lock" || request.type === "unlock") {
      send(socket, change(request.showtimeId, showtime(request.showtimeId), request, sessionId));
    } else {
      send(socket, { type: "error", requestId: request.requestId, code: "invalid_message", message: "unsupported" });
    }
  });
  socket.on("close", () => {
    for (const state of joined) {
      state.single.delete(socket);
      state.batched.delete(socket);
    }
  });
}

const server = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/ws/seat-updates", backlog: 100 });
// backlog: the accept queue asyncio gives the Python servers, so a storm of connections meets the same one.
server.on("connection", handle);
server.on("listening", () => process.stdout.write(`listening ${server.address().port}\n`));
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));

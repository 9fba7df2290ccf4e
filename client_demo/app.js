// The demo page's wiring: REST for the showtimes and their layouts, the socket for everything live.
//
// Seat states come from the server only: a snapshot on (re)subscribe, then one seat_status_change per
// change. Acks add what broadcasts do not carry (hold expiries, booking references).
//
// With the demo's stand-in payment provider (config demoPayments) booking is a checkout: the held seats
// become a booking awaiting payment (its seats "paying" here, held to everyone else), paid or cancelled over
// REST, or released by the server when the time to pay runs out.

import { SeatConnection, SeatError } from "./connection.js";
import { countdown, listOf, money, when } from "./format.js";
import { STATE_TEXT, SeatMap, changedState } from "./seatmap.js";
import { Viewport } from "./viewport.js";

const $ = (id) => document.getElementById(id);

const ui = {
  connection: $("connection"),
  connectionText: $("connection-text"),
  banner: $("banner"),
  bannerText: $("banner-text"),
  retryNow: $("retry-now"),
  picker: $("showtime"),
  title: $("showtime-title"),
  details: $("showtime-details"),
  availability: $("availability"),
  audience: $("audience"),
  mapFrame: $("map-frame"),
  mapStatus: $("map-status"),
  seatInfo: $("seat-info"),
  legend: $("legend-categories"),
  hold: $("hold"),
  countdown: $("countdown"),
  holdBar: $("hold-bar"),
  selectionEmpty: $("selection-empty"),
  selectionList: $("selection-list"),
  total: $("total"),
  extend: $("extend"),
  form: $("booking-form"),
  name: $("name"),
  email: $("email"),
  book: $("book"),
  confirmation: $("confirmation"),
  reference: $("booking-reference"),
  bookingSummary: $("booking-summary"),
  payment: $("payment"),
  paymentSeats: $("payment-seats"),
  paymentAmount: $("payment-amount"),
  paymentCountdown: $("payment-countdown"),
  pay: $("pay"),
  cancelBooking: $("cancel-booking"),
  mobileBar: $("mobile-bar"),
  mobileSummary: $("mobile-summary"),
  mobileCountdown: $("mobile-countdown"),
  messages: $("messages"),
};

const page = {
  config: null,
  connection: null,
  grid: null,
  viewport: null,
  showtime: null, // the layout on screen (GET /api/showtimes/{id})
  loading: null, // the showtime being loaded
  failed: null, // the showtime whose layout could not be loaded, tried again on reconnect
  synced: false, // the map shows a snapshot taken since the last (re)connect
  wasOffline: false,
  expiries: new Map(), // seat id -> when this buyer's hold ends, server epoch ms
  pending: new Set(), // seats with a request on its way
  again: new Set(), // seats pressed again while pending, toggled once their request is answered
  releasing: new Set(), // seats this page asked to release (so their unlock is not an expiry)
  expired: [], // seats whose hold just ran out, reported together
  retryAt: null, // when the connection tries again, for the banner's countdown
  checkout: null, // the booking awaiting payment: {bookingId, showtimeId, seatIds, dueAt, totalCents, currency, customer}
  cancelling: false, // the buyer asked to cancel it (so its seats coming free is no expiry)
  renderQueued: false,
};

// --- Start -------------------------------------------------------------------------------------------

async function boot() {
  let showtimes;
  try {
    [page.config, showtimes] = await Promise.all([getJson("/api/config"), getJson("/api/showtimes")]);
  } catch {
    showBanner("Can't reach the server. Trying again in a few seconds…", false);
    setTimeout(boot, 3000);
    return;
  }
  hideBanner();

  const map = $("seatmap");
  page.viewport = new Viewport(map);
  page.grid = new SeatMap(map, {
    onToggle: (seat) => toggleSeat(seat.id),
    onInspect: showSeatInfo,
    onFocusSeat: (seat) => page.viewport.reveal(seat.x, seat.y, page.grid.pitch),
  });
  $("zoom-in").addEventListener("click", () => page.viewport.zoomBy(1.5));
  $("zoom-out").addEventListener("click", () => page.viewport.zoomBy(1 / 1.5));
  $("zoom-fit").addEventListener("click", () => page.viewport.fit());
  const connection = new SeatConnection(page.config.websocketUrl);
  page.connection = connection;
  connection.addEventListener("state", (event) => onConnectionState(event.detail));
  connection.addEventListener("session", (event) => onSession(event.detail));
  connection.addEventListener("snapshot", (event) => onSnapshot(event.detail));
  connection.addEventListener("change", (event) => onChange(event.detail));
  connection.addEventListener("resync", (event) => onResync(event.detail));
  connection.addEventListener("audience", (event) => onAudience(event.detail));

  fillPicker(showtimes);
  ui.picker.addEventListener("change", () => openShowtime(ui.picker.value));
  ui.retryNow.addEventListener("click", () => connection.retryNow());
  $("skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    page.grid.focus();
  });
  $("mobile-book").addEventListener("click", (event) => {
    event.preventDefault();
    ui.form.scrollIntoView({ block: "center" });
    ui.name.focus({ preventScroll: true });
  });
  ui.extend.addEventListener("click", extendHold);
  ui.pay.addEventListener("click", pay);
  ui.cancelBooking.addEventListener("click", cancelBooking);
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    book();
  });
  ui.selectionList.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-release]");
    if (button) release(button.dataset.release.split(" "));
  });
  setInterval(tick, 500);

  connection.start();
  const wanted = new URLSearchParams(window.location.search).get("showtime");
  const first = showtimes.find((showtime) => showtime.id === wanted) ?? showtimes[0];
  if (first) await openShowtime(first.id);
  else setMapStatus("No showtimes yet. Create one with: python -m server seed --rows 10 --seats-per-row 14");
}

/** The showtimes grouped by venue and hall, each group in time order. */
function fillPicker(showtimes) {
  const groups = new Map();
  for (const showtime of [...showtimes].sort((a, b) => a.startsAt - b.startsAt)) {
    const place = `${showtime.venue} · ${showtime.auditorium}`;
    if (!groups.has(place)) {
      const group = document.createElement("optgroup");
      group.label = place;
      groups.set(place, group);
    }
    const option = document.createElement("option");
    option.value = showtime.id;
    option.textContent = `${showtime.title} · ${when(showtime.startsAt)}`;
    groups.get(place).append(option);
  }
  ui.picker.replaceChildren(...[...groups.values()].sort((a, b) => a.label.localeCompare(b.label)));
  ui.picker.disabled = showtimes.length === 0;
}

async function openShowtime(id) {
  if (page.showtime && page.showtime.id !== id) page.connection.unsubscribe(page.showtime.id);
  page.showtime = null;
  page.loading = id;
  page.failed = null;
  page.synced = false;
  page.expiries.clear();
  page.again.clear();
  ui.audience.textContent = "";
  ui.picker.value = id;
  const url = new URL(window.location.href);
  url.searchParams.set("showtime", id);
  window.history.replaceState(null, "", url);
  setStale(true, "Loading the seat map…");

  let layout;
  try {
    layout = await getJson(`/api/showtimes/${encodeURIComponent(id)}`);
  } catch {
    if (page.loading === id) {
      page.failed = id;
      setStale(true, "Couldn't load this showtime. Trying again when the server is back…");
    }
    return;
  }
  if (page.loading !== id) return; // another showtime was picked meanwhile
  page.loading = null;
  page.showtime = layout;
  const drawStart = performance.now();
  const svg = page.grid.render(layout);
  page.viewport.attach(svg, page.grid.box, page.grid.pitch);
  requestAnimationFrame(() => performance.measure("seatmap-draw", { start: drawStart }));
  renderShowtime(layout);
  renderSelection();
  page.connection.subscribe(id);
}

// --- From the server ---------------------------------------------------------------------------------

const CONNECTION_TEXT = {
  connecting: "Connecting…",
  connected: "Live",
  reconnecting: "Reconnecting…",
  error: "Connection error",
};

function onConnectionState({ state, retryInMs, retrying }) {
  ui.connection.dataset.state = state;
  ui.connectionText.textContent = CONNECTION_TEXT[state];
  page.retryAt = retryInMs === undefined ? null : Date.now() + retryInMs;
  if (state === "connected") {
    hideBanner();
    if (page.failed) openShowtime(page.failed);
  } else {
    page.synced = false;
    ui.audience.textContent = ""; // told again on the next subscribe
    if (state !== "connecting") {
      page.wasOffline = true;
      setStale(true, state === "reconnecting" ? "Reconnecting…" : "Offline: the seat map may be out of date");
      updateBanner(state, retrying);
    }
  }
  renderSelection();
}

function updateBanner(state = ui.connection.dataset.state, retrying = false) {
  if (state === "connected" || state === "connecting") return;
  const lost = state === "reconnecting" ? "The connection to the server was lost." : "Can't reach the server.";
  const seconds = page.retryAt ? Math.max(0, Math.ceil((page.retryAt - Date.now()) / 1000)) : 0;
  const next = retrying || seconds === 0 ? "Reconnecting now…" : `Reconnecting in ${seconds} s…`;
  showBanner(`${lost} ${next} Your holds are kept on the server.`, state === "error");
}

function onSession({ resumed, hadToken }) {
  if (hadToken && !resumed) {
    toast("Your earlier session had expired, so you start afresh as a new buyer.", "info");
  }
}

function onSnapshot(snapshot) {
  if (snapshot.showtimeId !== page.showtime?.id) return;
  const changed = page.grid.applySnapshot(snapshot, { flash: page.wasOffline });
  page.expiries = new Map(Object.entries(snapshot.holdExpiresAt));
  const paying = checkoutSeats();
  if (paying.some((id) => page.grid.state(id) === "available")) paymentLapsed();
  else for (const id of paying) if (page.grid.state(id) === "held") page.grid.setState(id, "paying");
  page.synced = true;
  setStale(false);
  if (page.wasOffline) {
    page.wasOffline = false;
    const news = changed.length ? ` ${changed.length} seat${changed.length === 1 ? "" : "s"} changed meanwhile.` : "";
    toast(`Back online. The seat map is up to date.${news}`, "success", "connection");
  }
  renderSelection();
}

/** How many people look at this showtime, this buyer included: told on subscribing, then when it changes. */
function onAudience({ showtimeId, viewers }) {
  if (showtimeId !== page.showtime?.id) return;
  const who = viewers === 1 ? "Only you are" : `${viewers.toLocaleString()} people are`;
  ui.audience.textContent = `${who} looking at this showtime`;
}

function onResync({ showtimeId, reason }) {
  console.info("resync:", reason);
  if (showtimeId !== page.showtime?.id) return;
  page.synced = false; // until the fresh snapshot: no seat can be picked from a map that may be behind
  setStale(true, "Refreshing the seat map…");
  renderSelection();
}

function onChange({ showtimeId, seatId, status, sessionId }) {
  const grid = page.grid;
  if (showtimeId !== page.showtime?.id || !grid.has(seatId)) return;
  const mine = sessionId === page.connection.sessionId;
  const before = grid.state(seatId);
  const own = before === "paying" ? "paying" : "mine"; // locked again as its booking awaits payment
  const state = { booked: "booked", blocked: "blocked", unlocked: "available" }[status] ?? (mine ? own : "held");
  grid.setState(seatId, state, { flash: !mine });
  if (state !== "mine") page.expiries.delete(seatId);
  if (before === "mine" && state === "available" && !page.releasing.has(seatId)) noteExpired(seatId);
  if (before === "paying" && state === "available" && !page.cancelling) paymentLapsed();
  renderSoon();
}

/** Redraw the selection once per frame at most, however many changes arrive in a burst. */
function renderSoon() {
  if (page.renderQueued) return;
  page.renderQueued = true;
  requestAnimationFrame(() => {
    page.renderQueued = false;
    renderSelection();
  });
}

function noteExpired(seatId) {
  page.expired.push(seatId);
  if (page.expired.length > 1) return;
  setTimeout(() => {
    const seats = page.expired.splice(0);
    toast(`Your hold on ${listOf(seats)} ran out. Pick ${seats.length === 1 ? "it" : "them"} again if still free.`);
  }, 250);
}

// --- What the buyer does -----------------------------------------------------------------------------

/** A seat pressed: hold or release it, or its whole table if the table is sold only as a whole. */
function toggleSeat(seatId) {
  const seat = page.grid.seat(seatId);
  if (seat.state === "paying") {
    page.grid.nudge(seatId);
    toast(`${seat.name} is in your booking: pay for it or cancel the booking.`, "info", "paying");
    return;
  }
  if (seat.state === "blocked") {
    page.grid.nudge(seatId);
    toast(`${seat.name} is not for sale.`, "info", "blocked");
    return;
  }
  if (!page.connection.connected || !page.synced) {
    toast("Not connected right now. The page reconnects by itself; try again in a moment.", "error", "connection");
    return;
  }
  if (page.pending.has(seatId)) {
    // Pressed again before the server answered: do it once the answer is in (twice cancels out).
    if (!page.again.delete(seatId)) page.again.add(seatId);
    return;
  }
  const seatIds = seat.table?.soldAsWhole ? seat.table.seats.map((each) => each.id) : [seatId];
  if (seat.state === "mine") release(seatIds);
  else hold(seatIds);
}

/** Seat ids as a request names them: a table sold as a whole by its id, every other seat by its own. */
function selectionOf(seatIds) {
  const tableIds = new Set();
  const seats = [];
  for (const id of seatIds) {
    const table = page.grid.seat(id)?.table;
    if (table?.soldAsWhole) tableIds.add(table.id);
    else seats.push(id);
  }
  return tableIds.size ? { seatIds: seats, tableIds: [...tableIds] } : { seatIds: seats };
}

async function hold(seatIds) {
  const max = page.config.maxSeatsPerRequest;
  if (page.grid.mine().length + page.pending.size + seatIds.length > max) {
    toast(`You can hold up to ${max} seats at a time. Book or release some first.`, "error");
    seatIds.forEach((id) => page.grid.nudge(id));
    return;
  }
  const ack = await send("lock", seatIds);
  if (!ack) return;
  for (const id of ack.seatIds) {
    page.grid.setState(id, "mine");
    page.expiries.set(id, ack.expiresAt);
  }
  renderSelection();
}

async function release(seatIds) {
  seatIds.forEach((id) => page.releasing.add(id));
  const ack = await send("unlock", seatIds);
  seatIds.forEach((id) => page.releasing.delete(id));
  if (!ack) return;
  for (const id of ack.seatIds) {
    page.grid.setState(id, "available");
    page.expiries.delete(id);
  }
  renderSelection();
}

async function extendHold() {
  const seatIds = page.grid.mine().map((seat) => seat.id);
  if (seatIds.length === 0) return;
  const ack = await send("extend", seatIds);
  if (!ack) return;
  for (const id of ack.seatIds) page.expiries.set(id, ack.expiresAt);
  const left = ack.expiresAt - page.connection.serverNow();
  // Clearly less than a whole hold more (our idea of the server's time may be off a little): the server
  // capped it at the longest a hold may last.
  const capped = left < (page.config.holdTtlSeconds - 5) * 1000;
  const last = capped ? " That is the longest a hold may last: book before it runs out." : "";
  toast(`Your seats are held for another ${countdown(left)}.${last}`, "success");
  renderSelection();
}

async function book() {
  const seats = page.grid.mine();
  if (seats.length === 0) return;
  for (const input of [ui.name, ui.email]) {
    input.value = input.value.trim();
    if (!input.checkValidity()) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
      toast(input === ui.name ? "Please enter your name." : "Please enter a valid email address.", "error");
      return;
    }
    input.removeAttribute("aria-invalid");
  }
  ui.book.disabled = true;
  ui.book.textContent = "Booking…";
  const customer = { name: ui.name.value, email: ui.email.value };
  const payment = page.config.demoPayments ? { payment: "pending" } : {};
  const ack = await send(
    "book",
    seats.map((seat) => seat.id),
    { customer, ...payment },
  );
  renderSelection();
  if (!ack) return;
  for (const id of ack.seatIds) page.expiries.delete(id);
  const booking = { bookingId: ack.bookingId, seatIds: ack.seatIds, totalCents: ack.totalCents, customer };
  if (ack.status === "pending") {
    startPayment({ ...booking, showtimeId: ack.showtimeId, dueAt: ack.paymentDueAt, currency: ack.currency });
    return;
  }
  for (const id of ack.seatIds) page.grid.setState(id, "booked");
  confirmed(booking, ack.currency);
  toast(`Booked! Your reference is ${ack.bookingId}.`, "success");
}

/** The booking is made and paid for: its reference and summary. */
function confirmed({ bookingId, seatIds, totalCents, customer }, currency) {
  ui.reference.textContent = bookingId;
  ui.bookingSummary.textContent =
    `${listOf(seatIds)} · ${money(totalCents, currency)} · ` + `for ${customer.name} <${customer.email}>`;
  ui.confirmation.hidden = false;
  ui.confirmation.focus();
  renderSelection();
}

// --- Paying (the demo's stand-in payment provider) ----------------------------------------------------

function startPayment(checkout) {
  page.checkout = checkout;
  for (const id of checkout.seatIds) page.grid.setState(id, "paying");
  ui.paymentSeats.textContent = listOf(checkout.seatIds);
  ui.paymentAmount.textContent = money(checkout.totalCents, checkout.currency);
  ui.pay.textContent = `Pay ${money(checkout.totalCents, checkout.currency)}`;
  ui.form.hidden = true;
  ui.payment.hidden = false;
  ui.payment.focus();
  renderSelection();
}

/** The seats of the booking awaiting payment, when it is of the showtime on screen. */
function checkoutSeats() {
  const checkout = page.checkout;
  return checkout && checkout.showtimeId === page.showtime?.id ? checkout.seatIds : [];
}

function endPayment() {
  page.checkout = null;
  page.cancelling = false;
  ui.payment.hidden = true;
  ui.form.hidden = false;
  renderSoon();
}

function paymentLapsed() {
  endPayment();
  toast("The time to pay ran out, so the seats went back on sale. Pick them again if still free.", "error");
}

async function pay() {
  const checkout = page.checkout;
  ui.pay.disabled = true;
  ui.pay.textContent = "Paying…";
  const { ok, body } = await postBooking(`/api/demo/bookings/${encodeURIComponent(checkout.bookingId)}/pay`);
  ui.pay.disabled = false;
  ui.pay.textContent = `Pay ${money(checkout.totalCents, checkout.currency)}`;
  if (page.checkout !== checkout) return;
  if (!ok && body.code !== "booking_confirmed") {
    bookingRefused(body);
    return;
  }
  for (const id of checkoutSeats()) page.grid.setState(id, "booked");
  endPayment();
  confirmed(checkout, checkout.currency);
  toast(`Paid! Your booking ${checkout.bookingId} is confirmed.`, "success");
}

async function cancelBooking() {
  const checkout = page.checkout;
  page.cancelling = true;
  ui.cancelBooking.disabled = true;
  const path = `/api/bookings/${encodeURIComponent(checkout.bookingId)}/cancel`;
  const { ok, body } = await postBooking(path, { reason: "cancelled by the buyer before paying" });
  ui.cancelBooking.disabled = false;
  if (page.checkout !== checkout) return;
  if (!ok) {
    page.cancelling = false;
    bookingRefused(body);
    return;
  }
  for (const id of checkoutSeats()) page.grid.setState(id, "available");
  endPayment();
  toast("Booking cancelled: the seats are free again.", "info");
}

/** A REST call about the booking, as this buyer's session: {ok, body}, never throwing. */
async function postBooking(path, body = {}) {
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${page.connection.token}` },
      body: JSON.stringify(body),
    });
    return { ok: response.ok, body: await response.json() };
  } catch {
    return { ok: false, body: { code: "offline", message: "The server could not be reached. Try again." } };
  }
}

function bookingRefused({ code, message }) {
  if (code === "booking_expired" || code === "booking_cancelled") {
    endPayment();
    const why = code === "booking_expired" ? "The time to pay ran out" : "The booking was cancelled";
    toast(`${why}, so the seats went back on sale.`, "error");
    page.connection.resync(page.showtime.id, "the booking awaiting payment is over");
    return;
  }
  toast(message, "error");
}

/** Send a seat request; the ack, or null once the error has been explained to the buyer. */
async function send(action, seatIds, extra = {}) {
  const showtimeId = page.showtime.id;
  seatIds.forEach((id) => {
    page.pending.add(id);
    page.grid.setPending(id, true);
  });
  try {
    const ack = await page.connection.request(action, { showtimeId, ...selectionOf(seatIds), ...extra });
    return showtimeId === page.showtime?.id ? ack : null;
  } catch (error) {
    seatIds.forEach((id) => page.again.delete(id)); // the request failed: a queued press would guess
    if (!(error instanceof SeatError)) throw error;
    if (showtimeId === page.showtime?.id) explain(error, action, seatIds);
    return null;
  } finally {
    seatIds.forEach((id) => {
      page.pending.delete(id);
      page.grid.setPending(id, false);
      // After the caller has applied the answer.
      if (page.again.delete(id) && showtimeId === page.showtime?.id) setTimeout(() => toggleSeat(id));
    });
  }
}

function explain(error, action, seatIds) {
  const grid = page.grid;
  const seats = error.conflictingSeats.length ? error.conflictingSeats : seatIds;
  seats.forEach((id) => grid.nudge(id));
  switch (error.code) {
    case "seat_unavailable": {
      // Our map showing one of them as free means we missed a change: fetch the truth.
      const surprises = seats.filter((id) => grid.state(id) === "available" || grid.state(id) === "mine");
      if (surprises.length) {
        page.connection.resync(page.showtime.id, "a seat shown as free was taken");
        const were = surprises.length === 1 ? "was" : "were";
        toast(`Sorry, ${listOf(surprises)} ${were} just taken by someone else.`, "error", `seats:${seats}`);
      } else {
        const booked = seats.filter((id) => grid.state(id) === "booked");
        const blocked = seats.filter((id) => grid.state(id) === "blocked");
        const held = seats.filter((id) => grid.state(id) === "held");
        const parts = [];
        if (held.length) parts.push(`${listOf(held)} ${held.length === 1 ? "is" : "are"} held by someone else right now`);
        if (booked.length) parts.push(`${listOf(booked)} ${booked.length === 1 ? "is" : "are"} already booked`);
        if (blocked.length) parts.push(`${listOf(blocked)} ${blocked.length === 1 ? "is" : "are"} not for sale`);
        toast(`Seat ${parts.join("; ")}.`, "error", `seats:${seats}`);
      }
      return;
    }
    case "not_lock_owner":
      page.connection.resync(page.showtime.id, "a hold we showed as ours is not");
      toast(
        action === "book"
          ? `Your hold on ${listOf(seats)} ran out before booking. Hold the seats again, then book.`
          : `${listOf(seats)} ${seats.length === 1 ? "is" : "are"} no longer held by you.`,
        "error",
      );
      return;
    case "seat_blocked":
      page.connection.resync(page.showtime.id, "a seat shown as for sale is not");
      toast(`Sorry, ${listOf(seats)} ${seats.length === 1 ? "is" : "are"} not for sale.`, "error");
      return;
    case "table_only":
      toast(`${listOf(seats)} can only be booked with the whole table: ${error.message}.`, "error");
      return;
    case "sales_closed":
      toast("Sales for this showtime are closed right now.", "error");
      return;
    case "hold_limit_reached":
    case "too_many_seats":
      toast(`That is more seats than one buyer may hold. Book or release some first.`, "error");
      return;
    case "rate_limited": {
      const seconds = Math.max(1, Math.ceil((error.retryAfterMs ?? 1000) / 1000));
      toast(`That was a lot of clicks at once. Try again in ${seconds} s.`, "error", "rate");
      return;
    }
    case "offline":
    case "connection_lost":
    case "timeout":
      toast(`${error.message} The seat map refreshes as soon as the page is reconnected.`, "error", "connection");
      return;
    default:
      toast(error.message, "error");
  }
}

// --- Drawing -----------------------------------------------------------------------------------------

function renderShowtime(layout) {
  ui.title.textContent = layout.title;
  ui.details.replaceChildren(
    ...[when(layout.startsAt), layout.venue, layout.auditorium, salesWindow(layout)]
      .filter(Boolean)
      .flatMap((part, index) => {
        const span = document.createElement("span");
        span.textContent = part;
        return index ? [" · ", span] : [span];
      }),
  );
  document.title = `${layout.title} · Seat server`;
  // The showtime's own prices (the same hall costs more on a Saturday night).
  ui.legend.replaceChildren(
    ...layout.categories.map((category) => {
      const item = document.createElement("li");
      const swatch = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      swatch.setAttribute("class", "sample");
      swatch.setAttribute("viewBox", "-.5 -.5 1 1");
      swatch.setAttribute("aria-hidden", "true");
      const shape = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      shape.setAttribute("class", "seat");
      for (const [name, value] of Object.entries(SAMPLE_SEAT)) shape.setAttribute(name, value);
      shape.dataset.state = "available";
      shape.style.setProperty("--c", page.grid.seatColor(category.id));
      swatch.append(shape);
      const price = document.createElement("strong");
      price.textContent = category.priceCents == null ? "not on sale" : money(category.priceCents, layout.currency);
      item.dataset.category = category.id;
      item.append(swatch, `${category.name} `, price);
      return item;
    }),
  );
  ui.confirmation.hidden = true;
}

const SAMPLE_SEAT = { x: "-0.42", y: "-0.42", width: "0.84", height: "0.84", rx: "0.2" };

function salesWindow({ salesOpenAt, salesCloseAt }) {
  const now = page.connection.serverNow();
  if (salesOpenAt != null && now < salesOpenAt) return `sales open ${when(salesOpenAt)}`;
  if (salesCloseAt != null && now >= salesCloseAt) return "sales closed";
  return "";
}

/** What this buyer holds, a table sold as a whole as one line: [{name, detail, seatIds, priceCents, color}]. */
function heldItems(seats) {
  const items = [];
  const tables = new Set();
  for (const seat of seats) {
    const table = seat.table?.soldAsWhole ? seat.table : null;
    if (table && tables.has(table)) continue;
    if (table) tables.add(table);
    items.push(
      table
        ? {
            name: table.label,
            detail: `${table.seats.length} seats`,
            seatIds: table.seats.map((each) => each.id),
            priceCents: table.priceCents,
            color: seat.category?.color,
          }
        : {
            name: seat.id,
            detail: seat.category?.name ?? "",
            seatIds: [seat.id],
            priceCents: seat.category?.priceCents ?? 0,
            color: seat.category?.color,
          },
    );
  }
  return items;
}

function renderSelection() {
  const grid = page.grid;
  if (!grid || !page.showtime) return;
  const seats = grid.mine();
  const currency = page.showtime.currency;
  const items = heldItems(seats);
  const totalCents = items.reduce((sum, item) => sum + item.priceCents, 0);

  ui.selectionList.replaceChildren(
    ...items.map((held) => {
      const item = document.createElement("li");
      if (held.color) item.style.setProperty("--c", held.color);
      const name = document.createElement("span");
      name.className = "selection-seat";
      name.textContent = held.name;
      const detail = document.createElement("span");
      detail.className = "muted";
      detail.textContent = held.detail;
      const price = document.createElement("span");
      price.className = "selection-price";
      price.textContent = money(held.priceCents, currency);
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "icon-button";
      remove.dataset.release = held.seatIds.join(" ");
      remove.disabled = held.seatIds.some((id) => page.pending.has(id));
      remove.setAttribute("aria-label", `Release ${held.seatIds.length > 1 ? "" : "seat "}${held.name}`);
      remove.textContent = "×";
      item.append(name, detail, price, remove);
      return item;
    }),
  );
  const count = seats.length;
  ui.selectionEmpty.hidden = count > 0;
  ui.total.textContent = count ? money(totalCents, currency) : "–";
  ui.hold.hidden = count === 0;
  ui.holdBar.hidden = count === 0;
  ui.extend.hidden = count === 0;
  ui.extend.disabled = !page.connection.connected;
  const ready = count > 0 && page.connection.connected && page.synced;
  ui.book.disabled = !ready || page.pending.size > 0;
  const verb = page.config.demoPayments ? "Pay for" : "Book";
  ui.book.textContent = count
    ? `${verb} ${count} seat${count === 1 ? "" : "s"} · ${money(totalCents, currency)}`
    : "Hold seats to book";
  ui.mobileBar.hidden = count === 0;
  ui.mobileSummary.textContent = count ? `${count} seat${count === 1 ? "" : "s"} · ${money(totalCents, currency)}` : "";
  if (count) ui.confirmation.hidden = true;
  ui.availability.textContent = `${grid.available.toLocaleString()} of ${grid.size.toLocaleString()} seats free`;
  tick();
}

/** Twice a second: the hold and payment countdowns and the banner's retry countdown. */
function tick() {
  if (page.connection && !page.connection.connected && page.retryAt) updateBanner();
  if (page.checkout) {
    const left = page.checkout.dueAt - page.connection.serverNow();
    ui.paymentCountdown.textContent = countdown(left);
    ui.paymentCountdown.dateTime = `PT${Math.max(0, Math.ceil(left / 1000))}S`;
  }
  const grid = page.grid;
  if (!grid) return;
  const ends = grid
    .mine()
    .map((seat) => page.expiries.get(seat.id))
    .filter((at) => at !== undefined);
  if (ends.length === 0) {
    ui.countdown.textContent = "–:––";
    ui.mobileCountdown.textContent = "";
    return;
  }
  const left = Math.min(...ends) - page.connection.serverNow();
  const ttl = page.config.holdTtlSeconds * 1000;
  ui.countdown.textContent = countdown(left);
  ui.mobileCountdown.textContent = `· ${countdown(left)}`;
  ui.countdown.dateTime = `PT${Math.max(0, Math.ceil(left / 1000))}S`;
  const urgency = left <= 0 ? "over" : left < Math.min(60_000, ttl / 3) ? "low" : "ok";
  ui.hold.dataset.urgency = urgency;
  ui.mobileCountdown.dataset.urgency = urgency;
  ui.holdBar.dataset.urgency = urgency;
  ui.holdBar.firstElementChild.style.width = `${Math.max(0, Math.min(1, left / ttl)) * 100}%`;
}

function showSeatInfo(seat) {
  const category = seat.category ? ` · ${seat.category.name} · ${seat.category.price}` : "";
  const whole = seat.table?.soldAsWhole
    ? ` · whole ${seat.table.label}: ${seat.table.seats.length} seats, ${money(seat.table.priceCents, page.showtime.currency)}`
    : "";
  ui.seatInfo.textContent = `${seat.name}${category}${whole} — ${STATE_TEXT[seat.state]}`;
}

function setStale(stale, text = "") {
  ui.mapFrame.dataset.stale = String(stale);
  setMapStatus(stale ? text : "");
}

function setMapStatus(text) {
  ui.mapStatus.textContent = text;
  ui.mapStatus.hidden = !text;
}

function showBanner(text, isError) {
  ui.banner.hidden = false;
  ui.banner.dataset.kind = isError ? "error" : "warning";
  ui.bannerText.textContent = text;
  ui.retryNow.hidden = !page.connection;
}

function hideBanner() {
  ui.banner.hidden = true;
}

/**
 * A message on the page (never a blocking alert), gone after a while or when closed. A message with a
 * topic replaces any earlier one on the same topic ("Back online" replaces "Not connected").
 */
function toast(text, kind = "info", topic = "") {
  if (topic) for (const old of ui.messages.querySelectorAll(`[data-topic="${topic}"]`)) old.remove();
  const item = document.createElement("div");
  item.className = "toast";
  item.dataset.kind = kind;
  if (topic) item.dataset.topic = topic;
  const body = document.createElement("span");
  body.textContent = text;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "icon-button";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  close.addEventListener("click", () => item.remove());
  item.append(body, close);
  ui.messages.append(item);
  while (ui.messages.children.length > 3) ui.messages.firstElementChild.remove();
  setTimeout(() => item.remove(), kind === "error" ? 9000 : 6000);
}

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

boot();

// The operator's dashboard: every showtime's sales, live, and one showtime's seat map.
//
// - The admin key is typed in once and kept in sessionStorage (this tab, until it closes). It is checked by
//   reading GET /api/admin/stats with it; a key the server refuses is forgotten and said so.
// - Live figures come over the demo's own connection (connection.js): after every (re)connect it sends the
//   key in an `authenticate` message (never in the URL) and follows each showtime with `subscribe_figures`.
//   The server sends a showtime's figures at most once a second, after it changed.
// - The seat map is the demo's (seatmap.js), fed by an ordinary subscription to the showtime on show.
// - Choosing a seat shows its history (GET /api/admin/showtimes/{id}/seats/{seat}/history, every page): each
//   change, why it happened, who made it and through which channel.
// - The bookings of the showtime on show come from GET /api/admin/showtimes/{id}/bookings (?status=), read
//   again when its figures change; the CSV export is the same address with Accept: text/csv, fetched with
//   the key (a plain link could not carry the Authorization header) and saved from a Blob.

import { SeatConnection } from "../connection.js";
import { money, when } from "../format.js";
import { SeatMap, changedState } from "../seatmap.js";
import { Viewport } from "../viewport.js";

const KEY = "seat-admin:key";
// The bars' order, left to right: what is sold first, what is still free last.
const STATUSES = ["booked", "pending", "held", "blocked", "available"];
const STATUS_TEXT = {
  booked: "booked",
  pending: "awaiting payment",
  held: "held",
  blocked: "blocked",
  available: "available",
};
const CONNECTION_TEXT = { connecting: "Connecting…", connected: "Live", reconnecting: "Reconnecting…", error: "Offline" };

const $ = (id) => document.getElementById(id);

const page = {
  key: null,
  connection: null,
  grid: null,
  viewport: null,
  figures: new Map(), // showtime id -> its latest figures (the highest seq seen)
  shown: null, // the showtime on the seat map
};

// --- The key -----------------------------------------------------------------------------------------

async function boot() {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("admin-key").value.trim();
    if (key) open(key, false);
    else refuse("Enter the admin key.");
  });
  $("booking-status").addEventListener("change", () => loadBookings());
  $("bookings-refresh").addEventListener("click", () => loadBookings());
  $("bookings-csv").addEventListener("click", () => exportBookings());
  $("history-close").addEventListener("click", () => closeHistory());
  $("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    window.location.reload();
  });
  const stored = sessionStorage.getItem(KEY);
  if (stored) await open(stored, true);
  else $("admin-key").focus();
}

/** Try a key: with it, the dashboard; without, the form again and why. */
async function open(key, stored) {
  let response;
  try {
    response = await adminFetch("/api/admin/stats", key);
  } catch {
    refuse("Can't reach the server. Try again in a moment.");
    return;
  }
  if (response.status === 401 || response.status === 403) {
    sessionStorage.removeItem(KEY);
    refuse(
      stored
        ? "The saved admin key is no longer accepted. Enter the current one."
        : "That is not the admin key. It is the server's ADMIN_API_KEY.",
    );
    return;
  }
  if (!response.ok) {
    refuse(`The server could not list the showtimes (HTTP ${response.status}). Try again in a moment.`);
    return;
  }
  sessionStorage.setItem(KEY, key);
  page.key = key;
  const [headlines, config] = await Promise.all([response.json(), getJson("/api/config")]);
  $("sign-in").hidden = true;
  $("dashboard").hidden = false;
  $("sign-out").hidden = false;
  $("connection").hidden = false;
  for (const headline of headlines) page.figures.set(headline.showtimeId, headline);
  renderList();
  start(config.websocketUrl);
  if (headlines.length) show(headlines[0].showtimeId);
}

function refuse(message) {
  $("sign-in").hidden = false;
  $("dashboard").hidden = true;
  $("key-error").textContent = message;
  $("admin-key").setAttribute("aria-invalid", "true");
  $("admin-key").focus();
}

function adminFetch(path, key = page.key, accept = "application/json") {
  return fetch(path, { headers: { Authorization: `Bearer ${key}`, Accept: accept } });
}

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

// --- Live figures ------------------------------------------------------------------------------------

function start(url) {
  const map = $("seatmap");
  page.viewport = new Viewport(map);
  page.grid = new SeatMap(map, { onToggle: (seat) => showHistory(seat.id) });
  const connection = new SeatConnection(url);
  page.connection = connection;
  connection.addEventListener("state", ({ detail }) => {
    $("connection").dataset.state = detail.state;
    $("connection-text").textContent = CONNECTION_TEXT[detail.state];
    if (detail.state === "connected") follow();
    else $("map-frame").dataset.stale = "true";
  });
  connection.addEventListener("figures", ({ detail }) => applyFigures(detail));
  connection.addEventListener("snapshot", ({ detail }) => {
    if (detail.showtimeId !== page.shown) return;
    page.grid.applySnapshot({ ...detail, mySeats: [] });
    $("map-frame").dataset.stale = "false";
  });
  connection.addEventListener("change", ({ detail }) => {
    if (detail.showtimeId === page.shown) page.grid.setState(detail.seatId, changedState(detail.status, false));
  });
  connection.addEventListener("resync", ({ detail }) => {
    if (detail.showtimeId === page.shown) $("map-frame").dataset.stale = "true";
  });
  connection.start();
}

/** On every (re)connect: the key, then every showtime's figures (the reply is their figures now). */
async function follow() {
  try {
    await page.connection.request("authenticate", { adminKey: page.key });
  } catch (error) {
    if (error.code === "unauthorized") {
      sessionStorage.removeItem(KEY);
      refuse("The admin key was changed on the server. Enter the current one.");
    }
    return;
  }
  for (const showtimeId of page.figures.keys()) {
    page.connection
      .request("subscribe_figures", { showtimeId })
      .then(applyFigures)
      .catch((error) => console.warn(`figures of ${showtimeId}:`, error.message));
  }
}

function applyFigures(figures) {
  const known = page.figures.get(figures.showtimeId);
  if (known?.byCategory && known.seq > figures.seq) return; // an older reading overtaken by a newer one
  page.figures.set(figures.showtimeId, figures);
  renderRow(figures);
  if (figures.showtimeId === page.shown) {
    renderDetailFigures(figures);
    loadBookings();
  }
}

// --- The list ----------------------------------------------------------------------------------------

function renderList() {
  const list = $("showtimes");
  list.replaceChildren(...[...page.figures.values()].map((figures) => rowFor(figures)));
  $("showtimes-empty").hidden = page.figures.size > 0;
}

function rowFor(figures) {
  const item = document.createElement("li");
  item.className = "showtime-row";
  item.dataset.showtime = figures.showtimeId;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "showtime-pick";
  button.addEventListener("click", () => show(figures.showtimeId));
  item.append(button);
  fillRow(item, figures);
  return item;
}

function renderRow(figures) {
  const item = document.querySelector(`#showtimes [data-showtime="${CSS.escape(figures.showtimeId)}"]`);
  if (item) fillRow(item, figures);
}

function fillRow(item, figures) {
  const sold = figures.booked;
  const title = document.createElement("span");
  title.className = "showtime-name";
  title.textContent = figures.title;
  const date = document.createElement("span");
  date.className = "muted";
  date.textContent = when(figures.startsAt);
  const revenue = document.createElement("strong");
  revenue.className = "revenue";
  revenue.textContent = money(figures.revenueCents, figures.currency);
  const counts = document.createElement("span");
  counts.className = "counts muted";
  const pendingMoney = figures.pendingRevenueCents
    ? ` · ${money(figures.pendingRevenueCents, figures.currency)} awaiting payment`
    : "";
  counts.textContent = `${sold.toLocaleString()} of ${figures.totalSeats.toLocaleString()} sold · ${figures.held} held${pendingMoney}`;
  const categories = document.createElement("ul");
  categories.className = "categories";
  for (const [id, counts] of Object.entries(figures.byCategory ?? {})) {
    const line = document.createElement("li");
    line.dataset.category = id;
    const name = document.createElement("span");
    name.textContent = id.replace(/[-_]+/g, " ").replace(/^\w/, (c) => c.toUpperCase());
    const earned = document.createElement("span");
    earned.className = "muted";
    earned.textContent = money(counts.revenueCents, figures.currency);
    line.append(name, bar(counts), earned);
    categories.append(line);
  }
  const button = item.querySelector(".showtime-pick");
  button.replaceChildren(title, date, revenue, bar(figures), counts);
  button.setAttribute("aria-pressed", String(figures.showtimeId === page.shown));
  item.querySelector(".categories")?.remove();
  item.append(categories);
  item.dataset.seq = figures.seq;
}

/** One stacked bar of a showtime's (or a category's) seats by status, said in words for screen readers. */
function bar(counts) {
  const element = document.createElement("span");
  element.className = "bar";
  element.setAttribute("role", "img");
  const total = Math.max(1, counts.totalSeats);
  element.setAttribute(
    "aria-label",
    STATUSES.map((status) => `${counts[status]} ${STATUS_TEXT[status]}`).join(", ") + ` of ${counts.totalSeats}`,
  );
  for (const status of STATUSES) {
    const part = document.createElement("span");
    part.dataset.status = status;
    part.dataset.count = counts[status];
    part.style.width = `${(100 * counts[status]) / total}%`;
    element.append(part);
  }
  return element;
}

// --- One showtime ------------------------------------------------------------------------------------

async function show(showtimeId) {
  if (page.shown && page.shown !== showtimeId) page.connection.unsubscribe(page.shown);
  page.shown = showtimeId;
  closeHistory();
  for (const button of document.querySelectorAll(".showtime-pick")) {
    button.setAttribute("aria-pressed", String(button.closest("[data-showtime]").dataset.showtime === showtimeId));
  }
  $("map-frame").dataset.stale = "true";
  let layout;
  try {
    layout = await getJson(`/api/showtimes/${encodeURIComponent(showtimeId)}`);
  } catch (error) {
    $("detail-details").textContent = `The seat map could not be loaded: ${error.message}`;
    return;
  }
  if (page.shown !== showtimeId) return;
  const svg = page.grid.render(layout);
  page.viewport.attach(svg, page.grid.box, page.grid.pitch);
  $("detail-title").textContent = layout.title;
  $("detail-details").textContent = [when(layout.startsAt), layout.venue, layout.auditorium].filter(Boolean).join(" · ");
  renderDetailFigures(page.figures.get(showtimeId));
  page.connection.subscribe(showtimeId);
  loadBookings();
}

function renderDetailFigures(figures) {
  if (!figures) return;
  const parts = STATUSES.map((status) => `${figures[status].toLocaleString()} ${STATUS_TEXT[status]}`);
  $("detail-figures").textContent = `${parts.join(" · ")} · ${money(figures.revenueCents, figures.currency)}`;
}

// --- Its bookings ------------------------------------------------------------------------------------

const BOOKING_STATUS_TEXT = {
  pending: "awaiting payment",
  confirmed: "confirmed",
  cancelled: "cancelled",
  expired: "expired",
};

function bookingsPath() {
  const status = $("booking-status").value;
  const query = status ? `?status=${encodeURIComponent(status)}` : "";
  return `/api/admin/showtimes/${encodeURIComponent(page.shown)}/bookings${query}`;
}

let bookingsRead = 0; // the latest read asked for: an older answer arriving late is dropped

async function loadBookings() {
  if (!page.shown) return;
  const read = ++bookingsRead;
  let bookings;
  try {
    const response = await adminFetch(bookingsPath());
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    bookings = await response.json();
  } catch (error) {
    if (read === bookingsRead) $("bookings-note").textContent = `The bookings could not be read (${error.message}).`;
    return;
  }
  if (read !== bookingsRead) return;
  $("bookings-note").textContent = bookings.length
    ? `${bookings.length.toLocaleString()} booking${bookings.length === 1 ? "" : "s"}`
    : "No bookings.";
  $("bookings").hidden = bookings.length === 0;
  $("bookings").tBodies[0].replaceChildren(...bookings.map(bookingRow));
}

function bookingRow(booking) {
  const row = document.createElement("tr");
  row.dataset.booking = booking.id;
  row.dataset.status = booking.status;
  const cells = [
    booking.orderReference ? `${booking.id} (${booking.orderReference})` : booking.id,
    BOOKING_STATUS_TEXT[booking.status] ?? booking.status,
    booking.seatIds.join(", "),
    `${booking.customer.name} <${booking.customer.email}>`,
    money(booking.totalCents, booking.currency),
    when(booking.createdAt),
  ];
  for (const [index, text] of cells.entries()) {
    const cell = document.createElement("td");
    cell.textContent = text;
    if (index === 4) cell.className = "number";
    row.append(cell);
  }
  return row;
}

/** The list as shown (its status filter too), as CSV, saved under the name the server gives it. */
async function exportBookings() {
  if (!page.shown) return;
  let response;
  try {
    response = await adminFetch(bookingsPath(), page.key, "text/csv");
  } catch {
    response = null;
  }
  if (!response?.ok) {
    $("bookings-note").textContent = `The export failed (${response ? `HTTP ${response.status}` : "no answer"}).`;
    return;
  }
  const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") ?? "");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = named ? named[1] : `bookings-${page.shown}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 0);
}


// --- A seat's history ----------------------------------------------------------------------------------

const ORIGIN_TEXT = {
  lock: "locked",
  unlock: "released",
  extend: "hold extended",
  hold_expired: "hold ran out",
  book: "booked",
  payment_pending: "booked, awaiting payment",
  confirm: "paid",
  cancel: "booking cancelled",
  payment_expired: "payment ran out",
  block: "taken out of sale",
  unblock: "put back on sale",
};
const MAX_HISTORY_PAGES = 20; // of 1,000 changes: a seat with more is shown up to there, and says so
let historyRead = 0;

/** Every logged change of one seat of the showtime on show, oldest first. */
async function showHistory(seatId) {
  const read = ++historyRead;
  const showtimeId = page.shown;
  $("seat-history").hidden = false;
  $("history-title").textContent = `History of seat ${seatId}`;
  $("history-note").textContent = "Reading…";
  const base = `/api/admin/showtimes/${encodeURIComponent(showtimeId)}/seats/${encodeURIComponent(seatId)}/history`;
  const entries = [];
  let cursor = null;
  try {
    for (let pages = 0; pages < MAX_HISTORY_PAGES; pages++) {
      const response = await adminFetch(`${base}?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const found = await response.json();
      entries.push(...found.entries);
      cursor = found.nextCursor ?? null;
      if (!cursor) break;
    }
  } catch (error) {
    if (read === historyRead) $("history-note").textContent = `The history could not be read (${error.message}).`;
    return;
  }
  if (read !== historyRead) return;
  const more = cursor ? " (the first of more)" : "";
  $("history-note").textContent = entries.length
    ? `${entries.length.toLocaleString()} change${entries.length === 1 ? "" : "s"}${more}`
    : "Never changed: on sale since the showtime was created.";
  $("history").hidden = entries.length === 0;
  $("history").tBodies[0].replaceChildren(...entries.map(historyRow));
}

function historyRow(entry) {
  const row = document.createElement("tr");
  row.dataset.origin = entry.origin;
  for (const text of [when(entry.at), entry.status, ORIGIN_TEXT[entry.origin] ?? entry.origin, entry.actor, entry.channel]) {
    const cell = document.createElement("td");
    cell.textContent = text;
    row.append(cell);
  }
  return row;
}

function closeHistory() {
  historyRead++;
  $("seat-history").hidden = true;
}

boot();

// The seat map: an SVG drawn once per showtime from its layout's geometry, then updated one seat at a time.
//
// Positions are the layout's own floats in whatever unit it uses: the SVG's viewBox maps them onto the
// window, so zooming and panning change one attribute (see viewport.js). Each seat is a single <rect>
// (turned by its rotation) carrying its state in data-state, which the stylesheet
// turns into a colour *and* a pattern (a tick, stripes, a cross, a no-entry sign), and in its accessible
// name. A change touches only its own seat (and its wheelchair icon, if it has one): nothing is added or
// removed, whatever the size of the hall. SVG rather than a canvas, so that every seat is an element with a
// role, a name and focus, found by assistive technology and by tests alike; the whole map of 10,000 seats
// is built as one string and parsed once. Rects, not paths: at 10,000 seats Chromium restyles and redraws
// plain rects several times faster than transformed paths, which keeps zooming smooth.
//
// Keyboard: the map is one tab stop (a roving tabindex); arrow keys move to the nearest seat that way,
// Home and End go to the ends of the row, and Enter or Space press the seat as they would a button.

import { money } from "./format.js";

export const STATE_TEXT = {
  available: "available",
  mine: "held by you",
  paying: "in your booking, awaiting payment",
  held: "held by someone else",
  booked: "booked",
  blocked: "not for sale",
};

// The states' patterns (not colour alone) and the wheelchair icon, shared by every seat map and legend on the
// page: put into the document once, by the first map, so that each page using the map has them.
const DEFS = `<svg class="defs" aria-hidden="true" focusable="false">
  <defs>
    <pattern id="state-mine" patternContentUnits="objectBoundingBox" width="1" height="1">
      <rect width="1" height="1" fill="#ff3d7f"/>
      <path d="M.26 .5l.17 .17.33-.36" fill="none" stroke="#fff" stroke-width=".13" stroke-linecap="round"
            stroke-linejoin="round"/>
    </pattern>
    <pattern id="state-held" patternContentUnits="objectBoundingBox" width="1" height="1">
      <rect width="1" height="1" fill="#2a3150"/>
      <path d="M0 .34L.34 0M0 .67L.67 0M0 1L1 0M.33 1L1 .33M.66 1L1 .66" stroke="#5d6792" stroke-width=".1"/>
    </pattern>
    <pattern id="state-booked" patternContentUnits="objectBoundingBox" width="1" height="1">
      <rect width="1" height="1" fill="#1a1f33"/>
      <path d="M.32 .3l.36 .36M.68 .3l-.36 .36" stroke="#66708f" stroke-width=".11" stroke-linecap="round"/>
    </pattern>
    <pattern id="state-blocked" patternContentUnits="objectBoundingBox" width="1" height="1">
      <rect width="1" height="1" fill="#161a2b"/>
      <circle cx=".5" cy=".47" r=".22" fill="none" stroke="#a0707a" stroke-width=".09"/>
      <path d="M.35 .62l.3 -.3" stroke="#a0707a" stroke-width=".09"/>
    </pattern>
    <symbol id="icon-accessible" viewBox="0 0 24 24">
      <circle cx="11" cy="3.6" r="2.3" fill="currentColor"/>
      <path d="M10.6 7.5v6h5.4l2.6 5.6M10.6 10.5h5M7.6 10.6a6 6 0 1 0 8.2 7.6" fill="none" stroke="currentColor"
            stroke-width="2.3" stroke-linecap="round" stroke-linejoin="round"/>
    </symbol>
  </defs>
</svg>`;

/** The map's state for a seat_status_change's status: "mine" when the viewer's own session made the change. */
export function changedState(status, mine) {
  return { booked: "booked", blocked: "blocked", unlocked: "available" }[status] ?? (mine ? "mine" : "held");
}

const FLAG_TEXT = { accessible: "wheelchair space", companion: "companion seat", restrictedView: "restricted view" };

// A seat's square and its rounded corners, as a share of the distance between seats.
const SEAT_SIZE = 0.82;
const SEAT_ROUNDING = 0.24;

const PALETTE = ["#4f8cff", "#2ec4b6", "#f4a63b", "#a78bfa", "#9bd447", "#ef8354"];
const COLOR = /^#[0-9a-f]{3,8}$/i;

const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

export class SeatMap {
  #root;
  #onToggle;
  #onInspect;
  #onFocusSeat;
  #seats = new Map(); // seat id -> seat (see #seatOf for its fields)
  #order = []; // every seat, in layout order
  #rows = []; // per row, its seats in layout order
  #tables = new Map(); // table id -> {id, label, seats, soldAsWhole, priceCents}
  #categories = new Map(); // category id -> the showtime's category, with its colour and price text
  #focused = null;
  #available = 0;
  #mine = new Set(); // the seats held by this buyer
  #pitch = 1; // the usual distance between neighbouring seats, in layout units
  #box = { x: 0, y: 0, width: 1, height: 1 };

  constructor(root, { onToggle, onInspect = () => {}, onFocusSeat = () => {} }) {
    if (!document.getElementById("state-held")) document.body.insertAdjacentHTML("afterbegin", DEFS);
    this.#root = root;
    this.#onToggle = onToggle;
    this.#onInspect = onInspect;
    this.#onFocusSeat = onFocusSeat;
    root.addEventListener("click", (event) => {
      const seat = this.#seatAt(event.target);
      if (!seat) return;
      this.#moveFocus(seat, false);
      this.#onToggle(seat);
    });
    root.addEventListener("keydown", (event) => this.#onKey(event));
    root.addEventListener("focusin", (event) => this.#inspect(this.#seatAt(event.target)));
    root.addEventListener("pointerover", (event) => this.#inspect(this.#seatAt(event.target)));
    root.addEventListener("pointerleave", () => this.#inspect(this.#focused));
  }

  /** Draw a showtime's layout (from GET /api/showtimes/{id}); every seat starts in its REST status. Returns the SVG. */
  render(layout) {
    const categories = new Map(
      layout.categories.map((category, index) => [
        category.id,
        {
          ...category,
          className: `cat-${index}`,
          color: COLOR.test(category.color ?? "") ? category.color : PALETTE[index % PALETTE.length],
          price: category.priceCents == null ? "not on sale" : money(category.priceCents, layout.currency),
        },
      ]),
    );
    this.#categories = categories;
    const tableOf = new Map();
    this.#tables.clear();
    for (const table of layout.tables) {
      const entry = { id: table.id, label: table.label, soldAsWhole: table.soldAsWhole, seats: [], priceCents: 0 };
      this.#tables.set(table.id, entry);
      for (const id of table.seatIds) tableOf.set(id, entry);
    }
    this.#seats.clear();
    this.#order = [];
    this.#rows = [];
    this.#available = 0;
    this.#mine.clear();
    this.#focused = null;
    const named = layout.sections.length > 1;
    for (const section of layout.sections) {
      for (const row of section.rows) {
        const rowSeats = row.seats.map((view) => {
          const table = tableOf.get(view.id);
          const category = categories.get(view.categoryId);
          const seat = {
            id: view.id,
            label: view.label,
            row: row.label,
            section: section.name,
            x: view.x,
            y: view.y,
            rotation: view.rotation ?? 0,
            flags: view.flags,
            category,
            table,
            forSale: category?.priceCents != null,
            rowIndex: this.#rows.length,
            index: 0,
            el: null,
            icon: null,
            state: null,
          };
          seat.name = seatName(seat, named);
          seat.index = this.#order.length;
          table?.seats.push(seat);
          if (table) table.priceCents += category?.priceCents ?? 0;
          this.#seats.set(seat.id, seat);
          this.#order.push(seat);
          return seat;
        });
        this.#rows.push(rowSeats);
      }
    }
    this.#pitch = seatPitch(this.#rows, layout.bounds, this.#order.length);

    const svg = this.#draw(layout, categories);
    this.#root.replaceChildren(svg);
    const seatEls = svg.querySelector(".seats").children;
    const iconEls = svg.querySelector(".seat-icons").children;
    let icon = 0;
    this.#order.forEach((seat, index) => {
      seat.el = seatEls[index];
      if (seat.flags.includes("accessible")) seat.icon = iconEls[icon++];
    });
    const statusOf = new Map(layout.sections.flatMap((s) => s.rows.flatMap((r) => r.seats.map((v) => [v.id, v.status]))));
    for (const seat of this.#order) this.#paint(seat, statusOf.get(seat.id));
    const first = this.#order.find((seat) => seat.state === "available") ?? this.#order[0];
    if (first) this.#moveFocus(first, false);
    return svg;
  }

  /** The drawing's box in layout units, with room for the row labels: what "fit" shows. */
  get box() {
    return this.#box;
  }

  #draw(layout, categories) {
    const pitch = this.#pitch;
    const margin = pitch * 1.6;
    const b = layout.bounds;
    this.#box = { x: b.x - margin, y: b.y - margin, width: b.width + 2 * margin, height: b.height + 2 * margin };
    const box = this.#box;
    const size = pitch * SEAT_SIZE;
    const parts = [];
    parts.push(
      `<svg xmlns="http://www.w3.org/2000/svg" class="hall" viewBox="${box.x} ${box.y} ${box.width} ${box.height}"` +
        ` style="--aspect:${box.width / box.height};--stroke:${size * 0.09}px;--unit:${pitch}px"` +
        ` preserveAspectRatio="xMidYMid meet">`,
      `<style>${[...categories.values()].map((c) => `#seatmap .${c.className}{--c:${c.color}}`).join("")}</style>`,
      `<g class="shapes" aria-hidden="true" stroke-width="${pitch * 0.06}">`,
    );
    for (const shape of layout.shapes) parts.push(shapeMarkup(shape, pitch));
    parts.push(`</g><g class="tables" stroke-width="${pitch * 0.06}">`);
    for (const table of layout.tables) {
      if (!table.shape) continue;
      const whole = table.soldAsWhole ? ` data-table="${attr(table.id)}"` : "";
      parts.push(`<g class="table${table.soldAsWhole ? " whole" : ""}"${whole} aria-hidden="true">`);
      parts.push(shapeMarkup(table.shape, pitch), "</g>");
    }
    parts.push(`</g><g class="row-labels" aria-hidden="true" font-size="${pitch * 0.46}">`);
    for (const row of this.#rows) {
      if (row.length < 2 || row[0].table) continue;
      parts.push(rowLabel(row[0], row[1], pitch), rowLabel(row[row.length - 1], row[row.length - 2], pitch));
    }
    parts.push(`</g><g class="seats">`);
    for (const seat of this.#order) {
      const classes = `seat ${seat.category?.className ?? ""}${seat.table?.soldAsWhole ? " in-table" : ""}`;
      const turn = seat.rotation ? ` transform="rotate(${seat.rotation} ${seat.x} ${seat.y})"` : "";
      parts.push(
        `<rect class="${classes}" data-seat="${attr(seat.id)}" role="button" tabindex="-1" x="${seat.x - size / 2}"` +
          ` y="${seat.y - size / 2}" width="${size}" height="${size}" rx="${size * SEAT_ROUNDING}"${turn}/>`,
      );
    }
    parts.push(`</g><g class="seat-icons" aria-hidden="true">`);
    for (const seat of this.#order) {
      if (!seat.flags.includes("accessible")) continue;
      const s = size * 0.62;
      parts.push(
        `<use href="#icon-accessible" class="seat-icon" data-icon-for="${attr(seat.id)}"` +
          ` x="${seat.x - s / 2}" y="${seat.y - s / 2}" width="${s}" height="${s}"/>`,
      );
    }
    parts.push("</g></svg>");
    const template = document.createElement("template");
    template.innerHTML = parts.join("");
    return template.content.firstElementChild;
  }

  /** Move keyboard focus into the map, on the seat that has the tab stop. */
  focus() {
    if (this.#focused) this.#moveFocus(this.#focused);
  }

  has(id) {
    return this.#seats.has(id);
  }

  /** The seat: {id, name, label, row, section, x, y, flags, category: {name, priceCents, price}, table, state}. */
  seat(id) {
    return this.#seats.get(id);
  }

  table(id) {
    return this.#tables.get(id);
  }

  /** The colour a category's seats are drawn in: the layout's, else one of the page's own. */
  seatColor(categoryId) {
    return this.#categories.get(categoryId)?.color ?? PALETTE[0];
  }

  state(id) {
    return this.#seats.get(id)?.state;
  }

  /** The seats held by this buyer, in layout order. */
  mine() {
    return [...this.#mine].sort((a, b) => a.index - b.index);
  }

  get size() {
    return this.#seats.size;
  }

  get available() {
    return this.#available;
  }

  get pitch() {
    return this.#pitch;
  }

  /** Change one seat; `flash` draws the eye to a change someone else made. */
  setState(id, state, { flash = false } = {}) {
    const seat = this.#seats.get(id);
    if (!seat || seat.state === shown(seat, state)) return false;
    this.#paint(seat, state);
    if (flash && !reduceMotion.matches) {
      seat.el.animate([{ opacity: 0.2 }, { opacity: 1 }], { duration: 600, easing: "ease-out" });
    }
    if (seat === this.#focused) this.#onInspect(seat);
    return true;
  }

  /** Every seat from a snapshot; only seats whose state differs are touched. Returns the changed ids. */
  applySnapshot({ bookedSeats, lockedSeats, mySeats, blockedSeats = [] }, { flash = false } = {}) {
    const booked = new Set(bookedSeats);
    const blocked = new Set(blockedSeats);
    const locked = new Set(lockedSeats);
    const mine = new Set(mySeats);
    const changed = [];
    for (const seat of this.#order) {
      const state = booked.has(seat.id)
        ? "booked"
        : blocked.has(seat.id)
          ? "blocked"
          : mine.has(seat.id)
            ? "mine"
            : locked.has(seat.id)
              ? "held"
              : "available";
      if (this.setState(seat.id, state, { flash })) changed.push(seat.id);
    }
    return changed;
  }

  /** Mark a seat whose request is on its way to the server. */
  setPending(id, pending) {
    const el = this.#seats.get(id)?.el;
    if (!el) return;
    el.classList.toggle("pending", pending);
    if (pending) el.setAttribute("aria-busy", "true");
    else el.removeAttribute("aria-busy");
  }

  /** A short shake: the seat could not be had. */
  nudge(id) {
    const el = this.#seats.get(id)?.el;
    if (!el || reduceMotion.matches) return;
    const step = this.#pitch * 0.12;
    el.animate(
      [0, -step, step, -step / 2, 0].map((dx) => ({ translate: `${dx}px 0` })),
      { duration: 320, easing: "ease-in-out" },
    );
  }

  #paint(seat, wanted) {
    const state = shown(seat, wanted);
    if (seat.state === "available") this.#available -= 1;
    if (state === "available") this.#available += 1;
    if (state === "mine") this.#mine.add(seat);
    else this.#mine.delete(seat);
    seat.state = state;
    const { el } = seat;
    el.dataset.state = state;
    el.setAttribute("aria-pressed", state === "mine" ? "true" : "false");
    if (state === "blocked") el.setAttribute("aria-disabled", "true");
    else el.removeAttribute("aria-disabled");
    el.setAttribute("aria-label", describe(seat));
    if (seat.icon) seat.icon.dataset.state = state;
  }

  #seatAt(target) {
    if (!(target instanceof Element) || !this.#root.contains(target)) return undefined;
    const seatEl = target.closest("[data-seat]");
    if (seatEl) return this.#seats.get(seatEl.dataset.seat);
    const tableEl = target.closest("[data-table]");
    return tableEl ? this.#tables.get(tableEl.dataset.table)?.seats[0] : undefined;
  }

  #inspect(seat) {
    if (seat) this.#onInspect(seat);
  }

  #moveFocus(seat, focus = true) {
    if (this.#focused && this.#focused !== seat) this.#focused.el.tabIndex = -1;
    this.#focused = seat;
    seat.el.tabIndex = 0;
    if (focus) {
      this.#onFocusSeat(seat);
      seat.el.focus({ preventScroll: true });
    }
  }

  #onKey(event) {
    const seat = this.#seatAt(event.target);
    if (!seat || event.altKey || event.ctrlKey || event.metaKey) return;
    const row = this.#rows[seat.rowIndex];
    const ends = [...row].sort((a, b) => a.x - b.x || a.y - b.y);
    let target;
    switch (event.key) {
      case "Enter":
      case " ": // an SVG element is no <button>: pressing it is ours to do
        event.preventDefault();
        if (!event.repeat) this.#onToggle(seat);
        return;
      case "ArrowLeft":
        target = this.#nearest(seat, -1, 0);
        break;
      case "ArrowRight":
        target = this.#nearest(seat, 1, 0);
        break;
      case "ArrowUp":
        target = this.#nearest(seat, 0, -1);
        break;
      case "ArrowDown":
        target = this.#nearest(seat, 0, 1);
        break;
      case "Home":
        target = ends[0];
        break;
      case "End":
        target = ends[ends.length - 1];
        break;
      default:
        return;
    }
    event.preventDefault();
    if (target) this.#moveFocus(target);
  }

  /** The closest seat in direction (dx, dy), straying sideways costing double: rows first, then aisles. */
  #nearest(from, dx, dy) {
    const min = this.#pitch * 0.3;
    let best;
    let bestScore = Infinity;
    for (const seat of this.#order) {
      const ahead = (seat.x - from.x) * dx + (seat.y - from.y) * dy;
      if (ahead < min) continue;
      const aside = Math.abs((seat.x - from.x) * dy - (seat.y - from.y) * dx);
      const score = ahead + 2 * aside;
      if (score < bestScore) [best, bestScore] = [seat, score];
    }
    return best;
  }
}

/** A seat of an unpriced category cannot be had, whatever the server says of it. */
function shown(seat, state) {
  return state === "available" && !seat.forSale ? "blocked" : state;
}

function seatName(seat, namedSections) {
  if (seat.table) return `${seat.table.label}, seat ${seat.label}`;
  return `${namedSections ? `${seat.section}, row` : "Row"} ${seat.row}, seat ${seat.label}`;
}

function describe(seat) {
  const parts = [seat.name];
  for (const flag of seat.flags) if (FLAG_TEXT[flag]) parts.push(FLAG_TEXT[flag]);
  if (seat.table?.soldAsWhole) parts.push(`sold only with the whole ${seat.table.label}`);
  if (seat.category) parts.push(`${seat.category.name} ${seat.category.price}`);
  parts.push(STATE_TEXT[seat.state]);
  return parts.join(", ");
}

/** The usual distance between neighbours in a row (the median of each row's smallest), so seats never overlap. */
function seatPitch(rows, bounds, count) {
  const gaps = [];
  for (const row of rows) {
    let smallest = Infinity;
    for (let i = 1; i < row.length; i += 1) {
      smallest = Math.min(smallest, Math.hypot(row[i].x - row[i - 1].x, row[i].y - row[i - 1].y));
    }
    if (smallest > 0 && smallest < Infinity) gaps.push(smallest);
  }
  if (gaps.length) return gaps.sort((a, b) => a - b)[Math.floor(gaps.length / 2)];
  return Math.sqrt((bounds.width * bounds.height || 1) / Math.max(1, count)) * 0.7 || 1;
}

function rowLabel(end, next, pitch) {
  const dx = end.x - next.x;
  const dy = end.y - next.y;
  const length = Math.hypot(dx, dy) || 1;
  const x = end.x + (dx / length) * pitch * 0.95;
  const y = end.y + (dy / length) * pitch * 0.95;
  return `<text class="row-label" x="${x}" y="${y}" dy=".35em">${text(end.row)}</text>`;
}

function shapeMarkup(shape, pitch) {
  const color = COLOR.test(shape.color ?? "") ? shape.color : "#8f99b8";
  const paint = `style="--shape:${color}"`;
  const label = (x, y, fontSize) =>
    shape.text
      ? `<text class="shape-text" x="${x}" y="${y}" dy=".35em" font-size="${fontSize}">${text(shape.text)}</text>`
      : "";
  const textSize = (width, height) =>
    Math.max(pitch * 0.3, Math.min(height * 0.4, width / Math.max(2, (shape.text ?? "").length * 0.62), pitch * 0.7));
  switch (shape.kind) {
    case "rectangle": {
      const { x, y, width = 0, height = 0 } = shape;
      const cx = x + width / 2;
      const cy = y + height / 2;
      const turn = shape.rotation ? ` transform="rotate(${shape.rotation} ${cx} ${cy})"` : "";
      const upright = height > width * 1.6 && shape.text;
      const rotateText = upright ? ` transform="rotate(-90 ${cx} ${cy})"` : "";
      const fontSize = upright ? textSize(height, width) : textSize(width, height);
      return (
        `<g class="shape" ${paint}${turn}><rect x="${x}" y="${y}" width="${width}" height="${height}" rx="${pitch * 0.15}"/>` +
        `<g${rotateText}>${label(cx, cy, fontSize)}</g></g>`
      );
    }
    case "circle": {
      const r = shape.radius ?? pitch / 2;
      return `<g class="shape" ${paint}><circle cx="${shape.x}" cy="${shape.y}" r="${r}"/>${label(shape.x, shape.y, textSize(r * 1.6, r * 1.6))}</g>`;
    }
    case "polygon": {
      const points = (shape.points ?? []).map((p) => `${p.x},${p.y}`).join(" ");
      const xs = (shape.points ?? []).map((p) => p.x);
      const ys = (shape.points ?? []).map((p) => p.y);
      const cx = (Math.min(...xs) + Math.max(...xs)) / 2;
      const cy = (Math.min(...ys) + Math.max(...ys)) / 2;
      const w = Math.max(...xs) - Math.min(...xs);
      const h = Math.max(...ys) - Math.min(...ys);
      return `<g class="shape" ${paint}><polygon points="${points}"/>${xs.length ? label(cx, cy, textSize(w, h)) : ""}</g>`;
    }
    default:
      return `<g class="shape text-only" ${paint}>${label(shape.x, shape.y, pitch * 0.55)}</g>`;
  }
}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };

function text(value) {
  return String(value).replace(/[&<>"]/g, (c) => ESCAPES[c]);
}

const attr = text;

// The seat map: drawn once per showtime from its layout, then updated one seat at a time.
//
// Each seat is a <button> on a CSS grid at its layout position (x is the column, so aisles are blank
// columns; y orders the rows and a jump in y leaves a gap). Its state lives in data-state
// (available | mine | held | booked), which the stylesheet turns into colour *and* a pattern or icon,
// and in its accessible name. A change touches only its own seat: no redraw, whatever the venue size.
//
// Keyboard: the map is one tab stop (a roving tabindex); arrow keys move between seats, Home and End go
// to the ends of the row, and Enter or Space press the seat like any button.

import { money } from "./format.js";

const CATEGORY_CLASSES = 6; // .c0 to .c5 in style.css

export const STATE_TEXT = {
  available: "available",
  mine: "held by you",
  held: "held by someone else",
  booked: "booked",
};

const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

export class SeatGrid {
  #root;
  #onToggle;
  #onInspect;
  #seats = new Map(); // seat id -> {id, row, number, category, el, state, x, rowIndex, index}
  #rows = []; // per row, its seats in x order
  #focused = null;
  #available = 0;
  #mine = new Set(); // the seats held by this buyer

  constructor(root, { onToggle, onInspect = () => {} }) {
    this.#root = root;
    this.#onToggle = onToggle;
    this.#onInspect = onInspect;
    root.addEventListener("click", (event) => {
      const seat = this.#seatOf(event.target);
      if (!seat) return;
      this.#moveFocus(seat, false);
      this.#onToggle(seat.id);
    });
    root.addEventListener("keydown", (event) => this.#onKey(event));
    root.addEventListener("focusin", (event) => this.#inspect(this.#seatOf(event.target)));
    root.addEventListener("pointerover", (event) => this.#inspect(this.#seatOf(event.target)));
    root.addEventListener("pointerleave", () => this.#inspect(this.#focused));
  }

  /** Draw a showtime's layout (from GET /api/showtimes/{id}); every seat starts in its REST status. */
  render(layout) {
    const categories = new Map(
      layout.categories.map((category, index) => [
        category.id,
        { ...category, className: categoryClass(index), price: money(category.priceCents, layout.currency) },
      ]),
    );
    const allSeats = layout.rows.flatMap((row) => row.seats);
    const minX = Math.min(...allSeats.map((seat) => seat.x));
    const maxX = Math.max(...allSeats.map((seat) => seat.x));
    const rows = layout.rows
      .map((row) => ({ ...row, y: Math.min(...row.seats.map((seat) => seat.y)) }))
      .sort((a, b) => a.y - b.y);

    this.#seats.clear();
    this.#rows = [];
    this.#available = 0;
    this.#mine.clear();
    this.#focused = null;
    this.#root.style.setProperty("--columns", maxX - minX + 1);
    this.#root.classList.toggle("large", allSeats.length > 2000);

    // Seats carry no inline style: each row is a grid filled in order, an empty cell for every position
    // without a seat (an aisle). Seats that look alike then share their computed style, which keeps
    // drawing a 10,000-seat venue quick.
    const fragment = document.createDocumentFragment();
    let previousY = null;
    for (const row of rows) {
      const rowEl = document.createElement("div");
      rowEl.className = "seat-row";
      rowEl.setAttribute("role", "group");
      rowEl.setAttribute("aria-label", `Row ${row.label}`);
      if (previousY !== null && row.y - previousY > 1) rowEl.style.setProperty("--gap-rows", row.y - previousY - 1);
      previousY = row.y;
      rowEl.append(rowLabel(row.label, "start"));

      const rowSeats = [];
      let x = minX;
      for (const view of [...row.seats].sort((a, b) => a.x - b.x)) {
        for (; x < view.x; x += 1) rowEl.append(emptyCell());
        x = view.x + 1;
        const category = categories.get(view.categoryId);
        const el = document.createElement("button");
        el.type = "button";
        el.className = `seat ${category?.className ?? ""}`;
        el.tabIndex = -1;
        el.dataset.seat = view.id;
        el.textContent = view.number;
        const seat = {
          id: view.id,
          row: view.row,
          number: view.number,
          category,
          el,
          state: null,
          x: view.x,
          rowIndex: this.#rows.length,
          index: rowSeats.length,
        };
        this.#seats.set(view.id, seat);
        rowSeats.push(seat);
        this.#paint(seat, view.status);
        rowEl.append(el);
      }
      for (; x <= maxX; x += 1) rowEl.append(emptyCell());
      rowEl.append(rowLabel(row.label, "end"));
      this.#rows.push(rowSeats);
      fragment.append(rowEl);
    }
    this.#root.replaceChildren(fragment);
    const first = [...this.#seats.values()].find((seat) => seat.state === "available") ?? this.#seats.values().next().value;
    if (first) this.#moveFocus(first, false);
  }

  /** Move keyboard focus into the map, on the seat that has the tab stop. */
  focus() {
    this.#focused?.el.focus();
  }

  has(id) {
    return this.#seats.has(id);
  }

  /** The seat's details: {id, row, number, category: {name, priceCents, price, className}, state}. */
  seat(id) {
    return this.#seats.get(id);
  }

  state(id) {
    return this.#seats.get(id)?.state;
  }

  /** The seats held by this buyer, in layout order. */
  mine() {
    return [...this.#mine].sort((a, b) => a.rowIndex - b.rowIndex || a.index - b.index);
  }

  get size() {
    return this.#seats.size;
  }

  get available() {
    return this.#available;
  }

  /** Change one seat; `flash` draws the eye to a change someone else made. */
  setState(id, state, { flash = false } = {}) {
    const seat = this.#seats.get(id);
    if (!seat || seat.state === state) return false;
    this.#paint(seat, state);
    if (flash && !reduceMotion.matches) {
      seat.el.animate(
        [{ boxShadow: "0 0 0 6px rgb(255 255 255 / 0.55)" }, { boxShadow: "0 0 0 0 rgb(255 255 255 / 0)" }],
        { duration: 700, easing: "ease-out" },
      );
    }
    if (seat === this.#focused) this.#onInspect(seat);
    return true;
  }

  /** Every seat from a snapshot; only seats whose state differs are touched. Returns the changed ids. */
  applySnapshot({ bookedSeats, lockedSeats, mySeats }, { flash = false } = {}) {
    const booked = new Set(bookedSeats);
    const locked = new Set(lockedSeats);
    const mine = new Set(mySeats);
    const changed = [];
    for (const seat of this.#seats.values()) {
      const state = booked.has(seat.id)
        ? "booked"
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
    el.animate(
      [
        { transform: "translateX(0)" },
        { transform: "translateX(-3px)" },
        { transform: "translateX(3px)" },
        { transform: "translateX(-2px)" },
        { transform: "translateX(0)" },
      ],
      { duration: 320, easing: "ease-in-out" },
    );
  }

  #paint(seat, state) {
    if (seat.state === "available") this.#available -= 1;
    if (state === "available") this.#available += 1;
    if (state === "mine") this.#mine.add(seat);
    else this.#mine.delete(seat);
    seat.state = state;
    const { el, category } = seat;
    el.dataset.state = state;
    el.setAttribute("aria-pressed", state === "mine" ? "true" : "false");
    el.setAttribute(
      "aria-label",
      `Row ${seat.row}, seat ${seat.number}, ${category?.name ?? ""} ${category?.price ?? ""}, ${STATE_TEXT[state]}`,
    );
  }

  #seatOf(target) {
    const el = target instanceof Element ? target.closest(".seat") : null;
    return el && this.#root.contains(el) ? this.#seats.get(el.dataset.seat) : undefined;
  }

  #inspect(seat) {
    if (seat) this.#onInspect(seat);
  }

  #moveFocus(seat, focus = true) {
    if (this.#focused && this.#focused !== seat) this.#focused.el.tabIndex = -1;
    this.#focused = seat;
    seat.el.tabIndex = 0;
    if (focus) seat.el.focus();
  }

  #onKey(event) {
    const seat = this.#seatOf(event.target);
    if (!seat || event.altKey || event.ctrlKey || event.metaKey) return;
    const row = this.#rows[seat.rowIndex];
    let target;
    switch (event.key) {
      case "ArrowLeft":
        target = row[seat.index - 1];
        break;
      case "ArrowRight":
        target = row[seat.index + 1];
        break;
      case "ArrowUp":
        target = this.#nearestIn(this.#rows[seat.rowIndex - 1], seat);
        break;
      case "ArrowDown":
        target = this.#nearestIn(this.#rows[seat.rowIndex + 1], seat);
        break;
      case "Home":
        target = row[0];
        break;
      case "End":
        target = row[row.length - 1];
        break;
      default:
        return;
    }
    event.preventDefault();
    if (target) this.#moveFocus(target);
  }

  #nearestIn(row, from) {
    if (!row) return undefined;
    let best;
    let bestDistance = Infinity;
    for (const seat of row) {
      const distance = Math.abs(seat.x - from.x);
      if (distance < bestDistance) [best, bestDistance] = [seat, distance];
    }
    return best;
  }
}

/** The CSS class of the category at this index: c0 to c5, in the stylesheet's colours, then round again. */
export function categoryClass(index) {
  return `c${index % CATEGORY_CLASSES}`;
}

function rowLabel(text, side) {
  const label = document.createElement("span");
  label.className = `row-label ${side}`;
  label.setAttribute("aria-hidden", "true");
  label.textContent = text;
  return label;
}

function emptyCell() {
  const cell = document.createElement("span");
  cell.className = "aisle";
  return cell;
}

// Zoom and pan for the seat map: the SVG's viewBox is the window onto the hall, in the layout's own units.
//
// Ctrl (or ⌘) and the wheel, a trackpad pinch or a two-finger pinch zoom around the pointer; once zoomed in,
// dragging and the wheel pan. The keys + and − zoom, 0 shows the whole hall. A drag never counts as a
// click on the seat it started on. At most one viewBox change per frame, however many events arrive.

const DRAG_PX = 6; // a press that moves less than this is a click

export class Viewport {
  #root;
  #svg = null;
  #fit = { x: 0, y: 0, width: 1, height: 1 };
  #view = { ...this.#fit };
  #maxZoom = 4;
  #queued = false;
  #pointers = new Map(); // pointerId -> {x, y}, in client pixels
  #pinch = null; // {distance, view} while two fingers are down
  #dragging = false;
  #suppressClick = false;

  constructor(root) {
    this.#root = root;
    root.addEventListener("wheel", (event) => this.#onWheel(event), { passive: false });
    root.addEventListener("pointerdown", (event) => this.#onDown(event));
    root.addEventListener("pointermove", (event) => this.#onMove(event));
    for (const type of ["pointerup", "pointercancel"]) root.addEventListener(type, (event) => this.#onUp(event));
    root.addEventListener(
      "click",
      (event) => {
        if (!this.#suppressClick) return;
        this.#suppressClick = false;
        event.stopPropagation();
        event.preventDefault();
      },
      true,
    );
    root.addEventListener("keydown", (event) => this.#onKey(event));
  }

  /** Show a freshly drawn map whole; `pitch` (the distance between seats) bounds how far one may zoom in. */
  attach(svg, box, pitch) {
    this.#svg = svg;
    this.#fit = { ...box };
    this.#maxZoom = Math.max(2, box.width / (pitch * 8), box.height / (pitch * 8));
    this.#view = { ...box };
    this.#apply();
  }

  get zoomed() {
    return this.#view.width < this.#fit.width * 0.999;
  }

  fit() {
    this.#view = { ...this.#fit };
    this.#apply();
  }

  /** Zoom by `factor` (> 1: closer) around a point in layout units, by default the middle of the view. */
  zoomBy(factor, at = this.#centre()) {
    const width = Math.min(this.#fit.width, Math.max(this.#fit.width / this.#maxZoom, this.#view.width / factor));
    const ratio = width / this.#view.width;
    const height = this.#view.height * ratio;
    this.#view = {
      x: at.x - (at.x - this.#view.x) * ratio,
      y: at.y - (at.y - this.#view.y) * ratio,
      width,
      height,
    };
    this.#apply();
  }

  /** Bring a point (a seat with the keyboard focus) into view, if zoomed in and it is out of sight. */
  reveal(x, y, margin) {
    const v = this.#view;
    if (!this.zoomed) return;
    if (x - margin >= v.x && x + margin <= v.x + v.width && y - margin >= v.y && y + margin <= v.y + v.height) return;
    this.#view = { ...v, x: x - v.width / 2, y: y - v.height / 2 };
    this.#apply();
  }

  #centre() {
    return { x: this.#view.x + this.#view.width / 2, y: this.#view.y + this.#view.height / 2 };
  }

  /** Client pixels -> layout units. */
  #toLayout(clientX, clientY) {
    const matrix = this.#svg?.getScreenCTM();
    if (!matrix) return this.#centre();
    const point = new DOMPoint(clientX, clientY).matrixTransform(matrix.inverse());
    return { x: point.x, y: point.y };
  }

  #unitsPerPixel() {
    return 1 / (this.#svg?.getScreenCTM()?.a || 1);
  }

  #panByPixels(dx, dy) {
    const scale = this.#unitsPerPixel();
    this.#view = { ...this.#view, x: this.#view.x - dx * scale, y: this.#view.y - dy * scale };
    this.#apply();
  }

  #onWheel(event) {
    if (!this.#svg) return;
    if (event.ctrlKey || event.metaKey) {
      event.preventDefault();
      this.zoomBy(Math.exp(-event.deltaY * 0.004), this.#toLayout(event.clientX, event.clientY));
    } else if (this.zoomed) {
      event.preventDefault();
      this.#panByPixels(-event.deltaX, -event.deltaY);
    }
  }

  #onDown(event) {
    if (!this.#svg || (event.pointerType === "mouse" && event.button !== 0)) return;
    this.#pointers.set(event.pointerId, { x: event.clientX, y: event.clientY, startX: event.clientX, startY: event.clientY });
    this.#dragging = false;
    if (this.#pointers.size === 2) {
      const [a, b] = [...this.#pointers.values()];
      this.#pinch = { distance: Math.hypot(a.x - b.x, a.y - b.y) || 1 };
    }
  }

  #onMove(event) {
    const pointer = this.#pointers.get(event.pointerId);
    if (!pointer) return;
    const dx = event.clientX - pointer.x;
    const dy = event.clientY - pointer.y;
    pointer.x = event.clientX;
    pointer.y = event.clientY;
    if (this.#pinch && this.#pointers.size === 2) {
      const [a, b] = [...this.#pointers.values()];
      const distance = Math.hypot(a.x - b.x, a.y - b.y) || 1;
      this.zoomBy(distance / this.#pinch.distance, this.#toLayout((a.x + b.x) / 2, (a.y + b.y) / 2));
      this.#pinch.distance = distance;
      this.#dragging = true;
      return;
    }
    if (!this.#dragging) {
      const far = Math.hypot(event.clientX - pointer.startX, event.clientY - pointer.startY) >= DRAG_PX;
      if (!far || !this.zoomed) return;
      this.#dragging = true;
      this.#root.setPointerCapture(event.pointerId);
    }
    this.#panByPixels(dx, dy);
  }

  #onUp(event) {
    if (!this.#pointers.delete(event.pointerId)) return;
    if (this.#pointers.size < 2) this.#pinch = null;
    if (this.#dragging && this.#pointers.size === 0) {
      this.#suppressClick = event.type === "pointerup";
      this.#dragging = false;
      setTimeout(() => (this.#suppressClick = false)); // no click followed (released outside)
    }
  }

  #onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const zoom = { "+": 1.5, "=": 1.5, "-": 1 / 1.5 }[event.key];
    if (zoom) this.zoomBy(zoom, this.#focusPoint());
    else if (event.key === "0") this.fit();
    else return;
    event.preventDefault();
  }

  #focusPoint() {
    const box = document.activeElement?.getBoundingClientRect?.();
    return box && this.#root.contains(document.activeElement)
      ? this.#toLayout(box.x + box.width / 2, box.y + box.height / 2)
      : this.#centre();
  }

  /** Keep the view inside the hall, then draw it once this frame. */
  #apply() {
    const fit = this.#fit;
    const view = this.#view;
    view.x = Math.min(Math.max(view.x, fit.x), fit.x + fit.width - view.width);
    view.y = Math.min(Math.max(view.y, fit.y), fit.y + fit.height - view.height);
    if (this.#queued) return;
    this.#queued = true;
    requestAnimationFrame(() => {
      this.#queued = false;
      if (!this.#svg) return;
      const { x, y, width, height } = this.#view;
      this.#svg.setAttribute("viewBox", `${x} ${y} ${width} ${height}`);
      this.#root.dataset.zoomed = String(this.zoomed);
    });
  }
}

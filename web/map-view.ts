// The map's canvas: points drawn as dots (one path per colour), thumbnails once few enough are in view; pan, zoom,
// lasso and box selection with the pointer, the same by keyboard around a centre crosshair. Draws at most once per
// animation frame, only when something changed; `data-frames` and `data-draw-ms` on the canvas say how it goes.

import { drawRing, drawSelecting, inBox, inPolygon, nearest } from './map-geometry.js';

export type Tool = 'pan' | 'lasso' | 'box';

export interface MapViewEvents {
  /** A click (or Enter) on a point. */
  open(index: number): void;
  /** Points chosen by lasso, box or Space; `add`: Shift was held (add to the selection). */
  select(indices: number[], add: boolean): void;
  /** The pointer is over a point (or none), at these viewport coordinates. */
  hover(index: number | null, clientX: number, clientY: number): void;
  /** The thumbnail of a point when it is loaded; asks for it otherwise. */
  thumb(index: number): CanvasImageSource | undefined;
  /** The points whose thumbnails the view would draw now (nearest the centre first): load these. */
  wantThumbs(indices: number[]): void;
}

/** Thumbnails are drawn once at most this many points are in view. */
const MAX_THUMBS = 600;
const PAD = 24;
const MIN_SCALE = 0.5;
const MAX_SCALE = 400;

export class MapView {
  private xs: Float32Array = new Float32Array(0);
  private ys: Float32Array = new Float32Array(0);
  private colourOf: Uint16Array = new Uint16Array(0);
  private palette: string[] = ['#4e79a7'];
  private byColour: number[][] = [];
  private selected = new Uint8Array(0);
  private selectedCount = 0;
  private scale = 1;
  private tx = 0;
  private ty = 0;
  private width = 0;
  private height = 0;
  private dpr = 1;
  private dirty = false;
  private frames = 0;
  private tool: Tool = 'pan';
  private drag: { id: number; x0: number; y0: number; x: number; y: number; moved: boolean; mode: Tool; path: [number, number][] } | null = null;
  private crosshair = false;
  private readonly ctx: CanvasRenderingContext2D;

  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly events: MapViewEvents,
  ) {
    this.ctx = canvas.getContext('2d', { alpha: false })!;
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    canvas.addEventListener('pointerup', (e) => this.up(e));
    canvas.addEventListener('pointercancel', () => {
      this.drag = null;
      this.request();
    });
    canvas.addEventListener('pointerleave', (e) => this.events.hover(null, e.clientX, e.clientY));
    canvas.addEventListener('wheel', (e) => this.wheel(e), { passive: false });
    canvas.addEventListener('keydown', (e) => this.key(e));
    canvas.addEventListener('focus', () => {
      this.crosshair = canvas.matches(':focus-visible');
      this.request();
    });
    canvas.addEventListener('blur', () => {
      this.crosshair = false;
      this.request();
    });
  }

  setPoints(xs: Float32Array, ys: Float32Array): void {
    this.xs = xs;
    this.ys = ys;
    this.selected = new Uint8Array(xs.length);
    this.selectedCount = 0;
    this.fit();
  }

  /** Colour index of every point, and the colours. */
  setColours(colourOf: Uint16Array, palette: string[]): void {
    this.colourOf = colourOf;
    this.palette = palette;
    this.byColour = palette.map(() => []);
    for (let i = 0; i < colourOf.length; i++) this.byColour[colourOf[i]!]?.push(i);
    this.request();
  }

  setSelection(indices: Iterable<number>): void {
    this.selected.fill(0);
    this.selectedCount = 0;
    for (const i of indices) {
      if (this.selected[i] === 0) this.selectedCount++;
      this.selected[i] = 1;
    }
    this.request();
  }

  setTool(t: Tool): void {
    this.tool = t;
    this.canvas.dataset.tool = t;
  }

  /** Show the whole map. */
  fit(): void {
    this.scale = 1;
    this.tx = 0;
    this.ty = 0;
    this.request();
  }

  /** Zoom so that the map box [x0, x1] × [y0, y1] fills the view. */
  show(x0: number, y0: number, x1: number, y1: number): void {
    const span = Math.max(x1 - x0, y1 - y0, 0.002);
    this.scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, 0.9 / span));
    const k = this.base() * this.scale;
    this.tx = this.width / 2 - this.ox() - ((x0 + x1) / 2) * k;
    this.ty = this.height / 2 - this.oy() - ((y0 + y1) / 2) * k;
    this.request();
  }

  zoomBy(factor: number, cx = this.width / 2, cy = this.height / 2): void {
    const next = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.scale * factor));
    const f = next / this.scale;
    // keep the map point under (cx, cy) where it is
    this.tx = cx - this.ox() - (cx - this.ox() - this.tx) * f;
    this.ty = cy - this.oy() - (cy - this.oy() - this.ty) * f;
    this.scale = next;
    this.request();
  }

  panBy(dx: number, dy: number): void {
    this.tx += dx;
    this.ty += dy;
    this.request();
  }

  /** The point nearest the centre of the view (within 32 px), for the keyboard. */
  centrePoint(): number | null {
    return this.hit(this.width / 2, this.height / 2, 32);
  }

  // ── geometry: screen = o + t + p · base · scale ──

  private base(): number {
    return Math.max(10, Math.min(this.width, this.height) - 2 * PAD);
  }
  private ox(): number {
    return (this.width - this.base()) / 2;
  }
  private oy(): number {
    return (this.height - this.base()) / 2;
  }
  private sx(i: number): number {
    return this.ox() + this.tx + this.xs[i]! * this.base() * this.scale;
  }
  private sy(i: number): number {
    return this.oy() + this.ty + this.ys[i]! * this.base() * this.scale;
  }

  /** The nearest point within `radius` px of (x, y) on the canvas, or null. */
  private hit(x: number, y: number, radius = 10): number | null {
    return nearest(this.xs.length, (i) => this.sx(i), (i) => this.sy(i), x, y, radius);
  }

  private local(e: PointerEvent | WheelEvent): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  // ── input ──

  private down(e: PointerEvent): void {
    if (e.button !== 0) return;
    const [x, y] = this.local(e);
    this.events.hover(null, e.clientX, e.clientY);
    try {
      this.canvas.setPointerCapture(e.pointerId);
    } catch {
      // a synthetic pointer (scripted pans): nothing to capture
    }
    const mode: Tool = e.shiftKey && this.tool === 'pan' ? 'box' : this.tool;
    this.drag = { id: e.pointerId, x0: x, y0: y, x, y, moved: false, mode, path: [[x, y]] };
  }

  private move(e: PointerEvent): void {
    const [x, y] = this.local(e);
    const d = this.drag;
    if (!d || d.id !== e.pointerId) {
      const i = this.hit(x, y, this.thumbSize() > 0 ? this.thumbSize() / 2 : 10);
      this.events.hover(i, e.clientX, e.clientY);
      this.canvas.style.cursor = i === null ? '' : 'pointer';
      return;
    }
    if (Math.abs(x - d.x0) + Math.abs(y - d.y0) > 4) d.moved = true;
    if (d.mode === 'pan') this.panBy(x - d.x, y - d.y);
    else if (d.mode === 'lasso') {
      const [lx, ly] = d.path[d.path.length - 1]!;
      if (Math.abs(x - lx) + Math.abs(y - ly) >= 3) d.path.push([x, y]);
      this.request();
    } else this.request();
    d.x = x;
    d.y = y;
  }

  private up(e: PointerEvent): void {
    const d = this.drag;
    if (!d || d.id !== e.pointerId) return;
    this.drag = null;
    const [x, y] = this.local(e);
    if (!d.moved) {
      const i = this.hit(x, y, this.thumbSize() > 0 ? this.thumbSize() / 2 : 10);
      if (i !== null) {
        if (e.shiftKey) this.events.select([i], true);
        else this.events.open(i);
      }
      this.request();
      return;
    }
    if (d.mode === 'box') this.events.select(this.inBox(d.x0, d.y0, x, y), e.shiftKey);
    else if (d.mode === 'lasso') this.events.select(this.inPolygon([...d.path, [x, y]]), e.shiftKey);
    this.request();
  }

  private wheel(e: WheelEvent): void {
    e.preventDefault();
    const [x, y] = this.local(e);
    const delta = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY;
    this.zoomBy(Math.exp(-delta * 0.0015), x, y);
  }

  private key(e: KeyboardEvent): void {
    const step = (e.shiftKey ? 0.4 : 0.1) * Math.min(this.width, this.height);
    const act: Record<string, () => void> = {
      ArrowLeft: () => this.panBy(step, 0),
      ArrowRight: () => this.panBy(-step, 0),
      ArrowUp: () => this.panBy(0, step),
      ArrowDown: () => this.panBy(0, -step),
      '+': () => this.zoomBy(1.5),
      '=': () => this.zoomBy(1.5),
      '-': () => this.zoomBy(1 / 1.5),
      '0': () => this.fit(),
      Enter: () => {
        const i = this.centrePoint();
        if (i !== null) this.events.open(i);
      },
      ' ': () => {
        const i = this.centrePoint();
        if (i !== null) this.events.select([i], true);
      },
    };
    const fn = act[e.key];
    if (!fn) return;
    e.preventDefault();
    this.crosshair = true;
    fn();
  }

  /** Indices inside the screen rectangle. */
  private inBox(x0: number, y0: number, x1: number, y1: number): number[] {
    return inBox(this.xs.length, (i) => this.sx(i), (i) => this.sy(i), x0, y0, x1, y1);
  }

  /** Indices inside the screen polygon. */
  private inPolygon(poly: [number, number][]): number[] {
    return inPolygon(this.xs.length, (i) => this.sx(i), (i) => this.sy(i), poly);
  }

  // ── drawing ──

  private resize(): void {
    const r = this.canvas.getBoundingClientRect();
    this.dpr = window.devicePixelRatio || 1;
    this.width = Math.max(1, r.width);
    this.height = Math.max(1, r.height);
    this.canvas.width = Math.round(this.width * this.dpr);
    this.canvas.height = Math.round(this.height * this.dpr);
    this.request();
  }

  /** Draw on the next animation frame. */
  request(): void {
    if (this.dirty) return;
    this.dirty = true;
    requestAnimationFrame(() => {
      this.dirty = false;
      const t0 = performance.now();
      this.draw();
      this.frames++;
      this.canvas.dataset.frames = String(this.frames);
      this.canvas.dataset.drawMs = (performance.now() - t0).toFixed(2);
    });
  }

  /** Points in view now (screen box with a margin). */
  private visible(margin: number): number[] {
    return inBox(this.xs.length, (i) => this.sx(i), (i) => this.sy(i), -margin, -margin, this.width + margin, this.height + margin);
  }

  /** Side of a thumbnail when thumbnails are drawn, else 0. */
  private thumbSize(): number {
    const n = this.visible(0).length;
    if (n === 0 || n > MAX_THUMBS) return 0;
    return Math.round(Math.min(96, Math.max(24, Math.sqrt((this.width * this.height) / n) * 0.7)));
  }

  private draw(): void {
    const ctx = this.ctx;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = '#fbfbfc';
    ctx.fillRect(0, 0, this.width, this.height);
    const k = this.base() * this.scale;
    const ox = this.ox() + this.tx;
    const oy = this.oy() + this.ty;
    const r = Math.min(4, Math.max(1.5, 1.4 * Math.sqrt(this.scale)));
    const w = this.width + r;
    const h = this.height + r;
    const dim = this.selectedCount > 0;
    // dots, one path per colour
    ctx.globalAlpha = dim ? 0.28 : 0.85;
    for (let c = 0; c < this.byColour.length; c++) {
      const list = this.byColour[c]!;
      if (list.length === 0) continue;
      ctx.fillStyle = this.palette[c]!;
      ctx.beginPath();
      for (const i of list) {
        const x = ox + this.xs[i]! * k;
        const y = oy + this.ys[i]! * k;
        if (x < -r || y < -r || x > w || y > h) continue;
        ctx.rect(x - r, y - r, 2 * r, 2 * r);
      }
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    if (dim) {
      // selected points at full strength (outlined while there are few enough to tell apart)
      const outline = this.selectedCount <= 500;
      ctx.strokeStyle = '#111';
      ctx.lineWidth = 1;
      for (let i = 0; i < this.xs.length; i++) {
        if (this.selected[i] === 0) continue;
        const x = ox + this.xs[i]! * k;
        const y = oy + this.ys[i]! * k;
        if (x < -r || y < -r || x > w || y > h) continue;
        ctx.fillStyle = this.palette[this.colourOf[i]!] ?? '#888';
        ctx.fillRect(x - r - 1, y - r - 1, 2 * r + 2, 2 * r + 2);
        if (outline) ctx.strokeRect(x - r - 1.5, y - r - 1.5, 2 * r + 3, 2 * r + 3);
      }
    }
    this.drawThumbs(ox, oy, k);
    this.drawOverlay();
  }

  private drawThumbs(ox: number, oy: number, k: number): void {
    const size = this.thumbSize();
    if (size === 0) {
      this.events.wantThumbs([]);
      return;
    }
    const ctx = this.ctx;
    const inView = this.visible(size / 2);
    const cx = this.width / 2;
    const cy = this.height / 2;
    const dist = (i: number) => (ox + this.xs[i]! * k - cx) ** 2 + (oy + this.ys[i]! * k - cy) ** 2;
    this.events.wantThumbs([...inView].sort((a, b) => dist(a) - dist(b)));
    const half = size / 2;
    for (const i of inView) {
      const img = this.events.thumb(i);
      const x = ox + this.xs[i]! * k;
      const y = oy + this.ys[i]! * k;
      if (!img) continue; // still loading: its dot stands in
      const sel = this.selected[i] === 1;
      ctx.fillStyle = sel ? '#111' : (this.palette[this.colourOf[i]!] ?? '#888');
      ctx.globalAlpha = this.selectedCount > 0 && !sel ? 0.35 : 1;
      const b = sel ? 3 : 2;
      ctx.fillRect(x - half - b, y - half - b, size + 2 * b, size + 2 * b);
      ctx.drawImage(img, x - half, y - half, size, size);
    }
    ctx.globalAlpha = 1;
  }

  private drawOverlay(): void {
    const d = this.drag;
    if (d && d.moved && d.mode !== 'pan') drawSelecting(this.ctx, d.mode, d.x0, d.y0, d.x, d.y, d.path);
    if (this.crosshair) drawRing(this.ctx, this.width / 2, this.height / 2);
  }
}

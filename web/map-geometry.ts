// The map's screen geometry: which points a box or a lasso encloses, and how a selection being drawn and the keyboard's
// centre ring look.

/** Indices of the `n` points (screen positions `sx`, `sy`) inside the rectangle spanned by two corners. */
export function inBox(n: number, sx: (i: number) => number, sy: (i: number) => number, x0: number, y0: number, x1: number, y1: number): number[] {
  const [ax, bx] = [Math.min(x0, x1), Math.max(x0, x1)];
  const [ay, by] = [Math.min(y0, y1), Math.max(y0, y1)];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = sx(i);
    const y = sy(i);
    if (x >= ax && x <= bx && y >= ay && y <= by) out.push(i);
  }
  return out;
}

/** Indices of the `n` points inside the polygon (even–odd rule), its bounding box checked first. */
export function inPolygon(n: number, sx: (i: number) => number, sy: (i: number) => number, poly: readonly [number, number][]): number[] {
  const out: number[] = [];
  if (poly.length < 3) return out;
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const [x, y] of poly) {
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  for (let i = 0; i < n; i++) {
    const x = sx(i);
    const y = sy(i);
    if (x < minX || x > maxX || y < minY || y > maxY) continue;
    let inside = false;
    for (let a = 0, b = poly.length - 1; a < poly.length; b = a++) {
      const [xa, ya] = poly[a]!;
      const [xb, yb] = poly[b]!;
      if (ya > y !== yb > y && x < ((xb - xa) * (y - ya)) / (yb - ya) + xa) inside = !inside;
    }
    if (inside) out.push(i);
  }
  return out;
}

/** The point nearest (x, y) within `radius` px, or null (the first of equals). */
export function nearest(n: number, sx: (i: number) => number, sy: (i: number) => number, x: number, y: number, radius: number): number | null {
  let best: number | null = null;
  let bestD = radius * radius;
  for (let i = 0; i < n; i++) {
    const d = (sx(i) - x) ** 2 + (sy(i) - y) ** 2;
    if (d < bestD || (best === null && d === bestD)) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

/** The box or lasso being drawn (dashed outline, a light fill). */
export function drawSelecting(ctx: CanvasRenderingContext2D, mode: 'box' | 'lasso', x0: number, y0: number, x: number, y: number, path: readonly [number, number][]): void {
  ctx.strokeStyle = '#1a56db';
  ctx.fillStyle = 'rgba(26, 86, 219, 0.08)';
  ctx.lineWidth = 1.5;
  ctx.setLineDash([5, 4]);
  ctx.beginPath();
  if (mode === 'box') ctx.rect(Math.min(x0, x), Math.min(y0, y), Math.abs(x - x0), Math.abs(y - y0));
  else {
    path.forEach(([px, py], j) => (j === 0 ? ctx.moveTo(px, py) : ctx.lineTo(px, py)));
    ctx.lineTo(x, y);
    ctx.closePath();
  }
  ctx.fill();
  ctx.stroke();
  ctx.setLineDash([]);
}

/** The keyboard's ring at the centre of the view (Enter opens, Space selects the image under it). */
export function drawRing(ctx: CanvasRenderingContext2D, cx: number, cy: number): void {
  ctx.strokeStyle = '#1a56db';
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.arc(cx, cy, 16, 0, 2 * Math.PI);
  for (const [dx, dy] of [[-1, 0], [1, 0], [0, -1], [0, 1]] as const) {
    ctx.moveTo(cx + dx * 24, cy + dy * 24);
    ctx.lineTo(cx + dx * 8, cy + dy * 8);
  }
  ctx.stroke();
}

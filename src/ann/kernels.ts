/**
 * Scoring kernels over contiguous row-major float32 matrices. Plain typed-array loops with four independent
 * accumulators (lets V8 keep the loads pipelined); see bench/ for measurements.
 */

/** Dot product of `q` with row `row` of `data` (row length = q.length). */
export function dotRow(q: Float32Array, data: Float32Array, row: number): number {
  const d = q.length;
  let o = row * d;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < d; i += 4, o += 4) {
    s0 += q[i]! * data[o]!;
    s1 += q[i + 1]! * data[o + 1]!;
    s2 += q[i + 2]! * data[o + 2]!;
    s3 += q[i + 3]! * data[o + 3]!;
  }
  for (; i < d; i++, o++) s0 += q[i]! * data[o]!;
  return s0 + s1 + s2 + s3;
}

/**
 * Keeps the k largest (score, index) pairs seen: a binary min-heap on parallel typed arrays, so pushing a score
 * below the current k-th best costs one comparison.
 */
export class TopK {
  private readonly scores: Float64Array;
  private readonly ids: Float64Array;
  private n = 0;
  constructor(readonly k: number) {
    this.scores = new Float64Array(Math.max(1, k));
    this.ids = new Float64Array(Math.max(1, k));
  }

  /** The score a candidate must beat to enter (−Infinity until k items are held). */
  get threshold(): number {
    return this.n < this.k ? -Infinity : this.scores[0]!;
  }

  push(score: number, id: number): void {
    if (this.k === 0) return;
    if (this.n < this.k) {
      let i = this.n++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (this.scores[p]! <= score) break;
        this.scores[i] = this.scores[p]!;
        this.ids[i] = this.ids[p]!;
        i = p;
      }
      this.scores[i] = score;
      this.ids[i] = id;
      return;
    }
    if (score <= this.scores[0]!) return;
    // replace the root and sift down
    let i = 0;
    const n = this.n;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.scores[r]! < this.scores[l]! ? r : l;
      if (this.scores[c]! >= score) break;
      this.scores[i] = this.scores[c]!;
      this.ids[i] = this.ids[c]!;
      i = c;
    }
    this.scores[i] = score;
    this.ids[i] = id;
  }

  /** Best first; ties broken by smaller id so results are deterministic. */
  sorted(): { id: number; score: number }[] {
    const out: { id: number; score: number }[] = [];
    for (let i = 0; i < this.n; i++) out.push({ id: this.ids[i]!, score: this.scores[i]! });
    return out.sort((a, b) => b.score - a.score || a.id - b.id);
  }
}

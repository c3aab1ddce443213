/** Top-k selection shared by the indexes (the scoring kernels themselves are WebAssembly: wasm/kernels.wat). */

/**
 * Keeps the k best (score, id) pairs seen — higher score first, and among equal scores the smaller id, so results
 * never depend on the order items were pushed — as a binary heap on parallel typed arrays with the worst pair at
 * the root: a candidate below the current k-th best costs one comparison.
 */
export class TopK {
  private readonly scores: Float64Array;
  private readonly ids: Float64Array;
  private n = 0;
  constructor(readonly k: number) {
    this.scores = new Float64Array(Math.max(1, k));
    this.ids = new Float64Array(Math.max(1, k));
  }

  /** The score a candidate must reach to be considered (−Infinity until k items are held); ties are decided by id. */
  get threshold(): number {
    return this.n < this.k ? -Infinity : this.scores[0]!;
  }

  /** Whether (s1, id1) ranks below (s2, id2). */
  private static worse(s1: number, id1: number, s2: number, id2: number): boolean {
    return s1 < s2 || (s1 === s2 && id1 > id2);
  }

  push(score: number, id: number): void {
    if (this.k === 0) return;
    if (this.n < this.k) {
      let i = this.n++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!TopK.worse(score, id, this.scores[p]!, this.ids[p]!)) break;
        this.scores[i] = this.scores[p]!;
        this.ids[i] = this.ids[p]!;
        i = p;
      }
      this.scores[i] = score;
      this.ids[i] = id;
      return;
    }
    if (!TopK.worse(this.scores[0]!, this.ids[0]!, score, id)) return;
    // replace the root and sift down
    let i = 0;
    const n = this.n;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && TopK.worse(this.scores[r]!, this.ids[r]!, this.scores[l]!, this.ids[l]!) ? r : l;
      if (!TopK.worse(this.scores[c]!, this.ids[c]!, score, id)) break;
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

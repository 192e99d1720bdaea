/**
 * Scored matches best first: a max-heap over their indices, built in linear time, so taking the few
 * a pool needs does not sort them all. Ties go to the higher seq (the newer memory), as the ranking
 * does.
 */
export class BestFirst {
  private readonly heap: Int32Array;
  private readonly scores: Float64Array;
  /** A match's seq, read only to break a tie. */
  private readonly seqOf: (i: number) => number;
  size: number;
  constructor(scores: Float64Array, seqOf: (i: number) => number) {
    this.scores = scores;
    this.seqOf = seqOf;
    this.size = scores.length;
    this.heap = new Int32Array(this.size);
    for (let i = 0; i < this.size; i++) this.heap[i] = i;
    for (let i = (this.size >> 1) - 1; i >= 0; i--) this.down(i);
  }
  private above(a: number, b: number): boolean {
    const sa = this.scores[a] ?? 0;
    const sb = this.scores[b] ?? 0;
    return sa > sb || (sa === sb && this.seqOf(a) > this.seqOf(b));
  }
  private down(from: number): void {
    const h = this.heap;
    for (let i = from; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.size && this.above(h[l] ?? 0, h[m] ?? 0)) m = l;
      if (r < this.size && this.above(h[r] ?? 0, h[m] ?? 0)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m] ?? 0, h[i] ?? 0];
      i = m;
    }
  }
  /** The best score left (undefined behaviour when empty: check `size`). */
  topScore(): number {
    return this.scores[this.heap[0] ?? 0] ?? 0;
  }
  /** Removes the best match and returns its index. */
  pop(): number {
    const top = this.heap[0] ?? 0;
    this.size--;
    this.heap[0] = this.heap[this.size] ?? 0;
    this.down(0);
    return top;
  }
}

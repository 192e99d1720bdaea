/**
 * Scored matches best first, so taking the few a pool needs does not sort them all. Ties go to the
 * higher seq (the newer memory), as the ranking does.
 *
 * A caller that expects to take about `expect` of them gets a max-heap over only the matches scoring
 * at least the `expect`-th best score (found in one pass over the scores); the rest are heaped when
 * those run out, so the order is exactly that of one heap over all of them. Heaps are built in
 * linear time.
 */
export class BestFirst {
  private heap: Int32Array;
  private readonly scores: Float64Array;
  /** A match's seq, read only to break a tie. */
  private readonly seqOf: (i: number) => number;
  /** The first heap's floor: the matches below it are heaped when it runs out (null: none left). */
  private floor: number | null = null;
  /** Matches left in the heap (`heap[0 .. inHeap)`). */
  private inHeap: number;
  /** Matches left in all. */
  size: number;
  constructor(scores: Float64Array, seqOf: (i: number) => number, expect = Number.POSITIVE_INFINITY) {
    this.scores = scores;
    this.seqOf = seqOf;
    this.size = scores.length;
    this.floor = expect < scores.length / 4 ? kthBest(scores, Math.max(1, Math.ceil(expect))) : null;
    this.heap = this.gather((s) => this.floor === null || s >= this.floor);
    this.inHeap = this.heap.length;
    this.heapify();
  }
  /** The indices of the matches whose score passes `keep`. */
  private gather(keep: (score: number) => boolean): Int32Array {
    const { scores } = this;
    let n = 0;
    for (let i = 0; i < scores.length; i++) if (keep(scores[i] ?? 0)) n++;
    const out = new Int32Array(n);
    for (let i = 0, j = 0; i < scores.length; i++) if (keep(scores[i] ?? 0)) out[j++] = i;
    return out;
  }
  private heapify(): void {
    for (let i = (this.inHeap >> 1) - 1; i >= 0; i--) this.down(i);
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
      if (l < this.inHeap && this.above(h[l] ?? 0, h[m] ?? 0)) m = l;
      if (r < this.inHeap && this.above(h[r] ?? 0, h[m] ?? 0)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m] ?? 0, h[i] ?? 0];
      i = m;
    }
  }
  /** Heaps the matches below the first heap's floor once it is empty. */
  private refill(): void {
    const { floor } = this;
    if (this.inHeap > 0 || floor === null) return;
    this.floor = null;
    this.heap = this.gather((s) => s < floor);
    this.inHeap = this.heap.length;
    this.heapify();
  }
  /** The best score left (undefined behaviour when empty: check `size`). */
  topScore(): number {
    this.refill();
    return this.scores[this.heap[0] ?? 0] ?? 0;
  }
  /** Removes the best match and returns its index. */
  pop(): number {
    this.refill();
    const top = this.heap[0] ?? 0;
    this.size--;
    this.inHeap--;
    this.heap[0] = this.heap[this.inHeap] ?? 0;
    this.down(0);
    return top;
  }
}

/**
 * The `k`-th best of `scores` (1 ≤ k ≤ length): one pass keeping the best `k` so far in a small
 * min-heap, where most scores cost one comparison with its root.
 */
function kthBest(scores: Float64Array, k: number): number {
  const h = new Float64Array(k);
  let n = 0;
  const down = (from: number) => {
    for (let i = from; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && (h[l] ?? 0) < (h[m] ?? 0)) m = l;
      if (r < n && (h[r] ?? 0) < (h[m] ?? 0)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m] ?? 0, h[i] ?? 0];
      i = m;
    }
  };
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] ?? 0;
    if (n < k) {
      // Sift up.
      let j = n++;
      h[j] = s;
      while (j > 0) {
        const p = (j - 1) >> 1;
        if ((h[p] ?? 0) <= (h[j] ?? 0)) break;
        [h[p], h[j]] = [h[j] ?? 0, h[p] ?? 0];
        j = p;
      }
    } else if (s > (h[0] ?? 0)) {
      h[0] = s;
      down(0);
    }
  }
  return h[0] ?? 0;
}

import type { Clock } from "../../lib/clock.ts";

/** Most outcomes remembered per key; older ones fall out of the window anyway at normal rates. */
const MAX_SAMPLES = 10_000;

export type ErrorThresholds = { rate: number; minRequests: number; windowMs: number };

/**
 * Error rate per agent key over a sliding window of time. `record` answers `trip` once the share
 * of failed requests in the window exceeds `rate` over at least `minRequests` requests; the caller
 * pauses the key. Time comes from the injected clock.
 */
export function createErrorRateTracker(clock: Clock) {
  const windows = new Map<string, { at: number[]; errors: boolean[] }>();
  return {
    record(
      key: string,
      isError: boolean,
      t: ErrorThresholds,
    ): { trip: boolean; requests: number; errors: number } {
      const now = clock.now();
      let w = windows.get(key);
      if (!w) {
        w = { at: [], errors: [] };
        windows.set(key, w);
      }
      w.at.push(now);
      w.errors.push(isError);
      let drop = 0;
      while (
        drop < w.at.length &&
        ((w.at[drop] ?? now) <= now - t.windowMs || w.at.length - drop > MAX_SAMPLES)
      )
        drop++;
      if (drop > 0) {
        w.at.splice(0, drop);
        w.errors.splice(0, drop);
      }
      const requests = w.at.length;
      const errors = w.errors.reduce((n, e) => n + (e ? 1 : 0), 0);
      return { trip: requests >= t.minRequests && errors / requests > t.rate, requests, errors };
    },
    /** Forgets a key's history (after a person resumes it, it starts clean). */
    reset(key: string) {
      windows.delete(key);
    },
  };
}

/**
 * Running average of recall answer sizes per key. An answer more than `factor` times the average of
 * the answers before it is anomalous, once the key has `minSamples` answers behind it. Every answer,
 * anomalous or not, then joins the average.
 */
export function createRecallVolumeTracker() {
  const stats = new Map<string, { n: number; mean: number }>();
  return {
    record(key: string, size: number, factor: number, minSamples: number) {
      const s = stats.get(key) ?? { n: 0, mean: 0 };
      const average = s.mean;
      const anomalous = s.n >= minSamples && average > 0 && size > factor * average;
      s.n += 1;
      s.mean += (size - s.mean) / s.n;
      stats.set(key, s);
      return { anomalous, average: Math.round(average), samples: s.n - 1 };
    },
  };
}

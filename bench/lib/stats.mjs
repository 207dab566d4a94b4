// Percentiles of latency samples (ms), for the load generators that are not autocannon.

/** The p-th percentile (0–100) of `samples`, nearest rank; null for no samples. */
export function percentile(samples, p) {
  if (samples.length === 0) return null;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

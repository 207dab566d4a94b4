/**
 * Holds every call to `target[method]` until `parties` calls have arrived, then lets them all
 * proceed at once: parallel requests are made to overlap at exactly that point, instead of
 * overlapping only when the scheduler happens to interleave them. If fewer arrive within
 * `timeoutMs`, the held calls go on anyway (and the test's own assertions tell).
 */
export function holdUntilAll<T extends object, K extends keyof T>(
  target: T,
  method: K,
  parties: number,
  timeoutMs = 10_000,
): { arrivals(): number; restore(): void } {
  const original = target[method] as unknown as (...args: unknown[]) => unknown;
  let arrived = 0;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const timer = setTimeout(release, timeoutMs);
  (target as Record<K, unknown>)[method] = async function held(this: unknown, ...args: unknown[]) {
    arrived += 1;
    if (arrived >= parties) {
      clearTimeout(timer);
      release();
    }
    await gate;
    return original.apply(this, args);
  };
  return {
    arrivals: () => arrived,
    restore: () => {
      clearTimeout(timer);
      (target as Record<K, unknown>)[method] = original as T[K];
    },
  };
}

// Self time per function from a V8 .cpuprofile (what `node --cpu-prof` writes): each sample names
// the node (function) on top of the stack; the time until the next sample is billed to it.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const where = (url, lineNumber) => {
  if (!url) return '';
  const path = url.startsWith('file://') ? relative(process.cwd(), fileURLToPath(url)) : url;
  return `${path}:${lineNumber + 1}`; // V8 counts lines from 0
};

/** The `limit` functions with the most self time: [{ name, location, ms, share }], and the total. */
export function topSelfTime(file, limit = 15) {
  const { nodes, samples, timeDeltas } = JSON.parse(readFileSync(file, 'utf8'));
  const keyOf = new Map(
    nodes.map(({ id, callFrame: { functionName, url, lineNumber } }) => [
      id,
      JSON.stringify([functionName || '(anonymous)', where(url, lineNumber)]),
    ]),
  );
  const micros = new Map();
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    const delta = timeDeltas[i + 1] ?? 0; // the interval that follows sample i
    const key = keyOf.get(samples[i]);
    micros.set(key, (micros.get(key) ?? 0) + delta);
    total += delta;
  }
  const top = [...micros]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([key, us]) => {
      const [name, location] = JSON.parse(key);
      return { name, location, ms: us / 1000, share: total ? us / total : 0 };
    });
  return { totalMs: total / 1000, top };
}

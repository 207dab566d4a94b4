// Load generator of one HTTP scenario: autocannon in a process of its own (never the target's,
// never the orchestrator's). Options as JSON in argv[2]; the result goes back over IPC.
import autocannon from 'autocannon';

const { url, method, headers, body, uniqueField, connections, durationSeconds, warmupSeconds } = JSON.parse(process.argv[2]);

// `uniqueField`: that field of the JSON body gets a value of its own in every request (a name
// that must not exist yet, say).
let sent = 0;
const requests = uniqueField
  ? [
      {
        setupRequest: (request) => ({
          ...request,
          body: JSON.stringify({ ...JSON.parse(body), [uniqueField]: `bench-${process.pid}-${sent++}` }),
        }),
      },
    ]
  : undefined;

const run = (duration) => autocannon({ url, method, headers, body, requests, connections, duration });

// A short unmeasured run first, so JIT warm-up and first-use costs (pool connections, prepared
// statements, caches) are not billed to the measured seconds. Its failures still count.
const warmup = warmupSeconds > 0 ? await run(warmupSeconds) : null;
process.send({ type: 'measuring' }); // the orchestrator starts counting the server's CPU time
const measured = await run(durationSeconds);

process.send(
  {
    type: 'result',
    result: {
      requests: measured.requests.total,
      durationSeconds: measured.duration,
      rate: measured.requests.total / measured.duration,
      p50: measured.latency.p50,
      p99: measured.latency.p99,
      // autocannon counts timeouts among errors.
      errors: measured.errors + (warmup?.errors ?? 0),
      non2xx: measured.non2xx + (warmup?.non2xx ?? 0),
      statusCodes: Object.fromEntries(Object.entries(measured.statusCodeStats).map(([status, { count }]) => [status, count])),
    },
  },
  () => process.exit(0),
);

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status, HealthCheckResponseSchema } from "../../gen/grpc/health/v1/health_pb.js";
import { systemClock, type Clock } from "../hub/clock.js";
import type { Readiness } from "./readiness.js";

/** How often a Watch stream looks again at readiness (it answers at once on shutdown). */
const WATCH_POLL_MS = 1_000;

/**
 * grpc.health.v1 over the generated contract: "" and every served service are SERVING while the
 * replica is ready (database answers, lease held, not shutting down), NOT_SERVING otherwise.
 */
export function createHealthService(services: string[], readiness: Readiness, shuttingDown: AbortSignal, clock: Clock = systemClock): ServiceImpl<typeof Health> {
  const known = new Set(["", ...services]);
  const statusNow = async () => ((await readiness.check()).ready ? Status.SERVING : Status.NOT_SERVING);
  const requireKnown = (service: string) => {
    if (!known.has(service)) throw new ConnectError(`unknown service ${service}`, Code.NotFound);
  };
  const answer = (status: Status) => create(HealthCheckResponseSchema, { status });
  return {
    async check(req) {
      requireKnown(req.service);
      return answer(await statusNow());
    },
    async list() {
      const status = await statusNow();
      return { statuses: Object.fromEntries([...known].map((s) => [s, answer(status)])) };
    },
    async *watch(req, ctx) {
      requireKnown(req.service);
      let last = await statusNow();
      yield answer(last);
      while (!ctx.signal.aborted && !shuttingDown.aborted) {
        await new Promise<void>((resolve) => {
          const cancel = clock.after(WATCH_POLL_MS, done);
          function done() {
            cancel();
            shuttingDown.removeEventListener("abort", done);
            ctx.signal.removeEventListener("abort", done);
            resolve();
          }
          shuttingDown.addEventListener("abort", done, { once: true });
          ctx.signal.addEventListener("abort", done, { once: true });
        });
        if (ctx.signal.aborted) return;
        const now = await statusNow();
        if (now !== last) yield answer((last = now));
      }
    },
  };
}

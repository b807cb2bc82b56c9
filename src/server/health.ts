import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status, HealthCheckResponseSchema } from "../../gen/grpc/health/v1/health_pb.js";

/** grpc.health.v1 over the generated contract: "" and every served service are SERVING until shutdown. */
export function createHealthService(services: string[], shuttingDown: AbortSignal): ServiceImpl<typeof Health> {
  const known = new Set(["", ...services]);
  const status = (service: string) => {
    if (!known.has(service)) throw new ConnectError(`unknown service ${service}`, Code.NotFound);
    return create(HealthCheckResponseSchema, { status: shuttingDown.aborted ? Status.NOT_SERVING : Status.SERVING });
  };
  return {
    check: (req) => status(req.service),
    list: () => ({ statuses: Object.fromEntries([...known].map((s) => [s, status(s)])) }),
    async *watch(req, ctx) {
      yield status(req.service);
      if (shuttingDown.aborted) return;
      await new Promise<void>((resolve) => {
        shuttingDown.addEventListener("abort", () => resolve(), { once: true });
        ctx.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      if (!ctx.signal.aborted) yield status(req.service);
    },
  };
}

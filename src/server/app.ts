import { setMaxListeners } from "node:events";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { HubConfig } from "../config/config.js";
import { createLogger, type Logger } from "../log/logger.js";
import { openDatabase, type Database } from "../store/database.js";
import { createRestTranscoder } from "../rest/transcoder.js";
import { createAccountsService } from "../accounts/accounts-service.js";
import { createHub } from "../hub/hub.js";
import type { Clock } from "../hub/clock.js";
import { createAutoscan, type Autoscan } from "../clouddriver/autoscan.js";
import { createCredentialsService } from "../clouddriver/credentials-service.js";
import { ClouddriverCredentialsService } from "../../gen/agenthub/v1/clouddriver_pb.js";
import { AccountsService } from "../../gen/agenthub/v1/accounts_pb.js";
import { OperationService } from "../../gen/agenthub/v1/operations_pb.js";
import { createHealthService } from "./health.js";
import { wireBacklogKey } from "../hub/wire-backlog.js";
import type { NodeRequest } from "../rest/node-http.js";
import { listenH2c, listenPolyglot, type Listener } from "./listener.js";
import { createHubMetrics } from "./metrics.js";
import { withOpsRoutes } from "./ops-routes.js";
import { createReadiness } from "./readiness.js";
import { createAuth } from "../auth/auth.js";
import { createAuditRetention } from "../accounts/audit-retention.js";
import { isLoopbackHost } from "../config/config.js";
import { loadTlsFiles } from "./tls-files.js";
import { createZoneLookup } from "./zone-lookup.js";
import { agentPortRoutes, hubRoutes, servedServices } from "./routes.js";
import { withStatusPage } from "./status-page.js";
import { createFanOutSignal } from "./fan-out-signal.js";

/** A running hub process. */
export interface HubApp {
  hubId: string;
  /** The port serving everything (gRPC, Connect, gRPC-Web, REST). */
  port: number;
  /** The h2c-only agent port, when `grpc.agentPort` is set. */
  agentPort: number | undefined;
  database: Database;
  logger: Logger;
  /** Clouddriver autoscan when `autoscan.enabled` (tests call its `scanOnce`). */
  autoscan: Autoscan | undefined;
  /** Graceful shutdown: stop accepting, end agent streams, drain, close the database. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** An open database (tests pass one with its own schema); otherwise opened from the config. */
  database?: Database;
  /**
   * Drives the hub's schedule (heartbeat checks, HTTP/2 PINGs, deadlines, retries, sweeps, lease
   * renewal); the system clock unless a test passes a manual one.
   */
  clock?: Clock;
}

/** Builds and starts a hub from its configuration. */
export async function startApp(config: HubConfig, options: StartOptions = {}): Promise<HubApp> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const hubId = config.hubId !== "" ? config.hubId : `${hostname()}-${randomBytes(3).toString("hex")}`;
  const database =
    options.database ??
    (await openDatabase({
      url: config.databaseUrl,
      dataDir: config.dataDir,
      clouddriverSchema: config.clouddriver.schema,
      ...(config.database.schema === "" ? {} : { schema: config.database.schema }),
      // A replica cut off mid-transaction must not keep its row locks past its lease (section 11).
      idleInTransactionTimeoutMs: Math.max(500, Math.floor(config.hub.leaseTtlMs / 2)),
    }));
  const shutdown = new AbortController();
  // Health Watch streams listen for shutdown, one listener each (requests listen to the fan-out below).
  setMaxListeners(0, shutdown.signal);

  // Design section 14: one authorizer for every listener and for REST; TLS files re-read on change.
  const auth = createAuth(config, { database, zones: createZoneLookup(database, config.clouddriver.schema), logger });
  const tls = config.tls.certFile === "" ? undefined : loadTlsFiles(config.tls, logger);
  if (!config.auth.enabled && !isLoopbackHost(config.host)) {
    logger.warn({ host: config.host }, "auth is disabled (auth.allowUnauthenticated): anyone who can reach this port can change accounts and impersonate agents");
  }
  if (config.auth.enabled && tls === undefined) logger.warn("auth is enabled without TLS (tls.certFile): bearer tokens travel in plaintext");
  const retention = createAuditRetention({ database, retentionMs: config.audit.retentionMs, logger });

  // `hub` is read at scrape time only, after it exists.
  const metrics = config.metrics.enabled ? createHubMetrics({ database, logger, agentsConnected: () => hub.agentsConnected() }) : undefined;
  const hub = createHub({
    database,
    config,
    logger,
    hubId,
    shutdown: shutdown.signal,
    authorizeHello: auth.authorizeHello,
    clock: options.clock,
    ...(metrics === undefined ? {} : { observer: metrics.observer }),
  });
  const reconciler = metrics?.watchReconciler(hub) ?? hub;
  const operationService = metrics?.watchOperations(hub.operationService) ?? hub.operationService;
  const accounts = createAccountsService({ database, config, reconciler, logger });
  const clouddriverContext = { database, clouddriverSchema: config.clouddriver.schema, reconciler, logger };
  // Off by default: the routes then do not exist at all (REST answers 404).
  const credentials = config.interceptor.enabled ? createCredentialsService(clouddriverContext) : undefined;
  const autoscan = config.autoscan.enabled ? createAutoscan({ ...clouddriverContext, settings: config.autoscan }) : undefined;
  const served = servedServices(credentials !== undefined);
  const readiness = createReadiness({ database, leaseHeld: () => hub.leaseHeld(), shutdown: shutdown.signal });
  const health = createHealthService(
    served.map((s) => s.typeName),
    readiness,
    shutdown.signal,
    options.clock,
  );
  const routes = hubRoutes({ accounts, agent: hub.agentService, operations: operationService, health, credentials });
  const rest = createRestTranscoder({
    services: [
      { service: AccountsService, impl: accounts },
      { service: OperationService, impl: operationService },
      ...(credentials === undefined ? [] : [{ service: ClouddriverCredentialsService, impl: credentials }]),
    ],
    maxBodyBytes: config.http.maxBodyBytes,
    bodyTimeoutMs: config.limits.requestTimeoutMs,
    logger,
    interceptors: auth.interceptors,
    contextValues: auth.contextValues,
  });
  // Every Connect/gRPC message either way, compressed ones after decompression (design section 15).
  const messageLimits = { readMaxBytes: config.limits.maxMessageBytes, writeMaxBytes: config.limits.maxMessageBytes };
  // What a stream wrote that has not left yet (in the stream, or in its connection's socket,
  // which Node's HTTP/2 session writes to without waiting): agent sessions bound it with their outbox.
  const wireBacklog = (req: NodeRequest) => () => ("stream" in req ? req.stream.bufferSize + (req.stream.session?.socket.writableLength ?? 0) : req.socket.writableLength);
  const adapterOptions = {
    interceptors: auth.interceptors,
    contextValues: (req: NodeRequest) => auth.contextValues(req).set(wireBacklogKey, wireBacklog(req)),
    // Every request's context links to it: a signal whose listeners cost O(1) (fan-out-signal.ts).
    shutdownSignal: createFanOutSignal(shutdown.signal),
    ...messageLimits,
  };
  // Probes and scrapers are answered before Connect and the REST transcoder (and their authorization).
  const handler = withOpsRoutes({ readiness, metrics, logger }, connectNodeAdapter({ routes, fallback: withStatusPage(rest.handle), ...adapterOptions }));

  await hub.start();
  autoscan?.start();
  retention.start();
  const pingIntervalMs = config.heartbeat.intervalMs;
  const clock = options.clock;
  const limits = config.limits;
  const listeners: Listener[] = [await listenPolyglot({ port: config.port, host: config.host, pingIntervalMs, clock, limits, ...(tls === undefined ? {} : { tls }) }, handler)];
  if (config.grpc.agentPort !== undefined) {
    listeners.push(
      await listenH2c(
        { port: config.grpc.agentPort, host: config.host, pingIntervalMs, clock, limits, ...(tls === undefined ? {} : { tls }) },
        connectNodeAdapter({ routes: agentPortRoutes({ agent: hub.agentService, health }), ...adapterOptions }),
      ),
    );
  }
  const [main, agent] = listeners;
  logger.info({ hubId, port: main!.port, agentPort: agent?.port, database: database.kind, tls: tls !== undefined, auth: config.auth.enabled }, "agent-hub listening");

  let closing: Promise<void> | undefined;
  return {
    hubId,
    port: main!.port,
    agentPort: agent?.port,
    database,
    logger,
    autoscan,
    close() {
      closing ??= (async () => {
        logger.info({ hubId }, "agent-hub shutting down");
        shutdown.abort();
        await Promise.all(listeners.map((l) => l.close(5_000)));
        await autoscan?.stop();
        retention.stop();
        auth.close();
        tls?.close();
        await hub.close();
        if (options.database === undefined) await database.close();
      })();
      return closing;
    },
  };
}

import { setMaxListeners } from "node:events";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { HubConfig } from "../config/config.js";
import { createLogger, type Logger } from "../log/logger.js";
import { openDatabase, type Database } from "../store/database.js";
import { createRestTranscoder } from "../rest/transcoder.js";
import { createAccountsService } from "../accounts/accounts-service.js";
import { createHub } from "../hub/hub.js";
import { createAutoscan, type Autoscan } from "../clouddriver/autoscan.js";
import { createCredentialsService } from "../clouddriver/credentials-service.js";
import { ClouddriverCredentialsService } from "../../gen/agenthub/v1/clouddriver_pb.js";
import { AccountsService } from "../../gen/agenthub/v1/accounts_pb.js";
import { AgentService } from "../../gen/agenthub/v1/agent_pb.js";
import { OperationService } from "../../gen/agenthub/v1/operations_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { createHealthService } from "./health.js";
import { listenH2c, listenPolyglot, type Listener } from "./listener.js";

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
  // Every live stream listens for shutdown: thousands of listeners are expected, not a leak.
  setMaxListeners(0, shutdown.signal);

  const hub = createHub({ database, config, logger, hubId, shutdown: shutdown.signal });
  const accounts = createAccountsService({ database, config, reconciler: hub, logger });
  const clouddriverContext = { database, clouddriverSchema: config.clouddriver.schema, reconciler: hub, logger };
  // Off by default: the routes then do not exist at all (REST answers 404).
  const credentials = config.interceptor.enabled ? createCredentialsService(clouddriverContext) : undefined;
  const autoscan = config.autoscan.enabled ? createAutoscan({ ...clouddriverContext, settings: config.autoscan }) : undefined;
  const served = [AccountsService, AgentService, OperationService, ...(credentials === undefined ? [] : [ClouddriverCredentialsService])];
  const health = createHealthService(
    served.map((s) => s.typeName),
    shutdown.signal,
  );
  const routes = (router: ConnectRouter) => {
    router.service(AccountsService, accounts);
    router.service(AgentService, hub.agentService);
    router.service(OperationService, hub.operationService);
    router.service(Health, health);
    if (credentials !== undefined) router.service(ClouddriverCredentialsService, credentials);
  };
  const rest = createRestTranscoder({
    services: [
      { service: AccountsService, impl: accounts },
      { service: OperationService, impl: hub.operationService },
      ...(credentials === undefined ? [] : [{ service: ClouddriverCredentialsService, impl: credentials }]),
    ],
    maxBodyBytes: config.http.maxBodyBytes,
    logger,
  });
  const handler = connectNodeAdapter({ routes, fallback: rest.handle, shutdownSignal: shutdown.signal });

  await hub.start();
  autoscan?.start();
  const pingIntervalMs = config.heartbeat.intervalMs;
  const listeners: Listener[] = [await listenPolyglot({ port: config.port, host: config.host, pingIntervalMs }, handler)];
  if (config.grpc.agentPort !== undefined) {
    const agentOnly = (router: ConnectRouter) => {
      router.service(AgentService, hub.agentService);
      router.service(Health, health);
    };
    listeners.push(await listenH2c({ port: config.grpc.agentPort, host: config.host, pingIntervalMs }, connectNodeAdapter({ routes: agentOnly, shutdownSignal: shutdown.signal })));
  }
  const [main, agent] = listeners;
  logger.info({ hubId, port: main!.port, agentPort: agent?.port, database: database.kind }, "agent-hub listening");

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
        await hub.close();
        if (options.database === undefined) await database.close();
      })();
      return closing;
    },
  };
}

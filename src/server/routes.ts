import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { AccountsService } from "../../gen/agenthub/v1/accounts_pb.js";
import { AgentService } from "../../gen/agenthub/v1/agent_pb.js";
import { ClouddriverCredentialsService } from "../../gen/agenthub/v1/clouddriver_pb.js";
import { OperationService } from "../../gen/agenthub/v1/operations_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { createReflection } from "./reflection.js";

/** The implementations a hub serves; `credentials` only with `interceptor.enabled`. */
export interface HubServices {
  accounts: ServiceImpl<typeof AccountsService>;
  agent: ServiceImpl<typeof AgentService>;
  operations: ServiceImpl<typeof OperationService>;
  health: ServiceImpl<typeof Health>;
  credentials: ServiceImpl<typeof ClouddriverCredentialsService> | undefined;
}

/** The contract services of the main port (health reports on these), without health and reflection. */
export function servedServices(withCredentials: boolean): DescService[] {
  return [AccountsService, AgentService, OperationService, ...(withCredentials ? [ClouddriverCredentialsService] : [])];
}

/** Serves `services` and gRPC reflection (v1 and v1alpha) over them and health. */
function withReflection(services: DescService[], register: (router: ConnectRouter) => void): (router: ConnectRouter) => void {
  const reflection = createReflection([...services, Health]);
  return (router) => {
    router.service(reflection.descriptors.v1, reflection.v1);
    router.service(reflection.descriptors.v1alpha, reflection.v1alpha);
    register(router);
  };
}

/**
 * The main port's Connect routes, apart from any listener (as connectrpc/examples-es keeps
 * them): the server mounts them on its Node adapter, tests on `createRouterTransport`.
 */
export function hubRoutes(services: HubServices): (router: ConnectRouter) => void {
  const { credentials } = services;
  return withReflection(servedServices(credentials !== undefined), (router) => {
    router.service(AccountsService, services.accounts);
    router.service(AgentService, services.agent);
    router.service(OperationService, services.operations);
    router.service(Health, services.health);
    if (credentials !== undefined) router.service(ClouddriverCredentialsService, credentials);
  });
}

/** The agent port's routes (`grpc.agentPort`): the agent service, health and reflection over them. */
export function agentPortRoutes(services: Pick<HubServices, "agent" | "health">): (router: ConnectRouter) => void {
  return withReflection([AgentService], (router) => {
    router.service(AgentService, services.agent);
    router.service(Health, services.health);
  });
}

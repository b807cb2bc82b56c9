/**
 * The ceiling: a raw connect-node bidi echo server on plain h2c, speaking the agent contract with
 * no hub logic behind it. It answers hello with welcome, an OperationResult with an Operation
 * carrying the same payload, and an AccountResult with an AddAccounts of one account definition
 * as the simulator creates it, so every message has the size it has through the hub.
 *
 * Run as a child process: prints `{"port": N}` on its first stdout line, exits on SIGTERM.
 */
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { AgentService, type ConnectResponseSchema } from "../gen/agenthub/v1/agent_pb.js";
import { dynamicAccountDefinition, type TopologySpec } from "../tools/sim/topology.js";
import { ECHO_HTTP2_SETTINGS } from "./http2-settings.js";

const topology: TopologySpec = { agents: 1, zones: 1, staticPerZone: 0, dynamicAccounts: 1, unpinnedFraction: 0, prefix: "" };
const definition = dynamicAccountDefinition(topology, 0);
const name = typeof definition.name === "string" ? definition.name : "";

function routes(router: ConnectRouter) {
  router.service(AgentService, {
    // A plain async generator: the cheapest handler shape (design section 13).
    async *connect(requests) {
      for await (const req of requests) {
        let res: MessageInitShape<typeof ConnectResponseSchema>;
        switch (req.msg.case) {
          case "hello":
            res = { msg: { case: "welcome", value: { hubId: "echo", heartbeatIntervalMs: 20_000 } } };
            break;
          case "operationResult": {
            const r = req.msg.value;
            const echo = r.result?.echo;
            const payload = echo !== null && typeof echo === "object" && !Array.isArray(echo) ? echo : {};
            res = { msg: { case: "operation", value: { operationId: r.operationId, accountName: name, kind: "deploy", payload } } };
            break;
          }
          case "accountResult":
            res = {
              requestId: req.msg.value.requestId,
              msg: { case: "addAccounts", value: { assignments: [{ account: { name, config: definition }, caching: true, zoneId: "zone-0" }] } },
            };
            break;
          default:
            continue;
        }
        yield res;
      }
    },
  });
}

const server = http2.createServer(ECHO_HTTP2_SETTINGS, connectNodeAdapter({ routes }));
server.listen(Number(process.env.ECHO_PORT ?? 0), "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on("SIGTERM", () => {
  server.close();
  process.exit(0);
});

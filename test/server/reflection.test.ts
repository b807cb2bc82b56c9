import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHub, type TestHub } from "../support/hub.js";

const root = join(fileURLToPath(import.meta.url), "../../..");
const buf = join(root, "node_modules/.bin/buf");
const run = promisify(execFile);

/** `buf curl` (connect-go, reflection by default): an independent client that knows no proto file of ours. */
async function bufCurl(...args: string[]): Promise<string> {
  const { stdout } = await run(buf, ["curl", "--http2-prior-knowledge", ...args], { timeout: 20_000 });
  return stdout;
}

const MAIN_PORT_METHODS = [
  "agenthub.v1.AccountsService/CreateAccounts",
  "agenthub.v1.AccountsService/DeleteAccounts",
  "agenthub.v1.AccountsService/GetAccount",
  "agenthub.v1.AccountsService/GetAccountHistory",
  "agenthub.v1.AccountsService/GetAgentAccount",
  "agenthub.v1.AccountsService/ListAccounts",
  "agenthub.v1.AccountsService/ListAgents",
  "agenthub.v1.AccountsService/MigrateAccounts",
  "agenthub.v1.AccountsService/PutAccount",
  "agenthub.v1.AccountsService/SetAccountStates",
  "agenthub.v1.AgentService/Connect",
  "agenthub.v1.OperationService/Execute",
];
const COMMON_METHODS = [
  "grpc.health.v1.Health/Check",
  "grpc.health.v1.Health/List",
  "grpc.health.v1.Health/Watch",
  "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
  "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

interface ReflectionResponse {
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  listServicesResponse?: { service: { name: string }[] };
  errorResponse?: { errorCode: number; errorMessage: string };
  allExtensionNumbersResponse?: { baseTypeName: string; extensionNumber: number[] };
}
type ReflectionStream = grpc.ClientDuplexStream<Record<string, unknown>, ReflectionResponse>;

/** A grpc-js reflection client over the vendored proto: sends each request and reads its answer. */
function reflectionClient(port: number, version: "v1" | "v1alpha"): { ask(req: Record<string, unknown>): Promise<ReflectionResponse>; close(): void } {
  const def = protoLoader.loadSync(`grpc/reflection/${version}/reflection.proto`, { includeDirs: [join(root, "proto")], oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { reflection: Record<string, { ServerReflection: new (a: string, c: grpc.ChannelCredentials) => grpc.Client & { ServerReflectionInfo(): ReflectionStream } }> } };
  const client = new pkg.grpc.reflection[version]!.ServerReflection(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = client.ServerReflectionInfo();
  const waiting: ((r: ReflectionResponse) => void)[] = [];
  call.on("data", (r: ReflectionResponse) => waiting.shift()?.(r));
  call.on("error", () => {});
  return {
    ask: (req) =>
      new Promise((resolve) => {
        waiting.push(resolve);
        call.write(req);
      }),
    close() {
      call.end();
      client.close();
    },
  };
}

const fileNames = (r: ReflectionResponse) => (r.fileDescriptorResponse?.fileDescriptorProto ?? []).map((b) => fromBinary(FileDescriptorProtoSchema, b).name);

describe("gRPC server reflection", () => {
  let hub: TestHub;
  beforeAll(async () => {
    // Reflection touches no storage: the quicker database to open.
    hub = await startTestHub("postgres", { "grpc.agentPort": 0 });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it("lets buf curl list every method on the one-port listener and on the agent port", async () => {
    const main = (await bufCurl("--list-methods", `http://127.0.0.1:${hub.app.port}`)).trim().split("\n");
    expect(main).toEqual([...MAIN_PORT_METHODS, ...COMMON_METHODS]);
    const agent = (await bufCurl("--list-methods", `http://127.0.0.1:${hub.app.agentPort}`)).trim().split("\n");
    expect(agent).toEqual(["agenthub.v1.AgentService/Connect", ...COMMON_METHODS]);
  });

  it("lets buf curl call agenthub.v1 services over gRPC with reflection only (v1 and v1alpha)", async () => {
    for (const reflect of ["grpc-v1", "grpc-v1alpha"]) {
      const listed = JSON.parse(await bufCurl("--protocol", "grpc", "--reflect-protocol", reflect, "-d", '{"limit": 5}', `http://127.0.0.1:${hub.app.port}/agenthub.v1.AccountsService/ListAccounts`)) as Record<string, unknown>;
      expect(listed).toMatchObject({ page: 1, limit: 5 });
      const health = JSON.parse(await bufCurl("--protocol", "grpc", "--reflect-protocol", reflect, "-d", '{"service": "agenthub.v1.AgentService"}', `http://127.0.0.1:${hub.app.agentPort}/grpc.health.v1.Health/Check`)) as Record<string, unknown>;
      expect(health).toEqual({ status: "SERVING" });
    }
  });

  it.each(["v1", "v1alpha"] as const)("answers %s from grpc-js: services, symbols with their imports, files, extensions, errors", async (version) => {
    const client = reflectionClient(hub.app.port, version);
    try {
      const services = await client.ask({ listServices: "" });
      expect(services.listServicesResponse?.service.map((s) => s.name)).toContain("agenthub.v1.AgentService");

      const agent = await client.ask({ fileContainingSymbol: "agenthub.v1.AgentService" });
      expect(fileNames(agent)[0]).toBe("agenthub/v1/agent.proto");
      expect(fileNames(agent)).toContain("google/protobuf/struct.proto");
      const decoded = fromBinary(FileDescriptorProtoSchema, agent.fileDescriptorResponse!.fileDescriptorProto[0]!);
      expect(decoded.service.map((s) => s.name)).toContain("AgentService");

      // A method and a nested symbol resolve to their file as well.
      expect(fileNames(await client.ask({ fileContainingSymbol: "agenthub.v1.AccountsService.ListAccounts" }))[0]).toBe("agenthub/v1/accounts.proto");
      const accounts = await client.ask({ fileByFilename: "agenthub/v1/accounts.proto" });
      expect(fileNames(accounts)).toEqual(expect.arrayContaining(["agenthub/v1/accounts.proto", "google/api/annotations.proto", "google/api/http.proto", "google/protobuf/descriptor.proto"]));

      // google.api.http is extension 72295728 of MethodOptions, declared in annotations.proto.
      const numbers = await client.ask({ allExtensionNumbersOfType: "google.protobuf.MethodOptions" });
      expect(numbers.allExtensionNumbersResponse?.extensionNumber).toContain(72295728);
      const ext = await client.ask({ fileContainingExtension: { containingType: "google.protobuf.MethodOptions", extensionNumber: 72295728 } });
      expect(fileNames(ext)[0]).toBe("google/api/annotations.proto");

      const missing = await client.ask({ fileContainingSymbol: "no.such.Service" });
      expect(missing.errorResponse).toMatchObject({ errorCode: grpc.status.NOT_FOUND });
      expect((await client.ask({ fileByFilename: "no/such.proto" })).errorResponse?.errorCode).toBe(grpc.status.NOT_FOUND);
    } finally {
      client.close();
    }
  });
});

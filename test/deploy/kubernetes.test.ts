import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Deployment } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Service } from "kubernetes-models/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/log/logger.js";
import { startApp, type HubApp } from "../../src/server/app.js";
import { deployedNodeOptions } from "../../bench/deployed-node-options.js";
import { createTestPki } from "../auth/support/pki.js";
import { httpsRequest } from "../auth/support/tls-requests.js";
import { openTestDatabase } from "../support/databases.js";

const root = join(fileURLToPath(import.meta.url), "../../..");
const dir = join(root, "deploy/kubernetes");

/** The model (schema validator) of each kind the manifests may contain. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "apps/v1/Deployment": Deployment,
  "v1/Service": Service,
  "v1/ConfigMap": ConfigMap,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
};

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  [key: string]: unknown;
}

function manifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), "utf8"))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      out.push(doc.toJS() as Manifest);
    }
  }
  return out;
}

function one<T>(kind: string): T {
  const found = manifests().filter((m) => m.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as T;
}

type Probe = { httpGet: { path: string; port: string; scheme?: string } };
interface Container {
  command: string[];
  ports: { name: string; containerPort: number }[];
  env: { name: string; value?: string; valueFrom?: unknown }[];
  readinessProbe: Probe;
  livenessProbe: Probe;
  startupProbe: Probe;
  resources: { requests: { cpu: string; memory: string }; limits: { memory: string } };
  volumeMounts: { name: string; mountPath: string }[];
}
interface PodSpec {
  containers: Container[];
  volumes: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
}
type DeploymentJson = Manifest & { spec: { replicas: number; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } };

function hubYaml(): string {
  return (one<Manifest & { data: Record<string, string> }>("ConfigMap").data)["hub.yaml"]!;
}

function writeTemp(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "agent-hub-k8s-")), "hub.yaml");
  writeFileSync(file, text);
  return file;
}

describe("deploy/kubernetes", () => {
  it("has only manifests that validate against the Kubernetes schemas", () => {
    const all = manifests();
    expect(all.map((m) => m.kind).sort()).toEqual(["ConfigMap", "Deployment", "PodDisruptionBudget", "Service"]);
    for (const m of all) {
      const Model = MODELS[`${m.apiVersion}/${m.kind}`];
      expect(Model, `${m.apiVersion} ${m.kind}`).toBeDefined();
      expect(() => new Model!(m as never).validate(), `${m.kind} ${m.metadata.name}`).not.toThrow();
    }
  });

  it("would catch a manifest that breaks the schema", () => {
    const broken = structuredClone(one<DeploymentJson>("Deployment")) as unknown as { spec: { replicas: unknown } };
    broken.spec.replicas = "three";
    expect(() => new Deployment(broken as never).validate()).toThrow();
  });

  it("runs 3 replicas with the ConfigMap's hub.yaml, which the real loader accepts, and ports that match it", () => {
    const deployment = one<DeploymentJson>("Deployment");
    expect(deployment.spec.replicas).toBe(3);
    const [container] = deployment.spec.template.spec.containers;
    // The production command, reading the ConfigMap where the Deployment mounts it.
    expect(container!.command.slice(0, 3)).toEqual(["node", "dist/cli/main.js", "serve"]);
    const configPath = container!.command[container!.command.indexOf("--config") + 1]!;
    const configVolume = deployment.spec.template.spec.volumes.find((v) => v.configMap?.name === one<Manifest>("ConfigMap").metadata.name)!;
    const mount = container!.volumeMounts.find((m) => m.name === configVolume.name)!;
    expect(configPath).toBe(`${mount.mountPath}/hub.yaml`);

    // Environment: every variable is one the loader knows (it refuses unknown AGENT_HUB_* names).
    const env = Object.fromEntries(container!.env.map((e) => [e.name, e.value ?? (e.name === "DATABASE_URL" ? "postgres://hub@db/hub" : "agent-hub-0")]));
    const config = loadConfig({ file: writeTemp(hubYaml()), env });
    const ports = Object.fromEntries(container!.ports.map((p) => [p.name, p.containerPort]));
    expect(ports).toEqual({ http: config.port, agents: config.grpc.agentPort });
    expect(config.port).toBe(7002);
    expect(config.databaseUrl).toBe("postgres://hub@db/hub");
    expect(config.metrics.enabled).toBe(true);

    const service = one<Manifest & { spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string }[] } }>("Service");
    expect(service.spec.ports.map((p) => [p.port, ports[p.targetPort]])).toEqual([
      [7002, 7002],
      [9091, 9091],
    ]);
    for (const [k, v] of Object.entries(service.spec.selector)) expect(deployment.spec.template.metadata.labels[k]).toBe(v);
    const pdb = one<Manifest & { spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } } }>("PodDisruptionBudget");
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(service.spec.selector);

    // Sized from the benchmark (README): ~1.3 GiB peak RSS with the heap capped, about one core per replica.
    expect(container!.resources.requests).toEqual({ cpu: "1", memory: "1Gi" });
    expect(container!.resources.limits.memory).toBe("1536Mi");
    // V8's old space capped with room inside the limit for the new space, code and nghttp2's native
    // memory (~23 KiB per agent connection); the benchmark runs its hub with the same flags.
    const heapFlag = /^--max-old-space-size=(\d+)$/.exec(env.NODE_OPTIONS ?? "");
    expect(heapFlag).not.toBeNull();
    expect(Number(heapFlag![1]) + 512).toBeLessThanOrEqual(1536);
    expect(deployedNodeOptions()).toEqual([env.NODE_OPTIONS]);
  });

  it("serves TLS and checks credentials from the Secrets the Deployment mounts, and probes speak HTTPS", () => {
    const config = loadConfig({ file: writeTemp(hubYaml()), env: {} });
    const deployment = one<DeploymentJson>("Deployment");
    const [container] = deployment.spec.template.spec.containers;
    const secretMounts = container!.volumeMounts.filter((m) => deployment.spec.template.spec.volumes.some((v) => v.name === m.name && v.secret !== undefined));
    expect(secretMounts.map((m) => m.mountPath).sort()).toEqual(["/etc/agent-hub/auth", "/etc/agent-hub/tls"]);
    expect(config.auth.enabled).toBe(true);
    const files = [config.tls.certFile, config.tls.keyFile, config.tls.clientCaFile, config.auth.credentialsFile];
    for (const f of files) expect(secretMounts.some((m) => f.startsWith(`${m.mountPath}/`)), f).toBe(true);
    for (const probe of [container!.readinessProbe, container!.livenessProbe, container!.startupProbe]) expect(probe.httpGet.scheme).toBe("HTTPS");
  });

  describe("probes answer on a hub run with the ConfigMap's configuration", () => {
    let app: HubApp;
    let database: Awaited<ReturnType<typeof openTestDatabase>>;
    const pki = createTestPki();
    const token = randomBytes(16).toString("hex");
    beforeAll(async () => {
      // The Secrets' files as the Deployment mounts them, under a temp directory instead of /etc/agent-hub.
      const etc = mkdtempSync(join(tmpdir(), "agent-hub-etc-"));
      mkdirSync(join(etc, "tls"));
      mkdirSync(join(etc, "auth"));
      const server = pki.issue("server", { cn: "localhost", dns: ["localhost"], ip: ["127.0.0.1"] });
      copyFileSync(server.certFile, join(etc, "tls/tls.crt"));
      copyFileSync(server.keyFile, join(etc, "tls/tls.key"));
      copyFileSync(pki.caFile, join(etc, "tls/ca.crt"));
      const sha = createHash("sha256").update(token).digest("hex");
      writeFileSync(join(etc, "auth/credentials.yaml"), `- name: ops\n  tokenSha256: ${sha}\n  role: viewer\n`);
      const config = loadConfig({
        file: writeTemp(hubYaml().replaceAll("/etc/agent-hub/", `${etc}/`)),
        env: {},
        overrides: { port: 0, host: "127.0.0.1", "grpc.agentPort": 0, "log.level": "silent" },
      });
      expect(config.tls.certFile.startsWith(etc)).toBe(true);
      database = await openTestDatabase("postgres");
      app = await startApp(config, { database, logger: createLogger("silent") });
    });
    afterAll(async () => {
      await app?.close();
      await database?.close();
      await database?.dropSchema();
      pki.remove();
    });

    it("readiness, liveness and startup paths answer 200 over HTTPS without credentials, as the kubelet asks; metrics too", async () => {
      const deployment = one<DeploymentJson>("Deployment");
      const [container] = deployment.spec.template.spec.containers;
      expect(container!.readinessProbe.httpGet.path).toBe("/readyz");
      expect(container!.livenessProbe.httpGet.path).toBe("/healthz");
      for (const probe of [container!.readinessProbe, container!.livenessProbe, container!.startupProbe]) {
        expect(probe.httpGet.port).toBe("http");
        expect(probe.httpGet.scheme).toBe("HTTPS");
        expect((await httpsRequest(app.port, "GET", probe.httpGet.path, { ca: pki.ca })).status, probe.httpGet.path).toBe(200);
      }
      const annotations = (deployment.spec.template as unknown as { metadata: { annotations: Record<string, string> } }).metadata.annotations;
      expect(annotations["prometheus.io/scheme"]).toBe("https");
      expect((await httpsRequest(app.port, "GET", annotations["prometheus.io/path"]!, { ca: pki.ca })).status).toBe(200);
      // The same hub refuses an anonymous API call and serves the credential the file names.
      expect((await httpsRequest(app.port, "GET", "/armory/accounts", { ca: pki.ca })).status).toBe(401);
      expect((await httpsRequest(app.port, "GET", "/armory/accounts", { ca: pki.ca, token })).status).toBe(200);
    });
  });
});

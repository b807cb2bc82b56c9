import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const deployment = fileURLToPath(new URL("../deploy/kubernetes/deployment.yaml", import.meta.url));

interface DeploymentShape {
  spec?: { template?: { spec?: { containers?: { name?: string; env?: { name?: string; value?: string }[] }[] } } };
}

/**
 * The Node.js flags the Kubernetes Deployment gives the hub (its NODE_OPTIONS, e.g. the heap
 * limit that keeps a replica inside its memory limit): the benchmark's hub runs as deployed.
 */
export function deployedNodeOptions(): string[] {
  const manifest = parse(readFileSync(deployment, "utf8")) as DeploymentShape;
  const hub = manifest.spec?.template?.spec?.containers?.find((c) => c.name === "agent-hub");
  const value = hub?.env?.find((e) => e.name === "NODE_OPTIONS")?.value ?? "";
  return value.split(/\s+/).filter((flag) => flag !== "");
}

// The CLI's connection options over real TLS: --ca, --cert/--key (mTLS), --insecure, and the bearer
// token from --token or AGENT_HUB_TOKEN. The server is a plain node:https server with certificates
// made by the openssl CLI, standing in for a hub with TLS on, which records what it was sent.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./support.js";

const dir = mkdtempSync(join(tmpdir(), "agent-hub-cli-tls-"));
const file = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

/** A CA, a server certificate for 127.0.0.1 and a client certificate with CN "cli-user", all signed by the CA. */
function makeCertificates(): void {
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca", "-keyout", "ca.key", "-out", "ca.pem");
  writeFileSync(file("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const [name, cn, ext] of [
    ["server", "127.0.0.1", ["-extfile", "server.ext"]],
    ["client", "cli-user", []],
  ] as const) {
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${cn}`, "-keyout", `${name}.key`, "-out", `${name}.csr`);
    openssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-out", `${name}.pem`, ...ext);
  }
}

describe("agent-hub connection options over TLS", () => {
  let server: https.Server;
  let url: string;
  const seen: { authorization: string | undefined; clientCn: string | undefined }[] = [];

  beforeAll(async () => {
    makeCertificates();
    server = https.createServer(
      { key: readFileSync(file("server.key")), cert: readFileSync(file("server.pem")), ca: readFileSync(file("ca.pem")), requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const socket = req.socket as TLSSocket;
        const peer = socket.authorized ? socket.getPeerCertificate() : undefined;
        seen.push({ authorization: req.headers.authorization, clientCn: typeof peer?.subject?.CN === "string" ? peer.subject.CN : undefined });
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify([{ agentId: "tls-agent", zoneId: "z", hubId: "h", accounts: 0, caching: 0, connectedAt: "", lastHeartbeat: "", version: "", labels: {} }]));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("--ca verifies the hub, --cert/--key present a client certificate, AGENT_HUB_TOKEN is sent as Bearer", async () => {
    const run = await runCli(["agents", "--hub", url, "--ca", file("ca.pem"), "--cert", file("client.pem"), "--key", file("client.key")], { AGENT_HUB_TOKEN: "tok-env" });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("tls-agent");
    expect(seen.at(-1)).toEqual({ authorization: "Bearer tok-env", clientCn: "cli-user" });
  });

  it("without --ca the hub's certificate is refused (exit 1); --insecure skips the check; --token wins over the environment", async () => {
    const refused = await runCli(["agents", "--hub", url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/cannot reach the hub at https:\/\/127\.0\.0\.1:\d+: .*(certificate|self.signed)/i);
    const before = seen.length;
    const insecure = await runCli(["agents", "--hub", url, "--insecure", "--token", "tok-flag", "--json"], { AGENT_HUB_TOKEN: "tok-env" });
    expect(insecure.code, insecure.stderr).toBe(0);
    expect(JSON.parse(insecure.stdout)).toMatchObject([{ agentId: "tls-agent" }]);
    expect(seen.slice(before)).toEqual([{ authorization: "Bearer tok-flag", clientCn: undefined }]);
  });

  it("--cert without --key, a missing file or a bad --hub is a usage error (exit 2) saying which", async () => {
    const half = await runCli(["agents", "--hub", url, "--cert", file("client.pem")]);
    expect(half.code).toBe(2);
    expect(half.stderr).toContain("--cert and --key go together");
    const missing = await runCli(["agents", "--hub", url, "--ca", file("nope.pem")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`--ca ${file("nope.pem")}`);
    const notUrl = await runCli(["agents", "--hub", "ftp://hub"]);
    expect(notUrl.code).toBe(2);
    expect(notUrl.stderr).toContain("--hub ftp://hub");
  });
});

import { describe, expect, it } from "vitest";
import { ConfigError, isLoopbackHost, loadConfig } from "../../src/config/config.js";

describe("security configuration (design section 14)", () => {
  it("listens on loopback only without auth, on every interface with it", () => {
    expect(loadConfig({ env: {} }).host).toBe("127.0.0.1");
    const withAuth = loadConfig({ env: {}, overrides: { "auth.enabled": true, "auth.credentialsFile": "/etc/agent-hub/credentials.yaml" } });
    expect(withAuth.host).toBe("::");
    expect(withAuth.auth).toEqual({
      enabled: true,
      allowUnauthenticated: false,
      credentialsFile: "/etc/agent-hub/credentials.yaml",
      jwt: { jwksFile: "", issuer: "", audience: "" },
    });
  });

  it("refuses a non-loopback host without auth unless allowUnauthenticated", () => {
    expect(() => loadConfig({ env: { AGENT_HUB_HOST: "::" } })).toThrow(/host: :: is reachable.*auth.allowUnauthenticated/);
    expect(() => loadConfig({ env: { AGENT_HUB_HOST: "0.0.0.0" } })).toThrow(ConfigError);
    expect(loadConfig({ env: { AGENT_HUB_HOST: "::", AGENT_HUB_AUTH_ALLOW_UNAUTHENTICATED: "true" } }).host).toBe("::");
    expect(loadConfig({ env: { AGENT_HUB_HOST: "::1" } }).host).toBe("::1");
    expect(["localhost", "127.0.0.1", "127.1.2.3", "::1"].every(isLoopbackHost)).toBe(true);
    expect(["::", "0.0.0.0", "10.0.0.1", "example.com"].some(isLoopbackHost)).toBe(false);
  });

  it("reads tls.*, auth.jwt.* and audit.retention from the environment", () => {
    const c = loadConfig({
      env: {
        AGENT_HUB_TLS_CERT_FILE: "/tls/tls.crt",
        AGENT_HUB_TLS_KEY_FILE: "/tls/tls.key",
        AGENT_HUB_TLS_CLIENT_CA_FILE: "/tls/ca.crt",
        AGENT_HUB_AUTH_ENABLED: "true",
        AGENT_HUB_AUTH_JWT_JWKS_FILE: "/jwt/jwks.json",
        AGENT_HUB_AUTH_JWT_ISSUER: "https://issuer.example",
        AGENT_HUB_AUTH_JWT_AUDIENCE: "agent-hub",
        AGENT_HUB_AUDIT_RETENTION: "7d",
      },
    });
    expect(c.tls).toEqual({ certFile: "/tls/tls.crt", keyFile: "/tls/tls.key", clientCaFile: "/tls/ca.crt" });
    expect(c.auth.jwt).toEqual({ jwksFile: "/jwt/jwks.json", issuer: "https://issuer.example", audience: "agent-hub" });
    expect(c.audit.retentionMs).toBe(7 * 86_400_000);
    expect(loadConfig({ env: {} }).audit.retentionMs).toBe(30 * 86_400_000);
  });

  it.each([
    [{ "tls.certFile": "/a.crt" }, /tls.certFile \/ tls.keyFile/],
    [{ "tls.clientCaFile": "/ca.crt" }, /tls.clientCaFile/],
    [{ "auth.jwt.issuer": "x" }, /auth.jwt/],
    [{ "auth.enabled": true }, /auth.enabled: true needs/],
    [{ "audit.retention": "soon" }, /audit.retention/],
  ])("refuses unusable sets of keys: %o", (overrides, message) => {
    expect(() => loadConfig({ env: {}, overrides })).toThrow(message);
  });
});

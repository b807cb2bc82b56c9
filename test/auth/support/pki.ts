import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A certificate and its key as PEM files in the PKI's directory. */
export interface Issued {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

/** A throw-away certificate authority made with the openssl CLI. */
export interface TestPki {
  dir: string;
  caFile: string;
  ca: Buffer;
  /** A server certificate for localhost / 127.0.0.1 (or client certificate with `cn` and DNS SANs). */
  issue(name: string, options: { cn: string; dns?: string[]; ip?: string[] }): Issued;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: "pipe" });
}

/** Makes a CA (EC P-256, one day) in a temp directory. */
export function createTestPki(label = "ca"): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "agent-hub-pki-"));
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${label}.key`, "-out", `${label}.crt`, "-days", "1", "-subj", `/CN=agent-hub test ${label}`], dir);
  const caFile = join(dir, `${label}.crt`);
  let serial = 1000;
  return {
    dir,
    caFile,
    ca: readFileSync(caFile),
    issue(name, { cn, dns = [], ip = [] }) {
      const san = [...dns.map((d) => `DNS:${d}`), ...ip.map((i) => `IP:${i}`)].join(",");
      openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`], dir);
      writeFileSync(join(dir, `${name}.ext`), `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n${san === "" ? "" : `subjectAltName=${san}\n`}`);
      serial++;
      openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", `${label}.crt`, "-CAkey", `${label}.key`, "-set_serial", String(serial), "-days", "1", "-out", `${name}.crt`, "-extfile", `${name}.ext`], dir);
      const certFile = join(dir, `${name}.crt`);
      const keyFile = join(dir, `${name}.key`);
      return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

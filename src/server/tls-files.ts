import { readFileSync } from "node:fs";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import { watchParsedFile, type WatchedFile } from "../auth/watched-file.js";
import type { Logger } from "../log/logger.js";

/** `tls.*` (design section 14). */
export interface TlsSettings {
  certFile: string;
  keyFile: string;
  /** "" = no client certificates asked for. */
  clientCaFile: string;
}

/** The listeners' certificate, key and client CA, re-read when any of the files changes. */
export interface TlsFiles {
  /** Whether client certificates are asked for (mTLS). */
  readonly clientCa: boolean;
  current(): SecureContextOptions;
  /** Called with the new options after a change that produced a usable context. */
  onChange(listener: (options: SecureContextOptions) => void): void;
  close(): void;
}

/**
 * Reads the PEM files and watches them. A change that does not make a usable context (a key
 * that does not fit the certificate, half of a pair written) keeps the last good one and logs
 * why; the next change is tried again. Connections already open keep the context they began with,
 * so no stream is dropped by a reload.
 */
export function loadTlsFiles(settings: TlsSettings, logger: Logger): TlsFiles {
  const read = (): SecureContextOptions => {
    const options: SecureContextOptions = { cert: readFileSync(settings.certFile), key: readFileSync(settings.keyFile) };
    if (settings.clientCaFile !== "") options.ca = readFileSync(settings.clientCaFile);
    createSecureContext(options); // throws when they do not make a context
    return options;
  };
  let current = read();
  const listeners: ((options: SecureContextOptions) => void)[] = [];
  const files = [settings.certFile, settings.keyFile, ...(settings.clientCaFile === "" ? [] : [settings.clientCaFile])];
  const watchers: WatchedFile<SecureContextOptions>[] = [...new Set(files)].map((file) =>
    watchParsedFile(file, "TLS file (tls.*)", () => read(), logger, (options) => {
      current = options;
      for (const l of listeners) l(options);
    }),
  );
  return {
    clientCa: settings.clientCaFile !== "",
    current: () => current,
    onChange: (listener) => listeners.push(listener),
    close: () => watchers.forEach((w) => w.close()),
  };
}

import { readFileSync, unwatchFile, watchFile, type Stats } from "node:fs";
import type { Logger } from "../log/logger.js";

/** A file read at start and again whenever it changes, keeping the last version that parsed. */
export interface WatchedFile<T> {
  /** The last good value. */
  current(): T;
  /** Stops watching. */
  close(): void;
}

/** How often files are checked for changes; Kubernetes swaps mounted secrets by symlink, which polling sees. */
const FILE_POLL_MS = 500;

/**
 * Reads `path` with `parse` and re-reads it when its modification time, size or inode changes.
 * The first read must succeed (the process cannot start without it); a later bad version keeps
 * the last good one and logs why (without the file's contents).
 */
export function watchParsedFile<T>(path: string, what: string, parse: (text: string) => T, logger: Logger, onChange?: (value: T) => void): WatchedFile<T> {
  const read = () => parse(readFileSync(path, "utf8"));
  let value: T;
  try {
    value = read();
  } catch (err) {
    throw new Error(`cannot use ${what} ${path}: ${(err as Error).message}`);
  }
  const listener = (now: Stats, before: Stats) => {
    if (now.mtimeMs === before.mtimeMs && now.size === before.size && now.ino === before.ino) return;
    try {
      value = read();
      logger.info({ file: path }, `${what} re-read`);
      onChange?.(value);
    } catch (err) {
      logger.error({ file: path, reason: (err as Error).message }, `${what} changed but cannot be used; keeping the last good version`);
    }
  };
  watchFile(path, { interval: FILE_POLL_MS, persistent: false }, listener);
  return {
    current: () => value,
    close: () => unwatchFile(path, listener),
  };
}

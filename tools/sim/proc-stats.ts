import { readFileSync } from "node:fs";

/** Resource use of one process, read from /proc (Linux). */
export interface ProcStats {
  rssBytes: number;
  /** User + system CPU time since the process started, in milliseconds. */
  cpuMs: number;
}

/** Clock ticks per second of /proc/<pid>/stat times; 100 on every Linux this runs on. */
const CLK_TCK = 100;

/** Reads RSS and CPU time of `pid`; undefined when the process is gone or /proc is missing. */
export function readProcStats(pid: number): ProcStats | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces; fields after its closing paren are fixed.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (rss === null || !Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    return { rssBytes: Number(rss[1]) * 1024, cpuMs: ((utime + stime) * 1000) / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** Samples a process once a second: peak RSS and CPU used between marks. */
export interface ProcSampler {
  /** The latest sample. */
  current(): ProcStats | undefined;
  peakRssBytes(): number;
  stop(): void;
}

/** Starts sampling `pid` every `intervalMs`. */
export function sampleProc(pid: number, intervalMs = 1_000): ProcSampler {
  let last = readProcStats(pid);
  let peak = last?.rssBytes ?? 0;
  const timer = setInterval(() => {
    const s = readProcStats(pid);
    if (s === undefined) return;
    last = s;
    if (s.rssBytes > peak) peak = s.rssBytes;
  }, intervalMs);
  timer.unref();
  return {
    current() {
      const s = readProcStats(pid);
      if (s !== undefined) {
        last = s;
        if (s.rssBytes > peak) peak = s.rssBytes;
      }
      return last;
    },
    peakRssBytes: () => peak,
    stop: () => clearInterval(timer),
  };
}

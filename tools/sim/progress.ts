import cliProgress from "cli-progress";

/** One phase of a run as the user watches it. */
export interface PhaseProgress {
  /** `value` out of the phase's total; `detail` is a short live summary. */
  update(value: number, detail?: string): void;
  done(summary: string): void;
}

/** Where a run shows what it is doing. */
export interface Progress {
  phase(name: string, total: number): PhaseProgress;
  log(line: string): void;
}

/** Plain lines in a log: at most one update line per `everyMs` per phase. */
export function plainProgress(write: (line: string) => void, everyMs = 2_000): Progress {
  return {
    phase(name, total) {
      const started = Date.now();
      let last = 0;
      return {
        update(value, detail) {
          const now = Date.now();
          if (now - last < everyMs) return;
          last = now;
          write(`[${name}] ${value}/${total}${detail === undefined ? "" : ` ${detail}`} (${((now - started) / 1000).toFixed(1)}s)`);
        },
        done: (summary) => write(`[${name}] done: ${summary}`),
      };
    },
    log: write,
  };
}

/** A progress bar per phase on a terminal. */
export function barProgress(stream: NodeJS.WriteStream): Progress {
  return {
    phase(name, total) {
      const bar = new cliProgress.SingleBar(
        { format: `${name.padEnd(10)} [{bar}] {value}/{total} {detail} ({duration_formatted})`, stream, hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      );
      bar.start(Math.max(1, total), 0, { detail: "" });
      return {
        update: (value, detail) => bar.update(value, { detail: detail ?? "" }),
        done(summary) {
          bar.stop();
          stream.write(`${name}: ${summary}\n`);
        },
      };
    },
    log: (line) => stream.write(`${line}\n`),
  };
}

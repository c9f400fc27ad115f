// What every benchmark report says about where it ran, and the report file they append to.
import { execFileSync } from "node:child_process";
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";

const REPORT = new URL("../../docs/benchmarks.md", import.meta.url).pathname;

export const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

function commit(): string {
  try {
    const sha = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    // The report file itself does not count: an earlier run of the same session appended to it.
    const dirty = execFileSync(
      "git",
      ["status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)docs/benchmarks.md"],
      { encoding: "utf8" },
    ).trim();
    return dirty ? `${sha} (with uncommitted changes)` : sha;
  } catch {
    return "unknown";
  }
}

export function machine(): string {
  return `machine: ${cpus()[0]?.model ?? "?"} x${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, load average ${loadavg()[0].toFixed(1)} at the end; commit ${commit()}`;
}

/** Appends one run, dated, under its benchmark's name, to docs/benchmarks.md. */
export function appendReport(title: string, lines: string[]): void {
  if (!existsSync(REPORT))
    writeFileSync(
      REPORT,
      "# Benchmark runs\n\nAppended by `npm run bench -- <name>`: each run with its machine and commit. " +
        "This machine is shared and noisy: compare ratios within one run, not across runs. " +
        "How each benchmark works, and what the numbers mean: [bench/README.md](../bench/README.md).\n",
    );
  const when = new Date().toISOString().slice(0, 16).replace("T", " ");
  appendFileSync(
    REPORT,
    `\n## ${title}, ${when} UTC\n\n${machine()}\n\n${lines.map((l) => `- ${l}`).join("\n")}\n`,
  );
}

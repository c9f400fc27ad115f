// Renders the configuration reference (docs/configuration.md) from the schema itself, so the
// documented defaults can never drift from the real ones.
import type { TSchema } from "@sinclair/typebox";
import { envName, leaves } from "./load.ts";

function fmt(value: unknown): string {
  if (value === undefined) return "";
  return `\`${JSON.stringify(value)}\``;
}

export function configReference(): string {
  const rows = leaves().map(({ path, schema }: { path: string[]; schema: TSchema }) => {
    const desc = String(schema.description ?? "").replace(/\|/g, "\\|");
    return `| \`${path.join(".")}\` | \`${envName(path)}\` | ${fmt(schema.default)} | ${desc} |`;
  });
  return [
    "# Configuration",
    "",
    "rs-server reads one file (YAML or JSON; path from `--config` or `RS_SERVER_CONFIG`), then",
    "environment variables, then command-line flags (`--data-dir`). Every option, its variable and",
    "its default (this file is generated from `src/config/schema.ts` by `npm run docs:config`):",
    "",
    "| option | environment | default | meaning |",
    "|---|---|---|---|",
    ...rows,
    "",
    "Arrays in the environment are comma-separated or JSON; objects are JSON.",
    "",
  ].join("\n");
}

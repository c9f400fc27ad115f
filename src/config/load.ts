// Loads the configuration: defaults, then the file (--config / RS_SERVER_CONFIG), then the
// environment (RS_SERVER_<PATH>, e.g. RS_SERVER_DATABASE_URL, RS_SERVER_ADMIN_PORT).
import { readFileSync } from "node:fs";
import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { parse as parseYaml } from "yaml";
import { type Config, ConfigSchema } from "./schema.ts";

export class ConfigError extends Error {}

/** RS_SERVER_ + the option's path in upper snake case: dataDir → RS_SERVER_DATA_DIR. */
export function envName(path: string[]): string {
  return `RS_SERVER_${path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()).join("_")}`;
}

export interface Leaf {
  path: string[];
  schema: TSchema;
}

/** Every option of the schema, for the environment and the generated documentation. */
export function leaves(schema: TSchema = ConfigSchema, path: string[] = []): Leaf[] {
  if (schema.type === "object" && schema.properties) {
    return Object.entries(schema.properties as Record<string, TSchema>).flatMap(([k, s]) =>
      leaves(s, [...path, k]),
    );
  }
  return [{ path, schema }];
}

function parseEnvValue(raw: string, schema: TSchema): unknown {
  if (schema.type === "integer" || schema.type === "number") return Number(raw);
  if (schema.type === "boolean") return /^(1|true|yes|on)$/i.test(raw);
  if (schema.type === "array" || schema.type === "object") {
    const trimmed = raw.trim();
    if (trimmed.startsWith("[") || trimmed.startsWith("{")) return JSON.parse(trimmed);
    return trimmed === "" ? [] : trimmed.split(",").map((s) => s.trim());
  }
  return raw;
}

function setPath(target: Record<string, any>, path: string[], value: unknown) {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
    node = node[key];
  }
  node[path[path.length - 1]] = value;
}

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Highest precedence: values given on the command line or by a test. */
  overrides?: Record<string, unknown>;
}

function deepMerge(base: any, extra: any): any {
  if (typeof base !== "object" || base === null || Array.isArray(base)) return extra;
  if (typeof extra !== "object" || extra === null || Array.isArray(extra)) return extra;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(extra)) out[k] = k in base ? deepMerge(base[k], v) : v;
  return out;
}

/** Empty objects for every nested section, so that defaults fill the sections not given. */
function skeleton(schema: TSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries((schema.properties ?? {}) as Record<string, TSchema>)) {
    if (s.type === "object" && s.properties) out[k] = skeleton(s);
  }
  return out;
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  let fromFile: Record<string, unknown> = {};
  const file = options.file ?? env.RS_SERVER_CONFIG;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
    }
    const parsed = file.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
    fromFile = (parsed ?? {}) as Record<string, unknown>;
  }
  const fromEnv: Record<string, unknown> = {};
  for (const leaf of leaves()) {
    const raw = env[envName(leaf.path)];
    if (raw === undefined) continue;
    try {
      setPath(fromEnv, leaf.path, parseEnvValue(raw, leaf.schema));
    } catch {
      throw new ConfigError(`${envName(leaf.path)} is not valid JSON`);
    }
  }
  const merged = deepMerge(deepMerge(fromFile, fromEnv), options.overrides ?? {});
  const config = Value.Default(ConfigSchema, deepMerge(skeleton(ConfigSchema), merged)) as Config;
  const errors = [...Value.Errors(ConfigSchema, config)];
  if (errors.length > 0) {
    const detail = errors
      .slice(0, 5)
      .map((e) => `${e.path || "/"}: ${e.message}`)
      .join("; ");
    throw new ConfigError(`invalid configuration: ${detail}`);
  }
  return config;
}

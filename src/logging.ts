// The server's logger: JSON lines (pino) for journald, files and log shippers, or one readable
// line per entry on a terminal. log.format "auto" picks readable lines when stdout is a TTY.
import pino, { type Logger } from "pino";
import type { Config } from "./config/schema.ts";

const LEVELS: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO ",
  40: "WARN ",
  50: "ERROR",
  60: "FATAL",
};
const COLORS: Record<number, string> = { 20: "\x1b[90m", 40: "\x1b[33m", 50: "\x1b[31m", 60: "\x1b[35m" };
const RESET = "\x1b[0m";
/** pino's own fields, shown in the line's head or not at all. */
const OWN = new Set(["level", "time", "pid", "hostname", "msg", "v"]);

export type LogFormat = "pretty" | "json";

export function logFormat(config: Pick<Config, "log">, out: { isTTY?: boolean }): LogFormat {
  if (config.log.format === "auto") return out.isTTY ? "pretty" : "json";
  return config.log.format;
}

function value(v: unknown): string {
  if (typeof v === "string") return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v);
}

/** One pino JSON entry as a readable line: time, level, message, then key=value pairs. */
export function prettyLine(json: string, color = false): string {
  let entry: Record<string, any>;
  try {
    entry = JSON.parse(json);
  } catch {
    return json.endsWith("\n") ? json : `${json}\n`;
  }
  const time = new Date(entry.time ?? Date.now()).toISOString().slice(11, 23);
  const level = LEVELS[entry.level] ?? String(entry.level);
  const parts: string[] = [];
  for (const [key, v] of Object.entries(entry)) {
    if (OWN.has(key) || v === undefined) continue;
    // Fastify's request lines: the method and URL, the status and time, say it all.
    if (key === "req" && v && typeof v === "object")
      parts.push(`${v.method} ${v.url} from=${v.remoteAddress}`);
    else if (key === "res" && v && typeof v === "object") parts.push(`status=${v.statusCode}`);
    else if (key === "responseTime" && typeof v === "number") parts.push(`ms=${Math.round(v)}`);
    else if (key === "err" && v && typeof v === "object")
      parts.push(`err=${value(`${v.type ?? "Error"}: ${v.message}`)}`);
    else parts.push(`${key}=${value(v)}`);
  }
  const head = `${time} ${level} ${entry.msg ?? ""}`;
  const line = parts.length ? `${head}  ${parts.join(" ")}` : head;
  const paint = color ? COLORS[entry.level] : undefined;
  return `${paint ? `${paint}${line}${RESET}` : line}\n`;
}

export function createLogger(
  config: Pick<Config, "log">,
  out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
): Logger {
  const options = { level: config.log.level, redact: ["req.headers['x-auth-token']"] };
  if (logFormat(config, out) === "json") return out === process.stdout ? pino(options) : pino(options, out);
  const color = Boolean(out.isTTY) && !process.env.NO_COLOR;
  return pino(options, { write: (json: string) => out.write(prettyLine(json, color)) });
}

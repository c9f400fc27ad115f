// Per-request Cinder context: caller, negotiated microversion, and the URL's project (which
// must be the token's, as Cinder refuses a mismatch with "Malformed request url").
import type { FastifyRequest } from "fastify";
import type { SimContext } from "../context.ts";
import type { CinderState } from "./state.ts";
import type { ViewOptions } from "./views.ts";

export interface CinderCall {
  projectId: string;
  userId: string;
  admin: boolean;
  minor: number;
}

export const MIN_MINOR = 0;
/** Zed's maximum volume API microversion. */
export const MAX_MINOR = 70;

const calls = new WeakMap<FastifyRequest, CinderCall>();

export const setCall = (req: FastifyRequest, call: CinderCall) => calls.set(req, call);

export function call(req: FastifyRequest): CinderCall {
  const c = calls.get(req);
  if (!c) throw new Error("Cinder route reached without authentication");
  return c;
}

export interface CinderEnv {
  ctx: SimContext;
  state: CinderState;
  /** `${base}/volume` */
  root(): string;
}

export function viewOptions(env: CinderEnv, c: CinderCall): ViewOptions {
  return {
    admin: c.admin,
    minor: c.minor,
    base: `${env.root()}/v3/${c.projectId}`,
    bookmark: `${env.root()}/${c.projectId}`,
  };
}

/**
 * Reads `OpenStack-API-Version: volume 3.x`. Returns the minor version, or an error message
 * with its status as Cinder answers (400 malformed, 406 out of range).
 */
export function negotiate(header: string | undefined): number | { status: number; message: string } {
  if (header === undefined || header.trim() === "") return MIN_MINOR;
  const entry = header
    .split(",")
    .map((s) => s.trim().split(/\s+/))
    .find(([service]) => service?.toLowerCase() === "volume");
  if (!entry) {
    return {
      status: 400,
      message: `API Version String ${header} is of invalid format. Must be of format MajorNum.MinorNum.`,
    };
  }
  const value = entry[1] ?? "";
  if (value === "latest") return MAX_MINOR;
  const m = /^(\d+)\.(\d+)$/.exec(value);
  if (!m) {
    return {
      status: 400,
      message: `API Version String ${value} is of invalid format. Must be of format MajorNum.MinorNum.`,
    };
  }
  const minor = Number(m[2]);
  if (m[1] !== "3" || minor > MAX_MINOR) {
    return {
      status: 406,
      message: `Version ${value} is not supported by the API. Minimum is 3.${MIN_MINOR} and maximum is 3.${MAX_MINOR}.`,
    };
  }
  return minor;
}

// Per-request Nova context (caller and microversion) and the environment routes share.
import type { FastifyRequest } from "fastify";
import type { CinderState } from "../cinder/state.ts";
import type { SimContext } from "../context.ts";
import type { GlanceState } from "../glance/state.ts";
import type { NeutronState } from "../neutron/state.ts";
import type { NovaState } from "./state.ts";

export interface NovaCall {
  projectId: string;
  userId: string;
  admin: boolean;
  minor: number;
}

const calls = new WeakMap<FastifyRequest, NovaCall>();

export const setCall = (req: FastifyRequest, c: NovaCall) => calls.set(req, c);

export function call(req: FastifyRequest): NovaCall {
  const c = calls.get(req);
  if (!c) throw new Error("Nova route reached without authentication");
  return c;
}

export type Schedule = (dueAt: number, run: () => void) => void;

export interface NovaEnv {
  ctx: SimContext;
  state: NovaState;
  neutron: NeutronState;
  cinder: CinderState;
  glance: GlanceState;
  schedule: Schedule;
  /** `${base}/compute` */
  root(): string;
}

export type Query = Record<string, string | string[] | undefined>;
export const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
export const truthy = (v: string | undefined) =>
  v !== undefined && ["1", "true", "yes", "on", ""].includes(v.toLowerCase());

// What every simulated service shares: the identity that validates tokens, the fault
// injection control, the public base URL, and the clock of asynchronous transitions.
import type { FastifyReply, FastifyRequest } from "fastify";

export interface SimToken {
  userId: string;
  userName: string;
  domainId: string;
  /** Set for project-scoped tokens. */
  projectId?: string;
  projectName?: string;
  roles: string[];
  expiresAt: Date;
}

export interface SimIdentity {
  /** Returns the token's data, or undefined if it is unknown, expired or revoked. */
  validate(token: string): SimToken | undefined;
  /** Whether the project exists (other services refuse unknown tenants). */
  projectExists(projectId: string): boolean;
}

export interface Faults {
  /** Probability (0..1) that a request to a non-identity service answers 503. */
  errorRate: number;
  /** Added latency in milliseconds for every request to a non-identity service. */
  latencyMs: number;
  /** New servers go to ERROR with a fault instead of ACTIVE. */
  errorBuilds: boolean;
  /** New servers stay in BUILD forever. */
  stuckBuild: boolean;
  /** Keystone answers every request 503 (an outage); the other services still accept the tokens they know. */
  keystoneDown: boolean;
}

export interface SimOptions {
  /** Milliseconds a server spends in BUILD before ACTIVE. */
  buildDelayMs: number;
  /** Milliseconds a volume spends in creating/attaching transitions. */
  volumeDelayMs: number;
  region: string;
  /** The seeded private subnet: instances' fixed IPs, the addresses they answer at. */
  instanceCidr?: string;
}

export interface SimContext {
  options: SimOptions;
  faults: Faults;
  identity: SimIdentity;
  /** Base URL the simulator is reachable at, e.g. http://127.0.0.1:5000, set once listening. */
  baseUrl(): string;
}

/**
 * Fault injection in front of every non-identity service: waits the added latency, then says
 * whether this request is one the error rate fails (the service answers 503 in its own shape).
 */
export async function injectedFailure(faults: Faults): Promise<boolean> {
  if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
  return faults.errorRate > 0 && Math.random() < faults.errorRate;
}

/** The request's path below the service's mount point, without query or trailing slashes. */
export const servicePath = (url: string, prefix: string) =>
  url.split("?")[0]!.slice(prefix.length).replace(/\/+$/, "");

/** X-Auth-Token as the simulated Keystone validates it: undefined when missing or invalid. */
export function requestToken(ctx: SimContext, req: FastifyRequest): SimToken | undefined {
  const raw = req.headers["x-auth-token"];
  return typeof raw === "string" ? ctx.identity.validate(raw) : undefined;
}

/** keystonemiddleware's 401: it answers before the service sees the request, so in one shape for all. */
export function unauthorized(reply: FastifyReply): FastifyReply {
  return reply.code(401).send({
    error: {
      code: 401,
      title: "Unauthorized",
      message: "The request you have made requires authentication.",
    },
  });
}

export function isAdmin(token: SimToken): boolean {
  return token.roles.includes("admin");
}

export const isoSeconds = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

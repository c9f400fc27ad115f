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
}

export interface SimOptions {
  /** Milliseconds a server spends in BUILD before ACTIVE. */
  buildDelayMs: number;
  /** Milliseconds a volume spends in creating/attaching transitions. */
  volumeDelayMs: number;
  region: string;
}

export interface SimContext {
  options: SimOptions;
  faults: Faults;
  identity: SimIdentity;
  /** Base URL the simulator is reachable at, e.g. http://127.0.0.1:5000, set once listening. */
  baseUrl(): string;
}

/** Per-service error writer: each OpenStack service has its own error body shape. */
export type ErrorWriter = (reply: FastifyReply, status: number, message: string) => FastifyReply;

/**
 * Reads X-Auth-Token and validates it with the simulated Keystone; answers 401 in the
 * service's own shape when it is missing or invalid.
 */
export function requireToken(
  ctx: SimContext,
  req: FastifyRequest,
  reply: FastifyReply,
  writeError: ErrorWriter,
): SimToken | undefined {
  const raw = req.headers["x-auth-token"];
  const token = typeof raw === "string" ? ctx.identity.validate(raw) : undefined;
  if (!token) {
    writeError(reply, 401, "The request you have made requires authentication.");
    return undefined;
  }
  return token;
}

export function isAdmin(token: SimToken): boolean {
  return token.roles.includes("admin");
}

export const isoSeconds = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

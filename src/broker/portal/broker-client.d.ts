// Types of broker-client.js for the TypeScript tests (the browser loads the .js as is and
// never this file, so it may point at the broker's own types instead of restating them).
import type { GetVmResult, ServerView } from "../../core/broker/index.ts";
import type { RequestStep } from "../../shared/types.ts";

export type { ServerView };
export type Step = RequestStep;

/** get-vm's answer for a request that has not failed (a failed one throws PortalError). */
export type VmState = Omit<Extract<GetVmResult, { kind: "state" }>, "kind">;

export interface Warning {
  code: number;
  message: string;
  data: Record<string, unknown>;
}

export interface Credentials {
  user: string;
  password: string;
  domain?: string;
  otp?: string | number;
}

export declare class PortalError extends Error {
  constructor(code: number, message: string, data?: Record<string, unknown>, steps?: Step[]);
  code: number;
  data: Record<string, unknown>;
  steps: Step[];
}

export declare const UNREACHABLE: 0;
export declare const OTP_REQUIRED: 27;
export declare const PASSWORD_EXPIRED: 7;
export declare const PASSWORD_EXPIRING: 19;

export declare function credentials(c: Credentials): Record<string, string>;

export interface BrokerClient {
  getProjects(creds: Credentials): Promise<string[]>;
  requestVm(
    creds: Credentials,
    extra?: Record<string, string | undefined>,
  ): Promise<{ requestId: string; token: string; warning: Warning | null }>;
  getVm(token: string, requestId: string): Promise<VmState>;
  waitForVm(
    token: string,
    requestId: string,
    options?: {
      intervalMs?: number;
      onUpdate?: (state: VmState) => void;
      signal?: AbortSignal;
      maxNetworkFailures?: number;
    },
  ): Promise<VmState>;
  consoleTicket(
    token: string,
    requestId: string,
    client?: { os?: string; client?: string },
  ): Promise<ConsoleAccess>;
  changePassword(input: {
    user: string;
    domain?: string;
    password: string;
    newPassword: string;
  }): Promise<string>;
}

export declare function createBrokerClient(options: {
  baseUrl: string | URL;
  lang?: string;
  fetch?: typeof fetch;
  unreachableMessage?: string;
}): BrokerClient;

export interface Hint {
  kind: "link" | "command";
  text: string;
  href?: string;
}

export declare function connectionHints(
  connType: string | undefined,
  ip: string,
  options?: { ports?: Record<string, string[]>; user?: string },
): Hint[];

export interface ConnectionFile {
  name: string;
  type: string;
  content: string;
}

export declare function connectionFiles(
  connType: string | undefined,
  ip: string,
  options?: { ports?: Record<string, string[]>; user?: string; name?: string },
): ConnectionFile[];

export type ConsoleAccess =
  | { kind: "gateway"; ticket: string; expires_at: string; path: string }
  | { kind: "nova"; protocol: string; type: string; url: string };

export declare function formatDuration(ms: number | null | undefined): string | null;

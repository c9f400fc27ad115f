// rs-server's own service session with the cloud: a project-scoped token for the service
// account, refreshed before it expires, and the endpoints read from its service catalog.
import { CloudError, ServiceHttp } from "./http.ts";

export interface CloudCredentials {
  authUrl: string;
  username: string;
  password: string;
  userDomainName: string;
  projectName: string;
  projectDomainName: string;
  region?: string;
  interface: "public" | "internal" | "admin";
  timeoutMs: number;
  retries: number;
}

export interface CatalogEndpoint {
  interface: string;
  region?: string | null;
  region_id?: string | null;
  url: string;
}
export interface CatalogEntry {
  type: string;
  name?: string;
  endpoints: CatalogEndpoint[];
}

/** Finds the URL of a service type in a Keystone v3 catalog, honouring interface and region. */
export function findEndpoint(
  catalog: CatalogEntry[],
  type: string,
  iface: string,
  region?: string,
): string | undefined {
  const entry = catalog.find((e) => e.type === type);
  if (!entry) return undefined;
  const match = entry.endpoints.find(
    (ep) => ep.interface === iface && (!region || ep.region_id === region || ep.region === region),
  );
  return match?.url;
}

interface ServiceToken {
  value: string;
  expiresAt: number;
  catalog: CatalogEntry[];
  projectId: string;
  userId: string;
}

const REFRESH_MARGIN_MS = 5 * 60 * 1000;

export class CloudSession {
  private current?: ServiceToken;
  private pending?: Promise<ServiceToken>;

  constructor(readonly creds: CloudCredentials) {}

  get authUrl() {
    return this.creds.authUrl.replace(/\/+$/, "");
  }

  async token(force = false): Promise<string> {
    return (await this.valid(force)).value;
  }

  async projectId(): Promise<string> {
    return (await this.valid()).projectId;
  }

  async userId(): Promise<string> {
    return (await this.valid()).userId;
  }

  async endpoint(type: string): Promise<string> {
    const t = await this.valid();
    const url = findEndpoint(t.catalog, type, this.creds.interface, this.creds.region);
    if (!url) throw new CloudError("unavailable", `no ${type} endpoint in the service catalog`, type);
    return url;
  }

  /** A ServiceHttp bound to a catalog service type with this session's token. */
  http(type: string, headers?: Record<string, string>): ServiceHttp {
    return new ServiceHttp({
      service: type,
      endpoint: () => this.endpoint(type),
      token: (force) => this.token(force),
      headers,
      timeoutMs: this.creds.timeoutMs,
      retries: this.creds.retries,
    });
  }

  private async valid(force = false): Promise<ServiceToken> {
    if (!force && this.current && this.current.expiresAt - REFRESH_MARGIN_MS > Date.now())
      return this.current;
    if (!this.pending) {
      this.pending = this.issue().finally(() => {
        this.pending = undefined;
      });
    }
    this.current = await this.pending;
    return this.current;
  }

  private async issue(): Promise<ServiceToken> {
    const http = new ServiceHttp({
      service: "identity",
      endpoint: async () => this.authUrl,
      timeoutMs: this.creds.timeoutMs,
      retries: this.creds.retries,
    });
    const res = await http.request<any>("POST", "/auth/tokens", {
      idempotent: true,
      body: {
        auth: {
          identity: {
            methods: ["password"],
            password: {
              user: {
                name: this.creds.username,
                domain: { name: this.creds.userDomainName },
                password: this.creds.password,
              },
            },
          },
          scope: {
            project: { name: this.creds.projectName, domain: { name: this.creds.projectDomainName } },
          },
        },
      },
    });
    const value = res.headers.get("x-subject-token");
    const token = res.body?.token;
    if (!value || !token) throw new CloudError("unavailable", "Keystone issued no token", "identity");
    return {
      value,
      expiresAt: Date.parse(token.expires_at),
      catalog: token.catalog ?? [],
      projectId: token.project?.id,
      userId: token.user?.id,
    };
  }
}

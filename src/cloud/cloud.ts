// The Cloud aggregate: one typed client per OpenStack service, all on one service session.
// Nova and Cinder create resources only in the token's project, so creating in a pool's
// project goes through a session scoped to it (the service account holds a role there).
import { CINDER_HEADERS, CinderClient } from "./cinder.ts";
import { GlanceClient } from "./glance.ts";
import { ServiceHttp } from "./http.ts";
import { NeutronClient } from "./neutron.ts";
import { NOVA_HEADERS, NovaClient } from "./nova.ts";
import { CloudSession } from "./session.ts";

export interface Cloud<K = unknown> {
  /** Wired by whoever builds the Keystone client (src/cloud/keystone.ts). */
  keystone: K | undefined;
  nova: NovaClient;
  neutron: NeutronClient;
  cinder: CinderClient;
  glance: GlanceClient;
  /** The service session behind every client. */
  session: CloudSession;
}

export interface CloudOptions<K = unknown> {
  keystone?: K;
  /** How to get a session scoped to another project; default: same account, scoped by Keystone lookup. */
  sessionForProject?: (projectId: string) => Promise<CloudSession>;
}

export function createCloud<K = unknown>(session: CloudSession, options: CloudOptions<K> = {}): Cloud<K> {
  const scopes = new ProjectScopes(session, options.sessionForProject);
  return {
    keystone: options.keystone,
    nova: new NovaClient(session.http("compute", NOVA_HEADERS), (p) =>
      scopes.http(p, "compute", NOVA_HEADERS),
    ),
    neutron: new NeutronClient(session.http("network")),
    cinder: new CinderClient(session.http("volumev3", CINDER_HEADERS), (p) =>
      scopes.http(p, "volumev3", CINDER_HEADERS),
    ),
    glance: new GlanceClient(session.http("image")),
    session,
  };
}

/** Project-scoped sessions of the service account, one per project, made on first use. */
export class ProjectScopes {
  private readonly sessions = new Map<string, Promise<CloudSession>>();
  private readonly https = new Map<string, ServiceHttp>();

  constructor(
    private readonly base: CloudSession,
    private readonly make?: (projectId: string) => Promise<CloudSession>,
  ) {}

  async http(projectId: string, type: string, headers?: Record<string, string>): Promise<ServiceHttp> {
    if (projectId === (await this.base.projectId())) return this.base.http(type, headers);
    const key = `${projectId} ${type}`;
    let http = this.https.get(key);
    if (!http) {
      http = (await this.session(projectId)).http(type, headers);
      this.https.set(key, http);
    }
    return http;
  }

  session(projectId: string): Promise<CloudSession> {
    let pending = this.sessions.get(projectId);
    if (!pending) {
      pending = (this.make ?? ((p) => this.scopedByLookup(p)))(projectId);
      // A failed lookup (unknown project, no role yet) must not stick.
      pending.catch(() => this.sessions.delete(projectId));
      this.sessions.set(projectId, pending);
    }
    return pending;
  }

  /** Keystone scopes a password token by project name and domain: look both up by id. */
  private async scopedByLookup(projectId: string): Promise<CloudSession> {
    const identity = new ServiceHttp({
      service: "identity",
      endpoint: async () => this.base.authUrl,
      token: (force) => this.base.token(force),
      timeoutMs: this.base.creds.timeoutMs,
      retries: this.base.creds.retries,
    });
    const { project } = await identity.get<{ project: { name: string; domain_id: string } }>(
      `/projects/${encodeURIComponent(projectId)}`,
    );
    const { domain } = await identity.get<{ domain: { name: string } }>(
      `/domains/${encodeURIComponent(project.domain_id)}`,
    );
    return new CloudSession({
      ...this.base.creds,
      projectName: project.name,
      projectDomainName: domain.name,
    });
  }
}

// The Directory port on the Keystone client. Projects are read and written through the
// client's identity HTTP so that `os_project` is Keystone's own object (links, is_domain,
// parent_id), and so that is_domain reaches Keystone on creation.

import type {
  Directory,
  DirectoryProject,
  DirectoryProjectPatch,
  NewDirectoryProject,
} from "../core/directory.ts";
import { isCloudError } from "./http.ts";
import type { KeystoneClient } from "./keystone.ts";
import type { CloudSession } from "./session.ts";

/** The role rs-server's service account gets on each new TRS project by default (openstack.serviceRole). */
export const SERVICE_ROLE = "admin";

const enc = encodeURIComponent;

function toDirectoryProject(raw: Record<string, any>): DirectoryProject {
  return {
    id: raw.id,
    name: raw.name,
    domainId: raw.domain_id,
    enabled: raw.enabled !== false,
    tags: raw.tags ?? [],
    raw,
  };
}

export class KeystoneDirectory implements Directory {
  private serviceRoleId?: Promise<string | undefined>;

  constructor(
    private readonly keystone: KeystoneClient,
    private readonly session: CloudSession,
    private readonly serviceRole = SERVICE_ROLE,
  ) {}

  async createProject(input: NewDirectoryProject): Promise<DirectoryProject> {
    const project: Record<string, unknown> = { name: input.name, tags: input.tags };
    if (input.domainId !== undefined) project.domain_id = input.domainId;
    if (input.parentId !== undefined) project.parent_id = input.parentId;
    if (input.isDomain !== undefined) project.is_domain = input.isDomain;
    if (input.description !== undefined) project.description = input.description;
    if (input.enabled !== undefined) project.enabled = input.enabled;
    const body = await this.keystone.http.post("/projects", { project });
    return toDirectoryProject(body.project);
  }

  async updateProject(id: string, patch: DirectoryProjectPatch): Promise<DirectoryProject> {
    const project: Record<string, unknown> = {};
    if (patch.name !== undefined) project.name = patch.name;
    if (patch.domainId !== undefined) project.domain_id = patch.domainId;
    if (patch.description !== undefined) project.description = patch.description;
    if (patch.enabled !== undefined) project.enabled = patch.enabled;
    if (patch.tags !== undefined) project.tags = patch.tags;
    const body = await this.keystone.http.patch(`/projects/${enc(id)}`, { project });
    return toDirectoryProject(body.project);
  }

  async deleteProject(id: string): Promise<void> {
    try {
      await this.keystone.deleteProject(id);
    } catch (err) {
      if (!isCloudError(err, "not_found")) throw err;
    }
  }

  async getProject(id: string): Promise<DirectoryProject | undefined> {
    try {
      return toDirectoryProject((await this.keystone.http.get(`/projects/${enc(id)}`)).project);
    } catch (err) {
      if (isCloudError(err, "not_found")) return undefined;
      throw err;
    }
  }

  async listProjectsTagged(tags: string[]): Promise<DirectoryProject[]> {
    const body = await this.keystone.http.get("/projects", { query: { tags: tags.join(",") } });
    return ((body.projects ?? []) as Record<string, any>[]).map(toDirectoryProject);
  }

  async domainIdsNamed(name: string): Promise<string[]> {
    return (await this.keystone.listDomains({ name })).map((d) => d.id);
  }

  missingUsers(ids: string[]): Promise<string[]> {
    return this.keystone.missingUsers(ids);
  }

  missingGroups(ids: string[]): Promise<string[]> {
    return this.keystone.missingGroups(ids);
  }

  async groupsOfUser(userId: string): Promise<string[]> {
    try {
      return (await this.keystone.listUserGroups(userId)).map((g) => g.id);
    } catch (err) {
      if (isCloudError(err, "not_found")) return [];
      throw err;
    }
  }

  async projectIdsOfUser(userId: string): Promise<string[]> {
    const rows = await this.keystone.listRoleAssignments({ userId, effective: true });
    return [...new Set(rows.map((r) => r.projectId).filter((id): id is string => Boolean(id)))];
  }

  userIdsOnProject(projectId: string): Promise<string[]> {
    return this.keystone.projectUserIds(projectId);
  }

  serviceUserId(): Promise<string> {
    return this.session.userId();
  }

  async grantServiceAccess(projectId: string): Promise<boolean> {
    if (!this.serviceRoleId) {
      this.serviceRoleId = this.keystone.findRole(this.serviceRole).then((role) => role?.id);
      this.serviceRoleId.catch(() => {
        this.serviceRoleId = undefined;
      });
    }
    const [roleId, userId] = await Promise.all([this.serviceRoleId, this.session.userId()]);
    // Not cached as missing: the operator may create the role and retry.
    if (!roleId) {
      this.serviceRoleId = undefined;
      return false;
    }
    await this.keystone.grantProjectRole(projectId, { userId }, roleId);
    return true;
  }
}

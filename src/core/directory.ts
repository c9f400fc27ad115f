// What the admin core needs from Keystone, as a port: src/cloud/keystone-directory.ts adapts the
// Keystone client to it, and tests can see at a glance which identity calls each rule makes.

/** A Keystone project as Keystone shows it (`raw` is the untouched object for `os_project`). */
export interface DirectoryProject {
  id: string;
  name: string;
  domainId: string;
  enabled: boolean;
  tags: string[];
  raw: Record<string, unknown>;
}

export interface NewDirectoryProject {
  name: string;
  domainId?: string;
  parentId?: string;
  isDomain?: boolean;
  description?: string;
  enabled?: boolean;
  tags: string[];
}

export interface DirectoryProjectPatch {
  name?: string;
  domainId?: string;
  description?: string;
  enabled?: boolean;
  tags?: string[];
}

export interface Directory {
  createProject(input: NewDirectoryProject): Promise<DirectoryProject>;
  updateProject(id: string, patch: DirectoryProjectPatch): Promise<DirectoryProject>;
  /** Already gone counts as deleted. */
  deleteProject(id: string): Promise<void>;
  getProject(id: string): Promise<DirectoryProject | undefined>;
  /** Every project carrying all these tags, in one call. */
  listProjectsTagged(tags: string[]): Promise<DirectoryProject[]>;
  /** Ids of the domains with this name (zero or one). */
  domainIdsNamed(name: string): Promise<string[]>;
  /** Of these user ids, those Keystone does not know. */
  missingUsers(ids: string[]): Promise<string[]>;
  /** Of these group ids, those Keystone does not know. */
  missingGroups(ids: string[]): Promise<string[]>;
  /** Groups the user belongs to. */
  groupsOfUser(userId: string): Promise<string[]>;
  /** Projects on which the user holds a role, directly or through a group (one call). */
  projectIdsOfUser(userId: string): Promise<string[]>;
  /** Users holding a role on the project, directly or through a group (one call). */
  userIdsOnProject(projectId: string): Promise<string[]>;
  /** The user id of rs-server's own service account (not a desktop user). */
  serviceUserId(): Promise<string>;
  /**
   * Gives rs-server's service account the role it needs to create servers in the project;
   * false when Keystone has no role of the configured name.
   */
  grantServiceAccess(projectId: string): Promise<boolean>;
}

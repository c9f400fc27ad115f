// What `keystone-manage bootstrap` plus a demo setup leave behind: the Default domain, roles
// admin > member > reader, an admin user and project, a "demo" domain with user and project,
// and the service catalog.
import { randomBytes } from "node:crypto";
import { makeService } from "./catalog.ts";
import type { Keystone } from "./core.ts";
import { setPassword } from "./passwords.ts";
import { newId, type ProjectRec, type UserRec } from "./state.ts";

export interface KeystoneSeedInput {
  adminPassword?: string;
  demoPassword?: string;
  region: string;
}

export interface KeystoneSeed {
  adminPassword: string;
  demoPassword: string;
  adminUserId: string;
  adminProjectId: string;
  demoUserId: string;
  demoProjectId: string;
  demoDomainId: string;
}

/** A password that satisfies any usual complexity rule. */
export const generatePassword = () => `Rs-${randomBytes(12).toString("base64url")}9a`;

function project(ks: Keystone, name: string, domainId: string, description: string): ProjectRec {
  const p = {
    id: newId(),
    name,
    domainId,
    description,
    enabled: true,
    parentId: domainId,
    tags: [],
    extra: {},
  };
  ks.state.projects[p.id] = p;
  return p;
}

function user(
  ks: Keystone,
  name: string,
  domainId: string,
  password: string,
  options: Record<string, unknown>,
) {
  const u: UserRec = {
    id: newId(),
    name,
    domainId,
    enabled: true,
    extra: {},
    options,
    passwords: [],
    failedAuthCount: 0,
  };
  setPassword(ks, u, password, true);
  ks.state.users[u.id] = u;
  return u;
}

export function seedKeystone(ks: Keystone, input: KeystoneSeedInput): KeystoneSeed {
  const s = ks.state;
  s.domains.default = {
    id: "default",
    name: "Default",
    description: "The default domain",
    enabled: true,
    tags: [],
  };
  const role = (name: string) => {
    const r = { id: newId(), name, description: "" };
    s.roles[r.id] = r;
    return r;
  };
  const admin = role("admin");
  const member = role("member");
  const reader = role("reader");
  role("service");
  s.implied[admin.id] = [member.id];
  s.implied[member.id] = [reader.id];

  const adminPassword = input.adminPassword ?? generatePassword();
  const demoPassword = input.demoPassword ?? generatePassword();
  const adminProject = project(ks, "admin", "default", "Bootstrap project for initializing the cloud.");
  // The admin account is the service account of rs-server: it must never lock or expire.
  const adminUser = user(ks, "admin", "default", adminPassword, {
    ignore_lockout_failure_attempts: true,
    ignore_password_expiry: true,
  });
  adminUser.defaultProjectId = adminProject.id;
  s.grants.push({
    actor: "user",
    actorId: adminUser.id,
    target: "project",
    targetId: adminProject.id,
    roleId: admin.id,
  });
  s.grants.push({
    actor: "user",
    actorId: adminUser.id,
    target: "domain",
    targetId: "default",
    roleId: admin.id,
  });
  // keystone-manage bootstrap gives the admin the admin role on the system too (since Rocky).
  s.grants.push({
    actor: "user",
    actorId: adminUser.id,
    target: "system",
    targetId: "all",
    roleId: admin.id,
  });

  const demoDomain = {
    id: newId(),
    name: "demo",
    description: "Demo users and projects",
    enabled: true,
    tags: [],
  };
  s.domains[demoDomain.id] = demoDomain;
  const demoProject = project(ks, "demo", demoDomain.id, "Demo project");
  const demoUser = user(ks, "demo", demoDomain.id, demoPassword, {});
  demoUser.defaultProjectId = demoProject.id;
  s.grants.push({
    actor: "user",
    actorId: demoUser.id,
    target: "project",
    targetId: demoProject.id,
    roleId: member.id,
  });

  const r = input.region;
  s.services = [
    makeService("identity", "keystone", "{base}/identity/v3", r),
    makeService("compute", "nova", "{base}/compute/v2.1", r),
    makeService("network", "neutron", "{base}/network", r),
    makeService("volumev3", "cinderv3", "{base}/volume/v3/%(project_id)s", r),
    makeService("image", "glance", "{base}/image", r),
  ];
  ks.touch();
  return {
    adminPassword,
    demoPassword,
    adminUserId: adminUser.id,
    adminProjectId: adminProject.id,
    demoUserId: demoUser.id,
    demoProjectId: demoProject.id,
    demoDomainId: demoDomain.id,
  };
}

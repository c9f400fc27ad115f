// Keystone's contract as rs-server relies on it, through src/cloud/keystone.ts: end-user
// authentication outcomes, token validation and rescoping, projects with tags, domains,
// users, groups, effective role assignments and the self-service password change.
//
// Runs on the simulator, or on any cloud given as RS_CONTRACT_CLOUD=<clouds.yaml>#<cloud>
// (an admin account). It creates its own uniquely named domain and removes it at the end.
// Checks that need keystone.conf settings run when RS_CONTRACT_KEYSTONE lists them, e.g.
// "totp,lockout=5,unique_passwords=3" ([auth] methods with totp, lockout_failure_attempts,
// unique_last_password_count); on the simulator that is its documented default.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { authenticator } from "otplib";
import type { AuthOutcome } from "../../src/cloud/keystone.ts";
import {
  KeystoneClient,
  type KsDomain,
  type KsGroup,
  type KsProject,
  type KsUser,
} from "../../src/cloud/keystone.ts";
import { type CloudUnderTest, cloudUnderTest, unique } from "./cloud-under-test.ts";

function features(kind: CloudUnderTest["kind"]) {
  const spec =
    process.env.RS_CONTRACT_KEYSTONE ?? (kind === "simulator" ? "totp,lockout=5,unique_passwords=3" : "");
  const map = new Map(
    spec
      .split(",")
      .filter(Boolean)
      .map((f) => {
        const [k, v] = f.split("=");
        return [k.trim(), Number(v ?? 1)] as const;
      }),
  );
  return {
    totp: map.has("totp"),
    lockout: map.get("lockout") ?? 0,
    uniquePasswords: map.get("unique_passwords") ?? 0,
  };
}

function ok(outcome: AuthOutcome) {
  assert.equal(outcome.kind, "ok", `expected a token, got ${JSON.stringify(outcome)}`);
  return outcome as Extract<AuthOutcome, { kind: "ok" }>;
}

describe("Keystone contract", () => {
  let cut: CloudUnderTest;
  let ks: KeystoneClient;
  let feat: ReturnType<typeof features>;
  let domain: KsDomain;
  let project: KsProject;
  let group: KsGroup;
  let alice: KsUser;
  let bob: KsUser;
  let memberRoleId: string;
  const tag = unique("tag").slice(0, 60);
  const password = `Pw-${unique("a")}`;

  before(async () => {
    cut = await cloudUnderTest();
    ks = new KeystoneClient(cut.session);
    feat = features(cut.kind);
    domain = await ks.createDomain({ name: unique("dom"), description: "rs-server contract suite" });
    cut.defer(() => ks.deleteDomain(domain.id));
    project = await ks.createProject({ name: unique("pool"), domainId: domain.id, tags: [tag] });
    alice = await ks.createUser({ name: unique("alice"), domainId: domain.id, password });
    bob = await ks.createUser({ name: unique("bob"), domainId: domain.id, password });
    group = await ks.createGroup({ name: unique("grp"), domainId: domain.id });
    const member = await ks.findRole("member");
    assert.ok(member, "the cloud has a member role");
    memberRoleId = member.id;
    await ks.addUserToGroup(group.id, alice.id);
    await ks.grantProjectRole(project.id, { groupId: group.id }, memberRoleId);
    await ks.grantProjectRole(project.id, { userId: bob.id }, memberRoleId);
  });

  after(async () => {
    await cut?.stop();
  });

  const asUser = (u: KsUser) => ({ username: u.name, userDomainName: domain.name });

  describe("authentication", () => {
    test("a password scoped by project name gives a token with user, project, roles and expiry", async () => {
      const res = ok(
        await ks.authenticatePassword({
          user: asUser(alice),
          password,
          scope: { projectName: project.name, projectDomainName: domain.name },
        }),
      );
      assert.ok(res.token.length > 20);
      assert.equal(res.info.userId, alice.id);
      assert.equal(res.info.userDomainName, domain.name);
      assert.equal(res.info.projectId, project.id);
      assert.ok(
        res.info.roles.some((r) => r.name === "member"),
        "the member role comes through the group",
      );
      assert.ok(res.info.expiresAt.getTime() > Date.now());
      assert.ok(res.info.passwordExpiresAt === null || res.info.passwordExpiresAt instanceof Date);
      assert.deepEqual(res.info.methods, ["password"]);
    });

    test("the user's domain may be named in another case (case-insensitive collation)", async () => {
      const res = ok(
        await ks.authenticatePassword({
          user: { username: alice.name, userDomainName: domain.name.toUpperCase() },
          password,
        }),
      );
      assert.equal(res.info.userId, alice.id);
    });

    test("a wrong password, an unknown user and an unknown domain are told apart", async () => {
      const wrong = await ks.authenticatePassword({ user: asUser(alice), password: "not-the-password" });
      assert.equal(wrong.kind, "invalid_credentials");
      const nobody = await ks.authenticatePassword({
        user: { username: unique("nobody"), userDomainName: domain.name },
        password,
      });
      assert.equal(nobody.kind, "user_not_found");
      const nowhere = await ks.authenticatePassword({
        user: { username: alice.name, userDomainName: unique("nowhere") },
        password,
      });
      assert.deepEqual(nowhere.kind, "domain_not_found");
    });

    test("a disabled user is reported as such", async () => {
      const carol = await ks.createUser({
        name: unique("carol"),
        domainId: domain.id,
        password,
        enabled: false,
      });
      const res = await ks.authenticatePassword({ user: asUser(carol), password });
      assert.equal(res.kind, "user_disabled");
    });

    test("token auth rescopes an unscoped token to a project", async () => {
      const first = ok(
        await ks.authenticatePassword({ user: { userId: bob.id }, password, scope: "unscoped" }),
      );
      assert.equal(first.info.projectId, undefined);
      const projects = await ks.listTokenProjects(first.token);
      assert.deepEqual(
        projects.map((p) => p.id),
        [project.id],
      );
      const scoped = ok(await ks.authenticateToken(first.token, { projectId: project.id }));
      assert.equal(scoped.info.projectId, project.id);
      assert.ok(scoped.info.methods.includes("token"));
      assert.ok(scoped.info.expiresAt.getTime() <= first.info.expiresAt.getTime());
    });

    test("validation returns the token's user, project and roles; a revoked or made-up token is invalid", async () => {
      const login = ok(
        await ks.authenticatePassword({
          user: { userId: bob.id },
          password,
          scope: { projectId: project.id },
        }),
      );
      const info = await ks.validateToken(login.token);
      assert.ok(info);
      assert.equal(info.userId, bob.id);
      assert.equal(info.projectId, project.id);
      assert.ok(info.roles.some((r) => r.id === memberRoleId));
      assert.equal(info.expiresAt.getTime(), login.info.expiresAt.getTime());
      await ks.revokeToken(login.token);
      assert.equal(await ks.validateToken(login.token), undefined);
      assert.equal(await ks.validateToken("gAAAAABnot-a-real-token"), undefined);
    });

    test("MFA rules: password alone needs more, the receipt plus a TOTP passcode completes it", async (t) => {
      if (!feat.totp) return t.skip("RS_CONTRACT_KEYSTONE does not list totp");
      const dave = await ks.createUser({
        name: unique("dave"),
        domainId: domain.id,
        password,
        options: { multi_factor_auth_rules: [["password", "totp"]], multi_factor_auth_enabled: true },
      });
      const secret = authenticator.generateSecret(20);
      await ks.createTotpCredential(dave.id, secret);
      assert.equal((await ks.listCredentials({ userId: dave.id, type: "totp" })).length, 1);
      const first = await ks.authenticatePassword({ user: asUser(dave), password, scope: "unscoped" });
      assert.equal(first.kind, "mfa_required");
      if (first.kind !== "mfa_required") return;
      assert.equal(first.userId, dave.id);
      assert.ok(first.requiredMethods.some((rule) => rule.includes("totp")));
      const done = ok(
        await ks.authenticateTotp({
          user: { userId: dave.id },
          passcode: authenticator.generate(secret),
          receipt: first.receipt,
          scope: "unscoped",
        }),
      );
      assert.deepEqual([...done.info.methods].sort(), ["password", "totp"]);
    });

    test("repeated failures lock the account out", async (t) => {
      if (!feat.lockout) return t.skip("RS_CONTRACT_KEYSTONE does not give lockout=<attempts>");
      const erin = await ks.createUser({ name: unique("erin"), domainId: domain.id, password });
      for (let i = 0; i < feat.lockout; i++) {
        assert.equal(
          (await ks.authenticatePassword({ user: asUser(erin), password: "wrong" })).kind,
          "invalid_credentials",
        );
      }
      // Keystone answers a locked account with the plain 401 of a wrong password.
      const locked = await ks.authenticatePassword({ user: asUser(erin), password });
      assert.deepEqual(locked, { kind: "invalid_credentials" });
    });
  });

  describe("self-service password change", () => {
    test("a change revokes the user's tokens to the second: one issued in that second is refused, a later one works", async () => {
      const gina = await ks.createUser({ name: unique("gina"), domainId: domain.id, password });
      const earlier = ok(await ks.authenticatePassword({ user: asUser(gina), password }));
      const wholeSecond = (d: Date | number) => Math.floor(new Date(d).getTime() / 1000);
      let current = password;
      let sameSecond: string | undefined;
      // A token's issued_at is in whole seconds (Fernet), so a login right after the change,
      // in the same second, gets a token the change's revocation event already covers.
      for (let attempt = 0; attempt < 5 && !sameSecond; attempt++) {
        await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
        const second = wholeSecond(Date.now());
        const next = `Gina-pass-${attempt}-${unique("p")}`;
        assert.deepEqual(await ks.changePassword(gina.id, current, next), { kind: "ok" });
        current = next;
        const token = ok(await ks.authenticatePassword({ user: asUser(gina), password: current }));
        if (wholeSecond(token.info.issuedAt) === second) sameSecond = token.token;
      }
      assert.ok(sameSecond, "a change and a login fit in one second in five tries");
      assert.equal(await ks.validateToken(sameSecond), undefined);
      assert.equal(await ks.validateToken(earlier.token), undefined);
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
      const later = ok(await ks.authenticatePassword({ user: asUser(gina), password: current }));
      assert.equal((await ks.validateToken(later.token))?.userId, gina.id);
    });

    test("wrong original password, success, then the old password is refused and the new one works", async (t) => {
      const frank = await ks.createUser({ name: unique("frank"), domainId: domain.id, password });
      assert.deepEqual(await ks.changePassword(frank.id, "not-it", "Next-pass-123"), {
        kind: "wrong_password",
      });
      assert.deepEqual(await ks.changePassword(frank.id, password, "Next-pass-123"), { kind: "ok" });
      assert.equal(
        (await ks.authenticatePassword({ user: asUser(frank), password })).kind,
        "invalid_credentials",
      );
      ok(await ks.authenticatePassword({ user: asUser(frank), password: "Next-pass-123" }));
      if (feat.uniquePasswords < 2) return t.skip("RS_CONTRACT_KEYSTONE does not give unique_passwords>=2");
      const back = await ks.changePassword(frank.id, "Next-pass-123", password);
      assert.equal(back.kind, "policy_violation");
      if (back.kind === "policy_violation") assert.match(back.message, /previous password/);
    });
  });

  describe("projects", () => {
    test("get, find by name, list by tag and domain", async () => {
      assert.deepEqual(await ks.getProject(project.id), project);
      assert.equal((await ks.findProject(project.name, domain.id))?.id, project.id);
      assert.equal(await ks.findProject(unique("none"), domain.id), undefined);
      const tagged = await ks.listProjects({ tags: [tag], domainId: domain.id });
      assert.deepEqual(
        tagged.map((p) => p.id),
        [project.id],
      );
      const untagged = await ks.listProjects({ domainId: domain.id, notTags: [tag] });
      assert.ok(!untagged.some((p) => p.id === project.id));
    });

    test("tags can be added, listed and removed; updates change name and enabled", async () => {
      const p = await ks.createProject({ name: unique("tmp"), domainId: domain.id, description: "x" });
      await ks.addProjectTag(p.id, "trs");
      assert.deepEqual(await ks.listProjectTags(p.id), ["trs"]);
      await ks.removeProjectTag(p.id, "trs");
      assert.deepEqual(await ks.listProjectTags(p.id), []);
      const renamed = unique("renamed");
      const updated = await ks.updateProject(p.id, { name: renamed, enabled: false, tags: ["a", "b"] });
      assert.equal(updated.name, renamed);
      assert.equal(updated.enabled, false);
      assert.deepEqual([...updated.tags].sort(), ["a", "b"]);
      await ks.deleteProject(p.id);
      await assert.rejects(ks.getProject(p.id), (err: any) => err.kind === "not_found");
    });

    test("a duplicate name in one domain is a conflict", async () => {
      await assert.rejects(
        ks.createProject({ name: project.name, domainId: domain.id }),
        (err: any) => err.kind === "conflict",
      );
    });
  });

  describe("domains, users and groups", () => {
    test("a domain is found by name and by id", async () => {
      assert.equal((await ks.findDomainByName(domain.name))?.id, domain.id);
      // Keystone's usual MySQL/MariaDB backend (openstack-lite's too) compares names without
      // case: the reference's examples log in with "user_domain_name": "default".
      assert.equal((await ks.findDomainByName(domain.name.toUpperCase()))?.id, domain.id);
      assert.equal((await ks.findDomainByName("default"))?.id, "default");
      assert.equal((await ks.getDomain(domain.id)).name, domain.name);
      assert.equal(await ks.findDomainByName(unique("nodomain")), undefined);
    });

    test("users are found by name in a domain and by id; unknown ids are reported missing", async () => {
      assert.equal((await ks.findUser(alice.name, domain.id))?.id, alice.id);
      assert.equal((await ks.getUser(bob.id)).name, bob.name);
      const all = await ks.listUsers({ domainId: domain.id });
      assert.ok(all.some((u) => u.id === alice.id) && all.some((u) => u.id === bob.id));
      const fake = "0123456789abcdef0123456789abcdef";
      assert.deepEqual(await ks.missingUsers([alice.id, fake]), [fake]);
    });

    test("users and groups are found by part of their name, case ignored (name__icontains)", async () => {
      // unique() names are rsct-<run>-<prefix>-<hex>: upper-cased parts of them match in another case.
      const users = await ks.listUsers({ nameContains: "ALICE", domainId: domain.id });
      assert.deepEqual(
        users.map((u) => u.id),
        [alice.id],
      );
      const groups = await ks.listGroups({
        nameContains: group.name.slice(0, 6).toUpperCase(),
        domainId: domain.id,
      });
      assert.deepEqual(
        groups.map((g) => g.id),
        [group.id],
      );
      assert.deepEqual(await ks.listUsers({ nameContains: "no-such-part", domainId: domain.id }), []);
    });

    test("role assignments with names carry the user's and the group's domain", async () => {
      const direct = await ks.listRoleAssignments({
        projectId: project.id,
        roleId: memberRoleId,
        includeNames: true,
      });
      const toBob = direct.find((r) => r.userId === bob.id);
      const toGroup = direct.find((r) => r.groupId === group.id);
      assert.equal(toBob?.userDomainId, domain.id);
      assert.equal(toGroup?.groupDomainId, domain.id);
      assert.equal(toGroup?.groupName, group.name);
    });

    test("group membership reads both ways", async () => {
      assert.deepEqual(
        (await ks.listUserGroups(alice.id)).map((g) => g.id),
        [group.id],
      );
      assert.deepEqual(
        (await ks.listGroupUsers(group.id)).map((u) => u.id),
        [alice.id],
      );
      assert.equal(await ks.isUserInGroup(group.id, alice.id), true);
      assert.equal(await ks.isUserInGroup(group.id, bob.id), false);
      const fake = "0123456789abcdef0123456789abcdee";
      assert.deepEqual(await ks.missingGroups([group.id, fake]), [fake]);
    });
  });

  describe("role assignments", () => {
    test("effective assignments of a project list direct users and group members, with names", async () => {
      const rows = (await ks.effectiveProjectAssignments(project.id)).filter(
        (r) => r.roleId === memberRoleId,
      );
      const viaGroup = rows.find((r) => r.userId === alice.id);
      assert.ok(viaGroup, "alice holds member through the group");
      assert.equal(viaGroup.viaGroupId, group.id);
      assert.equal(viaGroup.userName, alice.name);
      assert.equal(viaGroup.roleName, "member");
      const direct = rows.find((r) => r.userId === bob.id);
      assert.ok(direct);
      assert.equal(direct.viaGroupId, undefined);
      assert.deepEqual((await ks.projectUserIds(project.id)).sort(), [alice.id, bob.id].sort());
      assert.equal(await ks.hasProjectRole(project.id, { userId: bob.id }, memberRoleId), true);
      assert.equal(await ks.hasProjectRole(project.id, { userId: alice.id }, memberRoleId), false);
    });

    test("a user's projects include those reached through a group", async () => {
      assert.deepEqual(
        (await ks.listUserProjects(alice.id)).map((p) => p.id),
        [project.id],
      );
    });

    test("revoking a grant removes it from the listing", async () => {
      const p = await ks.createProject({ name: unique("rev"), domainId: domain.id });
      await ks.grantProjectRole(p.id, { userId: bob.id }, memberRoleId);
      assert.equal((await ks.listRoleAssignments({ projectId: p.id })).length, 1);
      await ks.revokeProjectRole(p.id, { userId: bob.id }, memberRoleId);
      assert.equal((await ks.listRoleAssignments({ projectId: p.id })).length, 0);
    });

    test("a grant sent with Content-Type: application/json and no body succeeds (curl -X PUT -H ...)", async () => {
      const p = await ks.createProject({ name: unique("ct"), domainId: domain.id });
      const res = await fetch(
        `${cut.session.authUrl}/projects/${p.id}/users/${bob.id}/roles/${memberRoleId}`,
        {
          method: "PUT",
          headers: { "X-Auth-Token": await cut.session.token(), "Content-Type": "application/json" },
        },
      );
      assert.equal(res.status, 204, await res.text());
      assert.ok(await ks.hasProjectRole(p.id, { userId: bob.id }, memberRoleId));
    });
  });
  // What rs-server's scoped admin (docs/security.md#scopes) reads from a token: its scope.
  describe("token scopes", () => {
    test("a domain-scoped token names its domain and the roles held on it, no project", async () => {
      const admin = await ks.findRole("admin");
      assert.ok(admin, "the cloud has an admin role");
      const dave = await ks.createUser({ name: unique("dave"), domainId: domain.id, password });
      await ks.grantDomainRole(domain.id, { userId: dave.id }, admin.id);
      const res = ok(
        await ks.authenticatePassword({ user: asUser(dave), password, scope: { domainId: domain.id } }),
      );
      assert.equal(res.info.domainId, domain.id);
      assert.equal(res.info.domainName, domain.name);
      assert.equal(res.info.projectId, undefined);
      assert.equal(res.info.system, false);
      assert.ok(res.info.roles.some((r) => r.name === "admin"));
      const seen = await ks.validateToken(res.token);
      assert.equal(seen?.domainId, domain.id);
      assert.equal(seen?.system, false);
    });

    test("the admin role on the system gives a system-scoped token (system: {all: true})", async () => {
      const admin = await ks.findRole("admin");
      assert.ok(admin);
      const erin = await ks.createUser({ name: unique("erin"), domainId: domain.id, password });
      const refused = await ks.authenticatePassword({
        user: asUser(erin),
        password,
        scope: { system: "all" },
      });
      assert.notEqual(refused.kind, "ok", "no system role, no system-scoped token");
      await ks.grantSystemRole({ userId: erin.id }, admin.id);
      const rows = await ks.listRoleAssignments({ userId: erin.id, system: true });
      assert.deepEqual(
        rows.map((r) => ({
          roleId: r.roleId,
          system: r.system,
          projectId: r.projectId,
          domainId: r.domainId,
        })),
        [{ roleId: admin.id, system: true, projectId: undefined, domainId: undefined }],
      );
      const res = ok(
        await ks.authenticatePassword({ user: asUser(erin), password, scope: { system: "all" } }),
      );
      assert.equal(res.info.system, true);
      assert.equal(res.info.projectId, undefined);
      assert.equal(res.info.domainId, undefined);
      assert.ok(res.info.roles.some((r) => r.name === "admin"));
      const seen = await ks.validateToken(res.token);
      assert.equal(seen?.system, true);
      assert.ok(seen?.roles.some((r) => r.name === "admin"));
      // Not every token of the user is system-scoped: a project one says nothing of the system.
      await ks.grantProjectRole(project.id, { userId: erin.id }, memberRoleId);
      const scoped = ok(
        await ks.authenticatePassword({ user: asUser(erin), password, scope: { projectId: project.id } }),
      );
      assert.equal(scoped.info.system, false);
    });
  });
});

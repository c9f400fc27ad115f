// Password storage and Keystone's [security_compliance] rules: expiry, history, minimum age,
// complexity regex, and the lockout counter.
import { randomBytes, scryptSync, timingSafeEqual } from "node:crypto";
import type { Keystone } from "./core.ts";
import { KsError } from "./errors.ts";
import type { PasswordRec, UserRec } from "./state.ts";

// A low scrypt cost: the simulator hashes so that the state file holds no plaintext, not to
// resist offline attacks, and tests authenticate hundreds of times.
const SCRYPT = { N: 1024, r: 8, p: 1 };

function hash(password: string, salt: string) {
  return scryptSync(password, salt, 32, SCRYPT).toString("base64");
}

function matches(rec: Pick<PasswordRec, "hash" | "salt">, password: string) {
  const a = Buffer.from(hash(password, rec.salt), "base64");
  const b = Buffer.from(rec.hash, "base64");
  return a.length === b.length && timingSafeEqual(a, b);
}

export function checkPassword(user: UserRec, password: string): boolean {
  const current = user.passwords[0];
  return current !== undefined && typeof password === "string" && matches(current, password);
}

export function passwordExpired(user: UserRec, now = Date.now()): boolean {
  const expiresAt = user.passwords[0]?.expiresAt;
  if (!expiresAt || user.options.ignore_password_expiry === true) return false;
  return Date.parse(expiresAt) <= now;
}

export function passwordExpiresAt(user: UserRec): string | null {
  return user.passwords[0]?.expiresAt ?? null;
}

/**
 * Sets a user's password after Keystone's checks. `selfService` is the user's own change
 * (minimum age applies); otherwise an admin set it (first-use expiry applies).
 */
export function setPassword(ks: Keystone, user: UserRec, password: unknown, selfService: boolean) {
  if (typeof password !== "string" || password.length === 0) {
    throw new KsError(400, "Invalid input for field 'password': expected a non-empty string.");
  }
  const s = ks.settings;
  if (s.passwordRegex && !new RegExp(s.passwordRegex).test(password)) {
    const detail =
      s.passwordRegexDescription || "the password does not match the configured regular expression";
    throw new KsError(400, `The password does not match the requirements: ${detail}.`);
  }
  const now = new Date();
  if (selfService && s.minimumPasswordAgeDays > 0 && user.passwords[0]) {
    const ageDays = (now.getTime() - Date.parse(user.passwords[0].createdAt)) / 86_400_000;
    if (ageDays < s.minimumPasswordAgeDays) {
      const daysLeft = Math.ceil(s.minimumPasswordAgeDays - ageDays);
      throw new KsError(
        400,
        "You cannot change your password at this time due to the minimum password age. Once you change " +
          `your password, it must be used for ${s.minimumPasswordAgeDays} day(s) before it can be changed. ` +
          `Please try again in ${daysLeft} day(s) or contact your administrator to reset your password.`,
      );
    }
  }
  const unique = Math.max(1, s.uniqueLastPasswordCount);
  if (
    s.uniqueLastPasswordCount > 1 &&
    user.passwords.slice(0, unique - 1).some((p) => matches(p, password))
  ) {
    throw new KsError(
      400,
      "The new password cannot be identical to a previous password. The total number which includes the " +
        `new password must be unique is ${s.uniqueLastPasswordCount}.`,
    );
  }
  const salt = randomBytes(16).toString("base64");
  let expiresAt: string | null = null;
  if (user.options.ignore_password_expiry !== true && s.passwordExpiresDays > 0) {
    const at = new Date(now.getTime() + s.passwordExpiresDays * 86_400_000);
    at.setUTCMilliseconds(0);
    expiresAt = at.toISOString();
  }
  if (
    !selfService &&
    s.changePasswordUponFirstUse &&
    user.options.ignore_change_password_upon_first_use !== true
  ) {
    expiresAt = now.toISOString();
  }
  user.passwords = [
    { hash: hash(password, salt), salt, createdAt: now.toISOString(), expiresAt },
    ...user.passwords,
  ];
  user.passwords.length = Math.min(user.passwords.length, Math.max(unique, 1));
  user.failedAuthCount = 0;
  user.failedAuthAt = undefined;
}

/** Keystone's _is_account_locked: counts failures, and forgets them after the lockout duration. */
export function isLocked(ks: Keystone, user: UserRec, now = Date.now()): boolean {
  const { lockoutFailureAttempts: max, lockoutDurationSec: duration } = ks.settings;
  if (user.options.ignore_lockout_failure_attempts === true) return false;
  if (!max || user.failedAuthCount < max) return false;
  if (!duration) return true;
  if (user.failedAuthAt && Date.parse(user.failedAuthAt) + duration * 1000 > now) return true;
  user.failedAuthCount = 0;
  user.failedAuthAt = undefined;
  return false;
}

export function recordFailure(ks: Keystone, user: UserRec) {
  user.failedAuthCount += 1;
  user.failedAuthAt = new Date().toISOString();
  ks.touch();
}

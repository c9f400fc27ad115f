// Keystone's project and domain tag rules: at most 80 tags of 1-255 characters, no "," or "/".
import { badRequest } from "./errors.ts";

const TAG_RE = /^[^,/]{1,255}$/;

export function validTag(tag: unknown, field = "tags"): string {
  if (typeof tag !== "string" || !TAG_RE.test(tag)) {
    throw badRequest(`Invalid input for field '${field}': ${JSON.stringify(tag)} does not match '^[^,/]*$'`);
  }
  return tag;
}

export function validTags(tags: unknown): string[] {
  if (!Array.isArray(tags)) throw badRequest("Invalid input for field 'tags': expected a list.");
  if (tags.length > 80) throw badRequest("Invalid input for field 'tags': too many tags (at most 80).");
  return [...new Set(tags.map((t, i) => validTag(t, `tags/${i}`)))];
}

/** The ?tags, ?tags-any, ?not-tags, ?not-tags-any filters (comma-separated lists). */
export function matchesTagFilters(tags: string[], q: Record<string, string | undefined>): boolean {
  const list = (v?: string) => (v ? v.split(",").filter(Boolean) : undefined);
  const all = list(q.tags);
  const any = list(q["tags-any"]);
  const notAll = list(q["not-tags"]);
  const notAny = list(q["not-tags-any"]);
  if (all && !all.every((t) => tags.includes(t))) return false;
  if (any && !any.some((t) => tags.includes(t))) return false;
  if (notAll?.every((t) => tags.includes(t))) return false;
  if (notAny?.some((t) => tags.includes(t))) return false;
  return true;
}

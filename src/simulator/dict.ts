// Records keyed by ids that clients send: without a prototype, so that an id such as
// "__proto__" or "constructor" names nothing instead of Object.prototype's members.

export function dict<T>(from?: Record<string, T>): Record<string, T> {
  return Object.assign(Object.create(null) as Record<string, T>, from);
}

// Reserve schedules: a pool's windows (days of week, start and end time in a time zone,
// holiday dates excluded), each with its own reserve target and optional cap of instances.
// Outside every window the pool's own min_reserve_vm holds. The keeper fills ahead of a
// window by a lead time, so the target in effect at `t` is the higher of the targets at `t`
// and at `t + lead` (a window's desktops are ACTIVE when it opens, and kept until it closes).
// Time zones come from Intl (IANA names); no dependency.
//   parseSchedule(json)          → a valid schedule, or throws invalid(...) (a 400 envelope)
//   targetInEffect(s, base, t, leadMs) → { target, maxInstances }
//   nextChange(s, base, t, leadMs)     → { at, target } of the next change, or null
import { invalid } from "./errors.ts";

export const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
export type Day = (typeof DAYS)[number];

export interface ReserveWindow {
  days: Day[];
  /** HH:MM, local time of time_zone. */
  start: string;
  /** HH:MM (24:00 allowed); before start: the window runs past midnight. */
  end: string;
  /** IANA time zone, e.g. Europe/Paris. */
  time_zone: string;
  target: number;
  /** At most this many live instances in the pool while the window is in effect. */
  max_instances?: number | null;
}

export interface ReserveSchedule {
  windows: ReserveWindow[];
  /** YYYY-MM-DD dates (in each window's time zone) on which no window opens. */
  holidays: string[];
}

export interface InEffect {
  target: number;
  /** Cap of the pool's live instances; null: none. */
  maxInstances: number | null;
}

export const MAX_WINDOWS = 50;
export const MAX_HOLIDAYS = 1000;
const MAX_TARGET = 10000;
const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** How far ahead next_change is looked for. */
const HORIZON_DAYS = 9;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Minutes since midnight of HH:MM (24:00 → 1440 when `end`). */
function minutesOf(hhmm: string, end: boolean): number {
  if (end && hhmm === "24:00") return 1440;
  const m = HHMM.exec(hhmm);
  if (!m) return Number.NaN;
  return Number(m[1]) * 60 + Number(m[2]);
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function isDate(s: string): boolean {
  const m = DATE.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === s;
}

/** The schedule in `json`, checked; throws invalid(...) naming the first problem. */
export function parseSchedule(json: unknown): ReserveSchedule {
  if (!isObject(json)) throw invalid("reserve_schedule must be an object with windows (or null)");
  for (const key of Object.keys(json)) {
    if (key !== "windows" && key !== "holidays") throw invalid(`reserve_schedule has an unknown key: ${key}`);
  }
  const { windows, holidays = [] } = json;
  if (!Array.isArray(windows)) throw invalid("reserve_schedule.windows must be a list");
  if (windows.length > MAX_WINDOWS) throw invalid(`reserve_schedule has more than ${MAX_WINDOWS} windows`);
  if (!Array.isArray(holidays)) throw invalid("reserve_schedule.holidays must be a list of YYYY-MM-DD dates");
  if (holidays.length > MAX_HOLIDAYS)
    throw invalid(`reserve_schedule has more than ${MAX_HOLIDAYS} holidays`);
  for (const h of holidays) {
    if (typeof h !== "string" || !isDate(h)) {
      throw invalid(`reserve_schedule.holidays: ${JSON.stringify(h)} is not a YYYY-MM-DD date`);
    }
  }
  const parsed = windows.map((w, i): ReserveWindow => {
    const where = `reserve_schedule.windows[${i}]`;
    if (!isObject(w)) throw invalid(`${where} must be an object`);
    const known = ["days", "start", "end", "time_zone", "target", "max_instances"];
    for (const key of Object.keys(w)) {
      if (!known.includes(key)) throw invalid(`${where} has an unknown key: ${key}`);
    }
    if (!Array.isArray(w.days) || w.days.length === 0) {
      throw invalid(`${where}.days must be a non-empty list of ${DAYS.join(", ")}`);
    }
    const days = w.days.map((d) => {
      const day = typeof d === "string" ? d.toLowerCase() : "";
      if (!(DAYS as readonly string[]).includes(day)) {
        throw invalid(`${where}.days: ${JSON.stringify(d)} is not one of ${DAYS.join(", ")}`);
      }
      return day as Day;
    });
    if (typeof w.start !== "string" || Number.isNaN(minutesOf(w.start, false))) {
      throw invalid(`${where}.start must be a time HH:MM (00:00 to 23:59)`);
    }
    if (typeof w.end !== "string" || Number.isNaN(minutesOf(w.end, true))) {
      throw invalid(`${where}.end must be a time HH:MM (00:00 to 24:00)`);
    }
    if (minutesOf(w.start, false) === minutesOf(w.end, true)) {
      throw invalid(`${where}: start and end are the same time`);
    }
    if (typeof w.time_zone !== "string" || !isTimeZone(w.time_zone)) {
      throw invalid(`${where}.time_zone must be an IANA time zone such as Europe/Paris or UTC`);
    }
    if (!Number.isInteger(w.target) || (w.target as number) < 0 || (w.target as number) > MAX_TARGET) {
      throw invalid(`${where}.target must be an integer from 0 to ${MAX_TARGET}`);
    }
    const max = w.max_instances;
    if (max != null && (!Number.isInteger(max) || (max as number) < 1 || (max as number) > MAX_TARGET)) {
      throw invalid(`${where}.max_instances must be an integer from 1 to ${MAX_TARGET}, or null`);
    }
    if (max != null && (max as number) < (w.target as number)) {
      throw invalid(`${where}.max_instances must not be less than its target`);
    }
    return {
      days: [...new Set(days)],
      start: w.start,
      end: w.end,
      time_zone: w.time_zone,
      target: w.target as number,
      max_instances: (max as number | null | undefined) ?? null,
    };
  });
  return { windows: parsed, holidays: [...new Set(holidays as string[])].sort() };
}

/** The stored schedule (already valid), or null. */
export function scheduleOf(stored: unknown): ReserveSchedule | null {
  if (!isObject(stored) || !Array.isArray(stored.windows) || stored.windows.length === 0) return null;
  return stored as unknown as ReserveSchedule;
}

interface LocalParts {
  date: string;
  /** 0 = Sunday. */
  weekday: number;
  /** Minutes since local midnight. */
  minutes: number;
  /** The local wall time as if it were UTC, in ms (for offsets). */
  wallMs: number;
}

const formats = new Map<string, Intl.DateTimeFormat>();
function formatOf(tz: string): Intl.DateTimeFormat {
  let f = formats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formats.set(tz, f);
  }
  return f;
}

function localParts(ms: number, tz: string): LocalParts {
  const p: Record<string, number> = {};
  for (const part of formatOf(tz).formatToParts(new Date(ms))) {
    if (part.type !== "literal") p[part.type] = Number(part.value);
  }
  const wallMs = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  const date = new Date(Date.UTC(p.year, p.month - 1, p.day));
  return {
    date: date.toISOString().slice(0, 10),
    weekday: date.getUTCDay(),
    minutes: p.hour * 60 + p.minute,
    wallMs,
  };
}

/** The instant at which the wall clock of `tz` shows `minutes` on the local date `dayMs` (UTC midnight). */
function zonedInstant(dayMs: number, minutes: number, tz: string): number {
  const wall = dayMs + minutes * 60_000;
  const offset = (t: number) => localParts(t, tz).wallMs - (t - (((t % 1000) + 1000) % 1000));
  const first = wall - offset(wall);
  const second = wall - offset(first);
  return second;
}

const shiftDate = (date: string, days: number) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

function windowActive(w: ReserveWindow, holidays: Set<string>, ms: number): boolean {
  const p = localParts(ms, w.time_zone);
  const start = minutesOf(w.start, false);
  const end = minutesOf(w.end, true);
  const opens = (date: string, weekday: number) => w.days.includes(DAYS[weekday]) && !holidays.has(date);
  if (start < end) return p.minutes >= start && p.minutes < end && opens(p.date, p.weekday);
  // Past midnight: from start on an open day, or before end on the day after one.
  if (p.minutes >= start && opens(p.date, p.weekday)) return true;
  return p.minutes < end && opens(shiftDate(p.date, -1), (p.weekday + 6) % 7);
}

/** The target at the instant `ms` (no lead): the highest of the windows open then, else base. */
function targetAt(s: ReserveSchedule, base: number, ms: number): InEffect {
  const holidays = new Set(s.holidays);
  let best: InEffect | undefined;
  for (const w of s.windows) {
    if (!windowActive(w, holidays, ms)) continue;
    const max = w.max_instances ?? null;
    if (!best || w.target > best.target) best = { target: w.target, maxInstances: max };
    else if (w.target === best.target && best.maxInstances !== null) {
      best.maxInstances = max === null ? null : Math.max(best.maxInstances, max);
    }
  }
  return best ?? { target: base, maxInstances: null };
}

/**
 * The target in effect at `now`: the higher of the targets at now and at now + lead, so that
 * filling starts `lead` ahead of a window and nothing is released before it closes.
 */
export function targetInEffect(s: ReserveSchedule | null, base: number, now: Date, leadMs: number): InEffect {
  if (!s) return { target: base, maxInstances: null };
  const t = now.getTime();
  const at = targetAt(s, base, t);
  if (leadMs <= 0) return at;
  const ahead = targetAt(s, base, t + leadMs);
  return ahead.target > at.target ? ahead : at;
}

/** The next instant after `now` at which the target in effect changes, within nine days. */
export function nextChange(
  s: ReserveSchedule | null,
  base: number,
  now: Date,
  leadMs: number,
): { at: Date; target: number } | null {
  if (!s) return null;
  const t = now.getTime();
  const current = targetInEffect(s, base, now, leadMs).target;
  const candidates = new Set<number>();
  for (const w of s.windows) {
    const today = localParts(t, w.time_zone).date;
    for (let d = -1; d <= HORIZON_DAYS; d++) {
      const dayMs = Date.parse(`${shiftDate(today, d)}T00:00:00Z`);
      for (const minutes of [minutesOf(w.start, false), minutesOf(w.end, true)]) {
        const b = zonedInstant(dayMs, minutes, w.time_zone);
        for (const c of [b, b - leadMs]) if (c > t) candidates.add(c);
      }
    }
  }
  for (const c of [...candidates].sort((a, b) => a - b)) {
    const target = targetInEffect(s, base, new Date(c), leadMs).target;
    if (target !== current) return { at: new Date(c), target };
  }
  return null;
}

// The steps of an allocation as the user and the admin see them in get-vm: what was done,
// when it started, how long it took and how it ended, saved as the run goes so that a slow
// step is visible while it is running.
import type { RequestStep } from "../../shared/types.ts";
import { type Detail, english, setDetail } from "./step-text.ts";

export type StepName =
  | "find_instance"
  | "create_instance"
  | "wait_active"
  | "floating_ip"
  | "volume"
  | "resolve_ip"
  | "previous_sessions"
  | "client_rules"
  | "session";

export interface StepHandle {
  /** A short human explanation stored with the step (ids, what moved where). */
  detail(text: Detail): void;
}

export interface StepOptions {
  /** Saved when it starts and ends (it may take seconds: a build, a volume); others are not. */
  slow?: boolean;
  /** What the step shows while it runs, until it says more. */
  initial?: Detail;
}

export class StepRecorder {
  readonly steps: RequestStep[];

  constructor(
    private readonly save: (steps: RequestStep[]) => Promise<void>,
    previous: RequestStep[] = [],
  ) {
    // A re-run after a lost worker keeps the earlier attempt's steps visible.
    this.steps = [...previous];
  }

  async run<T>(name: StepName, fn: (step: StepHandle) => Promise<T>, options: StepOptions = {}): Promise<T> {
    const started = performance.now();
    const step: RequestStep = {
      name,
      started_at: new Date().toISOString(),
      duration_ms: null,
      outcome: "running",
    };
    if (options.initial) setDetail(step, options.initial);
    this.steps.push(step);
    const handle: StepHandle = { detail: (text) => setDetail(step, text) };
    if (options.slow) await this.save(this.steps);
    try {
      const value = await fn(handle);
      step.outcome = "ok";
      return value;
    } catch (err) {
      step.outcome = "failed";
      if (!step.detail) step.detail = err instanceof Error ? err.message : String(err);
      throw err;
    } finally {
      step.duration_ms = Math.round((performance.now() - started) * 10) / 10;
      // Fast steps are saved with the next slow one or the outcome: one write fewer each on
      // the warm path, and nothing to see in between anyway.
      if (options.slow && step.outcome === "ok") await this.save(this.steps);
    }
  }

  /** A step whose work is the write that saves it (the session, with the request's outcome). */
  instant(name: StepName, detail: Detail): RequestStep {
    const step: RequestStep = { name, started_at: new Date().toISOString(), duration_ms: 0, outcome: "ok" };
    setDetail(step, detail);
    this.steps.push(step);
    return step;
  }

  skip(name: StepName, why: Detail): void {
    const step: RequestStep = {
      name,
      started_at: new Date().toISOString(),
      duration_ms: 0,
      outcome: "skipped",
    };
    setDetail(step, why);
    this.steps.push(step);
  }

  /** Saves the running step's detail while it waits (a build's progress). */
  async note(text: Detail): Promise<void> {
    const current = this.steps.at(-1);
    if (current?.outcome !== "running" || current.detail === english(text)) return;
    setDetail(current, text);
    await this.save(this.steps);
  }
}

// Readiness: a new instance is handed out as a free instance (the reserve, request-vm's claim)
// only once it is ready, not merely ACTIVE, so that a user is not given a desktop still
// booting. instances.active_at is kept by the database whenever an instance becomes ACTIVE;
// ready_at says from when it is ready, and the claim of a free instance wants ready_at <= now().
//   mode none  → ready as soon as ACTIVE
//   mode grace → ready bootGraceSeconds after it became ACTIVE (works everywhere: default)
//   mode tcp   → ready once a TCP connection from rs-server to its fixed address at the
//                connection port (readiness.port, e.g. 3389 for RDP) succeeds
//   readiness.activated(ids) → after Nova's status is copied (build watcher, reconciler, lists)
//   readiness.check()        → every instance still waiting (the reserve keeper's run)
import { connect } from "node:net";
import type { Logger } from "pino";
import type { ReserveRepository } from "../store/reserve.ts";

export type ReadinessMode = "none" | "grace" | "tcp";

export interface ReadinessOptions {
  mode: ReadinessMode;
  bootGraceSeconds: number;
  /** The port checked in tcp mode. */
  port: number;
  timeoutMs: number;
}

/** Checked per pass at most: a pass stays short whatever the backlog. */
const MAX_PER_PASS = 200;
const PARALLEL = 20;

/** Whether a TCP connection to host:port opens within timeoutMs. */
export function tcpOpen(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export class Readiness {
  private readonly log: Logger;

  constructor(
    private readonly repo: Pick<ReserveRepository, "readyAfterGrace" | "notReady" | "markReady">,
    private readonly options: ReadinessOptions,
    logger: Logger,
  ) {
    this.log = logger.child({ component: "readiness" });
  }

  /** Instances whose status was just copied from Nova: those now ACTIVE may become ready. */
  async activated(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.pass(ids);
  }

  /** Every instance still waiting to be ready. */
  async check(): Promise<number> {
    return this.pass(undefined);
  }

  private async pass(ids: string[] | undefined): Promise<number> {
    const { mode, bootGraceSeconds } = this.options;
    if (mode === "none") return this.repo.readyAfterGrace(0, ids);
    if (mode === "grace") return this.repo.readyAfterGrace(bootGraceSeconds, ids);
    const waiting = await this.repo.notReady(MAX_PER_PASS, ids);
    const ready: string[] = [];
    for (let i = 0; i < waiting.length; i += PARALLEL) {
      const batch = waiting.slice(i, i + PARALLEL);
      const open = await Promise.all(
        batch.map((w) =>
          w.fixed_ip
            ? tcpOpen(w.fixed_ip, this.options.port, this.options.timeoutMs)
            : Promise.resolve(false),
        ),
      );
      batch.forEach((w, k) => {
        if (open[k]) ready.push(w.id);
      });
    }
    await this.repo.markReady(ready);
    if (ready.length > 0) this.log.debug({ instances: ready }, "instances answered on their port: ready");
    return ready.length;
  }
}

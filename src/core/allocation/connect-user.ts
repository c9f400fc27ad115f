// Steps floating_ip, volume, resolve_ip, previous_sessions and client_rules: the user's
// resources follow them to the instance, the address to connect to is resolved, and the
// client's ports are opened for its address; answers the session to record.
import { randomUUID } from "node:crypto";
import { isIP } from "node:net";
import type { NeutronPort } from "../../cloud/neutron.ts";
import { type NovaServer, serverAddresses } from "../../cloud/nova.ts";
import type { InstanceRow } from "../../store/holders.ts";
import type { Pool } from "../../store/pools.ts";
import type { RequestRow } from "../../store/requests.ts";
import type { NewSession } from "../../store/user-resources.ts";
import { BrokerCode, BrokerError } from "../broker-error.ts";
import type { AllocationDeps } from "./deps.ts";
import type { StepRecorder } from "./step-recorder.ts";
import { bilingual, fixedIpText, NO_FLOATING_IP, NO_VOLUMES, noClientRules } from "./step-text.ts";

/** Floating IP, volume, address, previous sessions, client rules; the session to record. */
export async function connectUser(
  d: Pick<AllocationDeps, "resources" | "instances" | "sessionRecords">,
  request: RequestRow,
  pool: Pool,
  instance: InstanceRow,
  server: NovaServer,
  port: NeutronPort | undefined,
  steps: StepRecorder,
): Promise<{ ip: string; session: NewSession }> {
  const floating = await steps.run("floating_ip", async (step) => {
    if (!port) {
      step.detail(
        bilingual("the instance has no port on the pool's network", "у машины нет порта в сети пула"),
      );
      return undefined;
    }
    try {
      const fip = await d.resources.floatingIp(request.user_id, port);
      step.detail(
        !fip
          ? NO_FLOATING_IP
          : fip.movedFromPort
            ? bilingual(
                `floating IP ${fip.address} moved from port ${fip.movedFromPort} to port ${port.id}`,
                `плавающий IP-адрес ${fip.address} перенесён с порта ${fip.movedFromPort} на порт ${port.id}`,
              )
            : bilingual(
                `floating IP ${fip.address} on port ${port.id}`,
                `плавающий IP-адрес ${fip.address} на порту ${port.id}`,
              ),
      );
      return fip;
    } catch (err) {
      throw new BrokerError(
        BrokerCode.NoInstanceIp,
        { instance_id: instance.id },
        `floating IP: ${(err as Error).message}`,
      );
    }
  });

  if (pool.user_volume_enabled) {
    await steps.run(
      "volume",
      async (step) => {
        const v = await d.resources.volume(pool, request.user_id, request.user_name, instance.id);
        step.detail(
          bilingual(
            `volume ${v.volumeId}${v.created ? " created" : ""}${v.movedFrom ? ` moved from instance ${v.movedFrom}` : ""} attached`,
            `диск ${v.volumeId}${v.created ? " создан и" : ""}${v.movedFrom ? ` перенесён с машины ${v.movedFrom} и` : ""} подключён`,
          ),
        );
      },
      { slow: true },
    );
  } else steps.skip("volume", NO_VOLUMES);

  const ip = await steps.run("resolve_ip", async (step) => {
    const address = floating?.address ?? fixedIp(port) ?? serverAddresses(server, "fixed")[0];
    if (!address) {
      step.detail(
        bilingual(
          `instance ${instance.id} has no address on the pool's network`,
          `у машины ${instance.id} нет адреса в сети пула`,
        ),
      );
      throw new BrokerError(BrokerCode.NoInstanceIp, { instance_id: instance.id });
    }
    step.detail(
      floating ? bilingual(`floating IP ${address}`, `плавающий IP-адрес ${address}`) : fixedIpText(address),
    );
    return address;
  });
  const portIp = fixedIp(port);
  if (portIp && portIp !== instance.fixed_ip) {
    await d.instances.applyStatus([
      {
        id: instance.id,
        status: server.status,
        vmState: server.vmState,
        taskState: server.taskState,
        progress: server.progress,
        fixedIp: portIp,
      },
    ]);
  }

  const previous = await d.sessionRecords.openSessionIds(request.user_id, instance.id);
  if (previous.length) {
    // The user reconnects: the earlier session ends and its rules go before new ones open
    // (Neutron would otherwise answer the identical rule with the old rule's id).
    await steps.run("previous_sessions", async (step) => {
      for (const id of previous) await d.resources.closeSession(id);
      step.detail(
        bilingual(
          `closed ${previous.length} earlier session(s) of the user on this instance`,
          `закрыто прежних сеансов пользователя на этой машине: ${previous.length}`,
        ),
      );
    });
  }

  const sessionId = randomUUID();
  let ruleIds: string[] = [];
  if (request.client_ip && request.conn_type && port) {
    ruleIds = await steps.run("client_rules", async (step) => {
      const ids = await d.resources.openClientRules(
        pool,
        instance.id,
        port,
        request.conn_type!,
        request.client_ip!,
        sessionId,
      );
      step.detail(
        ids.length
          ? bilingual(
              `${request.conn_type} ports opened for ${request.client_ip} (${ids.length} rule(s))`,
              `порты ${request.conn_type} открыты для ${request.client_ip} (правил: ${ids.length})`,
            )
          : bilingual(`${request.conn_type} opens no ports`, `${request.conn_type} не открывает портов`),
      );
      return ids;
    });
  } else steps.skip("client_rules", noClientRules(Boolean(request.client_ip)));

  const session: NewSession = {
    id: sessionId,
    instanceId: instance.id,
    instanceName: instance.name,
    projectId: pool.id,
    userId: request.user_id,
    userName: request.user_name,
    connectionType: request.conn_type,
    // The client's own address when it gave one, else where its request came from.
    clientIp: request.client_ip ?? request.peer_ip,
    clientOs: request.client_os,
    clientInfo: request.client_info,
    requestId: request.id,
    ruleIds,
  };
  return { ip, session };
}

export function fixedIp(port: { fixedIps: { ipAddress: string }[] } | undefined): string | undefined {
  return port?.fixedIps.find((f) => isIP(f.ipAddress) === 4)?.ipAddress ?? port?.fixedIps[0]?.ipAddress;
}

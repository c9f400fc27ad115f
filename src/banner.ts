// What `npm start` prints once everything is up: where each part listens, the user portal,
// the clouds.yaml to log in with (passwords stay in that file, not in the terminal's
// scrollback or a journal), and commands to try.
import { resolve } from "node:path";
import type { Runtime } from "./runtime.ts";
import { connectionEnvFile } from "./store/embedded.ts";

const DEFAULT_ADMIN_URL = "http://127.0.0.1:9364";
const DEFAULT_DATA_DIR = resolve("./.data");

export function banner(runtime: Runtime, version: string): string {
  const { config, simulator: sim, cloudsYaml } = runtime;
  const lines = [`rs-server ${version} is running`];
  if (runtime.adminUrl) {
    lines.push(`  admin API   ${runtime.adminUrl}/v1   docs ${runtime.adminUrl}/docs`);
    lines.push(`  dashboard   ${runtime.adminUrl}/dashboard/ (operators: the admin account of clouds.yaml)`);
  }
  if (runtime.brokerUrl) {
    lines.push(`  broker API  ${runtime.brokerUrl}/v1   docs ${runtime.brokerUrl}/docs`);
    if (config.broker.portal) lines.push(`  user portal ${runtime.brokerUrl}/portal/`);
    if (runtime.portalUrl)
      lines.push(`  user portal ${runtime.portalUrl}/trs/ (the original platform's address)`);
  }
  if (sim && cloudsYaml) {
    lines.push(`  built-in OpenStack simulator, Keystone at ${sim.authUrl}`);
    if (sim.portMoved)
      lines.push(
        `    (its port ${sim.portMoved.from} was taken: it moved to ${sim.portMoved.to}, and clouds.yaml with it)`,
      );
    lines.push(`  clouds.yaml (clouds rs-admin and rs-demo, with their passwords): ${cloudsYaml}`);
    if (runtime.adminUrl) {
      // The CLI looks for clouds.yaml in ./.data and for the admin API on :9364 by default.
      const where = [
        resolve(config.dataDir) === DEFAULT_DATA_DIR ? "" : ` --data-dir ${config.dataDir}`,
        runtime.adminUrl === DEFAULT_ADMIN_URL ? "" : ` --url ${runtime.adminUrl}`,
      ].join("");
      lines.push("  try it:");
      lines.push(`    npm run cli -- pools list --os-cloud rs-admin${where}`);
      lines.push(`    export OS_CLIENT_CONFIG_FILE=${cloudsYaml}`);
      lines.push(
        `    curl -H "X-Auth-Token: $(openstack --os-cloud rs-admin token issue -f value -c id)" ${runtime.adminUrl}/v1/info`,
      );
    }
    if (runtime.brokerUrl) {
      const body = JSON.stringify({
        user: sim.demo.username,
        password: "<password of rs-demo in clouds.yaml>",
        user_domain_name: sim.demo.userDomainName,
      });
      lines.push(`  a desktop for the demo user (pool "desktops"):`);
      lines.push(
        `    curl -si ${runtime.brokerUrl}/v1/request-vm/ -H 'Content-Type: application/json' -d '${body}'`,
      );
    }
  } else if (runtime.adminUrl) {
    lines.push("  try it:");
    lines.push(
      `    npm run cli -- info --os-cloud ${config.openstack.cloud || "<your cloud>"} --url ${runtime.adminUrl}`,
    );
  }
  if (runtime.store.embedded)
    lines.push(
      `  embedded PostgreSQL: connection for psql and pg_dump in ${connectionEnvFile(config.dataDir)}`,
    );
  lines.push("  stop with Ctrl-C");
  return `${lines.join("\n")}\n`;
}

// `npm run bench -- <name> [options]`: runs one benchmark of bench/ (storm, admin-scale, ...).
import { existsSync } from "node:fs";

const [name, ...rest] = process.argv.slice(2);
const file = name ? new URL(`./${name}.ts`, import.meta.url) : undefined;
if (!name || !/^[a-z-]+$/.test(name) || !file || !existsSync(file)) {
  console.error(
    "usage: npm run bench -- <storm|admin-scale|allocation-latency|reserve-refill|simulator-scale|console-gateway> [options]",
  );
  process.exit(2);
}
process.argv = [process.argv[0], file.pathname, ...rest];
await import(file.href);

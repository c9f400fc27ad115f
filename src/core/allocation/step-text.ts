// A step's detail in the languages the portal and the dashboard speak. `detail` on the wire
// stays English (what API clients and logs read, as before); the Russian text goes beside it in
// `detail_translations.ru`, and a client showing Russian takes it when it is there. Ids,
// addresses and what OpenStack itself said (a fault, an error message) stay as they are.
import type { RequestStep } from "../../shared/types.ts";
import type { ClaimSource } from "../claims.ts";

export interface StepText {
  en: string;
  ru: string;
}

/** Plain text (English only: an error message) or a text in every language. */
export type Detail = string | StepText;

export const bilingual = (en: string, ru: string): StepText => ({ en, ru });

/** The English text of a detail (what `detail` holds). */
export const english = (d: Detail): string => (typeof d === "string" ? d : d.en);

/** Sets the step's detail and its translations (none for plain text). */
export function setDetail(step: RequestStep, d: Detail): void {
  if (typeof d === "string") {
    step.detail = d;
    delete step.detail_translations;
  } else {
    step.detail = d.en;
    step.detail_translations = { ru: d.ru };
  }
}

// The texts both ways of allocating write (the task, and request-vm's warm path).

export const NO_VOLUMES = bilingual("the pool has no user volumes", "в пуле нет дисков пользователей");
export const NO_FLOATING_IP = bilingual(
  "the user has no floating IP",
  "у пользователя нет плавающего IP-адреса",
);

export const noClientRules = (clientAddressGiven: boolean) =>
  clientAddressGiven
    ? bilingual("no connection type given", "тип подключения не указан")
    : bilingual("no client address given", "адрес клиента не указан");

export const fixedIpText = (address: string) =>
  bilingual(`fixed IP ${address}`, `фиксированный IP-адрес ${address}`);

export const instanceActive = (id: string) =>
  bilingual(`instance ${id} is ACTIVE`, `машина ${id} в состоянии ACTIVE`);

export const sessionText = (id: string) => bilingual(`session ${id}`, `сеанс ${id}`);

const CLAIMED: Record<ClaimSource, StepText> = {
  assigned: bilingual("assigned to the user", "закреплена за пользователем"),
  group: bilingual("assigned to one of the user's groups", "закреплена за группой пользователя"),
  free: bilingual("taken from the reserve", "взята из резерва"),
  shared: bilingual(
    "shared with other users (least loaded)",
    "общая с другими пользователями (наименее загруженная)",
  ),
};

/** "instance <id> (<name>), taken from the reserve" and the like. */
export const claimedText = (instance: { id: string; name: string }, source: ClaimSource) =>
  bilingual(
    `instance ${instance.id} (${instance.name}), ${CLAIMED[source].en}`,
    `машина ${instance.id} (${instance.name}) ${CLAIMED[source].ru}`,
  );

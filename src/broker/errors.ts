// The catalogue of broker error codes 1-27, word for word from the reference's table (and 28,
// an extension: too many failed authentications): for
// each code the description and, where the table has one, the message the RS client shows,
// in English and Russian. The answer carries the client message when there is one (it is
// what users read) and the description otherwise; placeholders are filled from `data`.
import type { BrokerErrorCode, BrokerErrorData } from "../core/broker-error.ts";

export type Lang = "en" | "ru";

interface Texts {
  description: string;
  message?: string;
}

export interface CatalogueEntry {
  code: BrokerErrorCode;
  en: Texts;
  ru: Texts;
}

const ADMIN_EN = "Please contact system administrator.";
const ADMIN_RU = "Обратитесь к системному администратору.";

export const CATALOGUE: Record<BrokerErrorCode, CatalogueEntry> = {
  1: {
    code: 1,
    en: { description: "Unexpected error occurred.", message: `Unexpected error occurred. ${ADMIN_EN}` },
    ru: {
      description: "Произошла непредвиденная ошибка.",
      message: `Произошла непредвиденная ошибка. ${ADMIN_RU}`,
    },
  },
  2: {
    code: 2,
    en: { description: "License expired.", message: `License of RS server {cloud_url} got out. ${ADMIN_EN}` },
    ru: {
      description: "Истек срок действия лицензии.",
      message: `Срок лицензии модуля RS сервер {cloud_url} истек. ${ADMIN_RU}`,
    },
  },
  3: {
    code: 3,
    en: { description: "Asynchronous task of getting an instance failed." },
    ru: { description: "Ошибка при выполнении асинхронной задачи получения виртуальной машины." },
  },
  4: {
    code: 4,
    en: { description: "Failed to start asynchronous task of getting an instance." },
    ru: { description: "Не удалось запустить асинхронную задачу получения виртуальной машины." },
  },
  5: {
    code: 5,
    en: {
      description: "No available TRS project in the specified domain found.",
      message: `No available TRS project found. ${ADMIN_EN}`,
    },
    ru: {
      description: "Нет доступных TRS проектов для пользователя в указанном домене.",
      message: `Нет ни одного доступного TRS проекта. ${ADMIN_RU}`,
    },
  },
  6: {
    code: 6,
    en: { description: "Authentication error.", message: `Invalid credentials. ${ADMIN_EN}` },
    ru: { description: "Ошибка аутентификации.", message: `Неправильные учётные данные. ${ADMIN_RU}` },
  },
  7: {
    code: 7,
    en: { description: "Password expired.", message: "The password needs to be changed." },
    ru: { description: "Истек срок действия пароля.", message: "Необходимо изменить пароль." },
  },
  8: {
    code: 8,
    en: { description: "The specified project is not TRS.", message: "Not a TRS project: {project_name}." },
    ru: {
      description: "Указанный проект не является TRS проектом.",
      message: "Проект {project_name} не является TRS проектом.",
    },
  },
  9: {
    code: 9,
    en: { description: "Invalid request body." },
    ru: { description: "Неверное тело запроса." },
  },
  10: {
    code: 10,
    en: { description: "Unable to find an instance obtain request by given ID." },
    ru: { description: "Не удалось найти запрос на получение виртуальной машины по указанному ID." },
  },
  11: {
    code: 11,
    en: { description: "Forbidden to obtain an instance request." },
    ru: { description: "Нет доступа к указанному запросу на получение виртуальной машины." },
  },
  12: {
    code: 12,
    en: {
      description: "Project quota exceeded.",
      message: `Quota exceeded for TRS project “{project_name}”. ${ADMIN_EN}`,
    },
    ru: {
      description: "Превышена квота проекта.",
      message: `Превышена квота для TRS проекта “{project_name}”. ${ADMIN_RU}`,
    },
  },
  13: {
    code: 13,
    en: {
      description: "Instance creation failed.",
      message: `Unable to create instance in project {project_name}. ${ADMIN_EN}`,
    },
    ru: {
      description: "Не удалось создать новую виртуальную машину.",
      message: `Не удалось создать виртуальную машину в проекте {project_name}. ${ADMIN_RU}`,
    },
  },
  14: {
    code: 14,
    en: {
      description: "No instances found in the specified project.",
      message: `No instance found in project {project_name}. ${ADMIN_EN}`,
    },
    ru: {
      description: "Нет доступных виртуальных машин в указанном проекте.",
      message: `Не найдена виртуальная машина в проекте {project_name}. ${ADMIN_RU}`,
    },
  },
  15: {
    code: 15,
    en: { description: "Specified domain not found.", message: "Domain {domain_name} not found." },
    ru: { description: "Указанный домен не найден.", message: "Домен {domain_name} не найден." },
  },
  16: {
    code: 16,
    en: {
      description: "Specified user not found.",
      message: "User {user_name} not found in domain {domain_name}.",
    },
    ru: {
      description: "Указанный пользователь не найден.",
      message: "Пользователь {user_name} не найден в домене {domain_name}.",
    },
  },
  17: {
    code: 17,
    en: {
      description: "Instance is in an invalid state.",
      message: `Instance with id {instance_id} is in invalid state: {instance_status}. ${ADMIN_EN}`,
    },
    ru: {
      description: "Виртуальная машина находится в необрабатываемом статусе.",
      message: `Виртуальная машина с ID {instance_id} находится в некорректном состоянии: {instance_status}. ${ADMIN_RU}`,
    },
  },
  18: {
    code: 18,
    en: {
      description: "Unable to obtain an instance IP address.",
      message: `Unable to get IP address of instance with id {instance_id}. ${ADMIN_EN}`,
    },
    ru: {
      description: "Не удалось получить IP-адрес виртуальной машины.",
      message: `Не удалось получить IP-адрес виртуальной машины с ID {instance_id}. ${ADMIN_RU}`,
    },
  },
  19: {
    code: 19,
    en: {
      description: "Password expiration warning.",
      message: "Password expires in {seconds} seconds and needs to be changed.",
    },
    ru: {
      description: "Предупреждение о том, что пароль скоро истечёт.",
      message: "Ваш пароль истекает через {seconds} секунд, измените его.",
    },
  },
  20: {
    code: 20,
    en: {
      description: "Warning that amount of authentications with current password is limited.",
      message: "Password expired, {attempts} grace logins remain.",
    },
    ru: {
      description:
        "Предупреждение о том, что осталось ограниченное число аутентификаций с использованием текущего пароля.",
      message: "Срок вашего пароля истек, осталось {attempts} попытки для входа.",
    },
  },
  21: {
    code: 21,
    en: {
      description: "Authentication server is not available.",
      message: `Authentication server is not available. ${ADMIN_EN}`,
    },
    ru: {
      description: "Недоступен сервер аутентификации.",
      message: `Сервер аутентификации недоступен. ${ADMIN_RU}`,
    },
  },
  22: {
    code: 22,
    en: {
      description:
        "Kerberos script file is not available because of it does not exist or it has wrong permissions.",
      message: `Couldn’t change password because of the KERBEROS.script_path file doesn’t exist or it’s unaccessible. ${ADMIN_EN}`,
    },
    ru: {
      description:
        "Файл скрипта для изменения пароля в Kerberos недоступен по причнине того, что он не найден или неверные права доступа.",
      message: `Не удалось изменить пароль в связи с отсутствием файла KERBEROS.script_path или прав для его запуска. ${ADMIN_RU}`,
    },
  },
  23: {
    code: 23,
    en: {
      description: "Error while password change process, so script returned 1",
      message: `Couldn’t change password because of an error while change password process execution. ${ADMIN_EN}`,
    },
    ru: {
      description: "Ошибка во время выполнения скрипта изменения пароля, скрипт вернул код 1.",
      message: `Не удалось изменить пароль в связи с ошибкой во время запуска процесса смены пароля. ${ADMIN_RU}`,
    },
  },
  24: {
    code: 24,
    en: { description: "Auth token is not valid.", message: `Unexpected error occurred. ${ADMIN_EN}` },
    ru: {
      description: "Токен авторизации недействителен.",
      message: `Произошла непредвиденная ошибка. ${ADMIN_RU}`,
    },
  },
  25: {
    code: 25,
    en: { description: "Failed to process asynchronous task of getting an instance." },
    ru: { description: "Не удалось выполнить асинхронную задачу получения виртуальной машины." },
  },
  26: {
    code: 26,
    en: {
      description: "Request doesn’t match current Web Guard settings.",
      message: `Invalid settings of Web Guard. ${ADMIN_EN}`,
    },
    ru: {
      description: "Запрос не соответствует текущим настройкам Web Guard.",
      message: `Неправильные настройки Web Guard.${ADMIN_RU}`,
    },
  },
  27: {
    code: 27,
    en: { description: "OTP is required for authentication." },
    ru: { description: "Для аутентификации требуется код OTP." },
  },
  // An extension beyond the reference's table, answered with HTTP 429 and Retry-After.
  28: {
    code: 28,
    en: {
      description: "Too many failed authentication attempts.",
      message: "Too many failed attempts. Try again in {retry_after} seconds.",
    },
    ru: {
      description: "Слишком много неудачных попыток аутентификации.",
      message: "Слишком много неудачных попыток. Повторите через {retry_after} с.",
    },
  },
};

/**
 * The language the client prefers among ours: Russian when `ru` (or ru-RU, ...) has the
 * highest q-value of the two, English otherwise (the default).
 */
export function preferredLang(acceptLanguage: string | undefined): Lang {
  if (!acceptLanguage) return "en";
  let best: { lang: Lang; q: number } | undefined;
  for (const part of acceptLanguage.split(",")) {
    const [tag, ...params] = part.trim().toLowerCase().split(";");
    const primary = tag.trim().split("-")[0];
    if (primary !== "ru" && primary !== "en" && primary !== "*") continue;
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q) || q <= 0) continue;
    const lang: Lang = primary === "ru" ? "ru" : "en";
    if (!best || q > best.q) best = { lang, q };
  }
  return best?.lang ?? "en";
}

/** Fills `{name}` placeholders from data; a placeholder without a value stays visible. */
export function fill(template: string, data: BrokerErrorData): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const v = data[key];
    return v === undefined || v === null ? whole : String(v);
  });
}

export function brokerMessage(code: BrokerErrorCode, data: BrokerErrorData, lang: Lang): string {
  const texts = CATALOGUE[code][lang];
  return fill(texts.message ?? texts.description, data);
}

export interface BrokerErrorBody {
  error: { code: BrokerErrorCode; message: string; data: BrokerErrorData };
}

export function brokerErrorBody(code: BrokerErrorCode, data: BrokerErrorData, lang: Lang): BrokerErrorBody {
  return { error: { code, message: brokerMessage(code, data, lang), data } };
}

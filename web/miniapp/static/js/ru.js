// Russian as a native speaker writes it: plural forms, money, dates, and every API error as a sentence with a
// next step. Pure functions; no DOM.

/** The form of a noun for the number n: plural(23, "портрет", "портрета", "портретов") → "портрета". */
export function plural(n, one, few, many) {
  const tens = Math.abs(n) % 100;
  const units = tens % 10;
  if (tens > 10 && tens < 20) return many;
  if (units === 1) return one;
  if (units >= 2 && units <= 4) return few;
  return many;
}

export const portraits = (n) => `${n} ${plural(n, "портрет", "портрета", "портретов")}`;
export const selfies = (n) => `${n} ${plural(n, "селфи", "селфи", "селфи")}`;
export const photos = (n) => `${n} ${plural(n, "фотография", "фотографии", "фотографий")}`;
export const people = (n) => `${n} ${plural(n, "человек", "человека", "человек")}`;

/** 49900 → "499 ₽", 33014 → "330,14 ₽". */
export function rubles(kopecks) {
  const whole = kopecks % 100 === 0;
  const value = (kopecks / 100).toLocaleString("ru-RU", {
    minimumFractionDigits: whole ? 0 : 2, maximumFractionDigits: 2,
  });
  return `${value} ₽`;
}

/** 500 → "500 ⭐" (Telegram Stars are whole). */
export const stars = (n) => `${n.toLocaleString("ru-RU")} ⭐`;

/** A tier's price on a rail: roubles for "card", Stars for "stars". */
export const price = (tier, rail) => (rail === "stars" ? stars(tier.price_stars) : rubles(tier.price_kopecks));

/** The form of "портрет … не получился/не получились" for n. */
export const notMade = (n) => `${portraits(n)} не ${n % 10 === 1 && n % 100 !== 11 ? "получился" : "получились"}`;

/** An ISO timestamp as "5 декабря 2026" (date only) or with the time. */
export function date(iso, { time = false } = {}) {
  if (!iso) return "";
  const options = { day: "numeric", month: "long", year: "numeric" };
  if (time) Object.assign(options, { hour: "2-digit", minute: "2-digit" });
  // "30 декабря 2026 г." → without the "г.", which would clash with a full stop after the date
  return new Date(iso).toLocaleString("ru-RU", options).replace(/\s*г\.(?=[,\s]|$)/, "");
}

/** Seconds as "около 40 секунд" / "около 2 минут". */
export function duration(seconds) {
  if (seconds < 60) {
    const s = Math.max(5, Math.round(seconds / 5) * 5);
    return `около ${s} ${plural(s, "секунды", "секунд", "секунд")}`;
  }
  const m = Math.round(seconds / 60);
  return `около ${m} ${plural(m, "минуты", "минут", "минут")}`;
}

export const JOB_STATUS = {
  queued: "В очереди",
  generating: "Создаём портреты",
  delivering: "Отправляем альбом в Telegram",
  delivered: "Готово",
  delivered_partial: "Готово, но не всё",
  failed: "Не получилось",
};

export const PAYMENT_STATUS = {
  new: "Ждёт оплаты",
  authorized: "Оплата проверяется",
  confirmed: "Оплачено",
  partially_refunded: "Оплачено, часть возвращена",
  refunded: "Деньги возвращены",
  canceled: "Отменён",
  expired: "Ссылка на оплату истекла",
  rejected: "Оплата не прошла",
};

// Every error code the API answers with, as what a person should understand and do next.
const ERRORS = {
  NOT_AN_IMAGE: "Это не фотография. Выберите снимок в формате JPEG, PNG или WebP.",
  UNSUPPORTED_IMAGE: "Такой формат не подходит. Сохраните фото как JPEG и попробуйте снова.",
  IMAGE_TOO_LARGE: "Файл слишком большой. Выберите фото меньше 10 МБ.",
  IMAGE_TOO_SMALL: "Фото слишком маленькое. Нужен снимок покрупнее, где хорошо видно лицо.",
  NO_FACE: "На фото не видно лица. Выберите снимок, где лицо хорошо видно и смотрит в камеру.",
  MANY_FACES: "На фото несколько лиц. Нужны снимки, где вы одни.",
  DUPLICATE: "Это фото уже загружено. Выберите другое.",
  TOO_MANY_REFERENCES: "Уже 15 фото — это максимум. Удалите лишние, чтобы добавить новые.",
  PRIVACY_NOT_ACCEPTED: "Сначала подтвердите согласие на обработку фото.",
  NO_FILES: "Выберите хотя бы одно фото.",
  AVATAR_BUSY: "По этому аватару сейчас создаются портреты. Попробуйте, когда заказ будет готов.",
  AVATAR_NOT_READY: "Для заказа нужно хотя бы 5 селфи. Добавьте ещё фото.",
  INVALID_NAME: "Название должно быть от 1 до 64 символов.",
  UNKNOWN_TIER: "Такого пакета больше нет. Обновите страницу и выберите снова.",
  UNKNOWN_STYLE: "Такого стиля больше нет. Обновите страницу и выберите снова.",
  PAYMENT_PROVIDER_ERROR: "Платёжная система сейчас не отвечает. Попробуйте оплатить через минуту.",
  TOO_MANY_CHECKOUTS: "У вас уже есть неоплаченные заказы. Оплатите один из них или подождите, пока ссылка " +
    "на оплату истечёт, — тогда можно начать новый.",
  EMAIL_REQUIRED: "Укажите e-mail — пришлём на него чек.",
  INVALID_EMAIL: "Похоже, в адресе ошибка. Проверьте e-mail, например: anna@example.ru.",
  STARS_UNAVAILABLE: "Этот пакет нельзя оплатить звёздами. Выберите оплату картой или другой пакет.",
  UNKNOWN_RAIL: "Такой способ оплаты не поддерживается. Выберите «Картой» или «Telegram Stars».",
  NO_CREDITS: "Подарочных портретов не осталось.",
  PAYMENT_REQUIRED: "Заказ ещё не оплачен.",
  PAYMENT_CONSUMED: "Этот заказ уже запущен.",
  JOB_NOT_FINISHED: "Портрет можно переделать, когда альбом будет готов.",
  REGENERATION_LIMIT: "Все переделки для этого альбома уже использованы.",
  NO_PHOTOS: "В этом заказе пока нет готовых портретов.",
  USER_BUSY: "Сейчас создаются ваши портреты. Удалить данные можно, когда заказ будет готов.",
  RATE_LIMITED: "Слишком много действий подряд. Подождите несколько секунд.",
  NOT_FOUND: "Не нашли это. Возможно, оно удалено — вернитесь на главную.",
  STORAGE_UNAVAILABLE: "Хранилище фото временно недоступно. Попробуйте через минуту.",
  DATABASE_UNAVAILABLE: "Сервис перегружен. Попробуйте через минуту.",
  UPLOADS_BUSY: "Сейчас проверяем много фото. Попробуйте через минуту.",
  PAYLOAD_TOO_LARGE: "Слишком большой файл. Выберите фото меньше 10 МБ.",
  NETWORK: "Нет связи с сервером. Проверьте интернет — мы повторим попытку.",
  INITDATA_EXPIRED: "Сессия устарела — откройте приложение заново.",
};

/** The Russian sentence for an API error code (falling back by HTTP status). */
export function errorText(code, status) {
  if (ERRORS[code]) return ERRORS[code];
  if (status === 401) return "Не удалось подтвердить вход — откройте приложение заново из Telegram.";
  if (status >= 500) return "На сервере что-то пошло не так. Попробуйте ещё раз через минуту.";
  return "Не получилось. Попробуйте ещё раз.";
}

// My data: what we keep, the privacy page, and erasing everything (avatars, selfies, portraits, share links,
// the Telegram profile) after a confirmation.

import { del, get } from "../api.js";
import { h, mount, toast } from "../dom.js";
import { plural } from "../ru.js";
import { confirm, setBack, setPrimary } from "../telegram.js";

const days = (n) => `${n} ${plural(n, "день", "дня", "дней")}`;

export async function render(ctx) {
  setBack(() => ctx.navigate("/"));
  const me = await get("/api/v1/me");
  if (!ctx.alive()) return;
  const privacy = me.privacy;
  const erase = async () => {
    const ok = await confirm("Удалить все ваши аватары, селфи, портреты и ссылки? Это нельзя отменить.",
                             { ok: "Удалить всё", danger: true });
    if (!ok) return;
    try {
      await del("/api/v1/me");
      mount(ctx.root, h("section", { class: "card center" },
        h("h1", {}, "Ваши данные удалены"),
        h("p", {}, "Мы оставили только обезличенные записи об оплатах — их требует бухгалтерия.")));
      setPrimary({ text: "На главную", onClick: () => ctx.navigate("/") });
    } catch (error) { toast(error.message, { error: true }); }
  };
  mount(ctx.root, 
    h("h1", {}, "Мои данные"),
    h("section", { class: "card" },
      h("p", {}, `Селфи хранятся ${days(privacy.selfie_retention_days)} после последнего заказа, ` +
        `портреты — ${days(privacy.portrait_retention_days)}, потом удаляются сами.`),
      h("p", {}, privacy.accepted ? "Вы дали согласие на обработку фото." : "Вы ещё не загружали фото."),
      h("a", { href: privacy.policy_url || "/privacy", target: "_blank", rel: "noopener" }, "Политика конфиденциальности")),
    h("section", { class: "card danger-zone" },
      h("h2", {}, "Удалить всё"),
      h("p", { class: "hint" }, "Аватары, селфи, портреты, ссылки и ваш профиль Telegram будут удалены."),
      h("button", { type: "button", class: "danger", onclick: erase }, "Удалить мои данные")));
}

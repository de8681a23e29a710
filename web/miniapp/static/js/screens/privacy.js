// The consent a person gives before their first selfie is uploaded: what we keep, for how long, how to delete.

import { get, post } from "../api.js";
import { h } from "../dom.js";
import { plural } from "../ru.js";

let cached = null;

/** The person's privacy state ({accepted, selfie_retention_days, portrait_retention_days, policy_url}). */
export async function privacyState() {
  if (!cached || !cached.accepted) cached = (await get("/api/v1/me")).privacy;
  return cached;
}

export async function accept() {
  cached = (await post("/api/v1/me/privacy")).privacy;
  return cached;
}

const days = (n) => `${n} ${plural(n, "день", "дня", "дней")}`;

/** The short paragraph with the policy link and a checkbox; onChange(checked). */
export function consentBlock(privacy, onChange) {
  const box = h("input", { type: "checkbox", id: "consent", onchange: (e) => onChange(e.target.checked) });
  return h("section", { class: "card consent", "aria-labelledby": "consent-title" },
    h("h2", { id: "consent-title" }, "Ваши фото — только ваши"),
    h("p", {},
      "Мы храним ваши селфи, чтобы создать портреты, и передаём их нейросети только для этого. ",
      `Селфи удаляются через ${days(privacy.selfie_retention_days)} после последнего заказа, портреты — через `,
      `${days(privacy.portrait_retention_days)}. Удалить всё можно в любой момент в разделе «Мои данные». `,
      h("a", { href: privacy.policy_url || "/privacy", target: "_blank", rel: "noopener" }, "Подробнее")),
    h("label", { class: "check", for: "consent" }, box,
      h("span", {}, "Согласен(на) на обработку моих фото")));
}

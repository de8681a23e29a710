// Free portraits: the Stars rail's answer to a partly made order (Telegram refunds only whole charges, so the
// portraits that did not come out are credited to the person). The balance, its history, and "Получить портреты":
// one of the person's ready avatars and a style, then the new order's progress screen.

import { get, post } from "../api.js";
import { h, mount, toast } from "../dom.js";
import { date, plural, portraits } from "../ru.js";
import { setBack, setPrimary } from "../telegram.js";

export async function render(ctx) {
  setBack(() => ctx.navigate("/"));
  const [credits, avatars, catalog] = await Promise.all([
    get("/api/v1/credits"), get("/api/v1/avatars"), get("/api/v1/catalog")]);
  if (!ctx.alive()) return;
  const ready = avatars.avatars.filter((a) => a.ready);
  const balance = credits.balance;
  let avatar = ready[ready.length - 1] || null;
  let style = catalog.styles[0];
  let busy = false;

  const avatarList = h("div", { class: "choices", role: "radiogroup", "aria-label": "Аватар" });
  const styles = h("div", { class: "styles", role: "radiogroup", "aria-label": "Стиль" });

  function draw() {
    mount(avatarList, ...ready.map((a) => h("button", {
      type: "button", role: "radio", class: "item choice" + (a.id === avatar.id ? " selected" : ""),
      "aria-checked": String(a.id === avatar.id), onclick: () => { avatar = a; draw(); } },
    a.thumbnail_url ? h("img", { class: "thumb", src: a.thumbnail_url, alt: "", loading: "lazy" })
      : h("span", { class: "thumb placeholder", "aria-hidden": "true" }),
    h("span", { class: "item-title" }, a.name))));
    mount(styles, ...catalog.styles.map((s) => h("button", {
      type: "button", role: "radio", class: "style" + (s.id === style.id ? " selected" : ""),
      "aria-checked": String(s.id === style.id), onclick: () => { style = s; draw(); } },
    h("img", { src: s.preview, alt: `Пример: ${s.title}`, loading: "lazy" }),
    h("span", {}, s.title))));
    setPrimary({ text: `Получить ${portraits(balance)}`, busy, onClick: redeem });
  }

  async function redeem() {
    busy = true;
    draw();
    try {
      const job = await post("/api/v1/credits/redeem", { avatar_id: avatar.id, style_id: style.id });
      ctx.navigate(`/generations/${job.job_id}?progress=1`, { replace: true });
      return;
    } catch (error) {
      toast(error.message, { error: true });
      if (error.code === "NO_CREDITS") { ctx.navigate("/credits", { replace: true }); return; }
    }
    busy = false;
    if (ctx.alive()) draw();
  }

  const gift = balance > 0
    ? `У вас ${balance} ${plural(balance, "портрет", "портрета", "портретов")} в подарок`
    : "Подарочных портретов пока нет";
  mount(ctx.root,
    h("h1", {}, "Портреты в подарок"),
    h("section", { class: "card credits-balance" },
      h("p", { class: "balance" }, gift),
      h("p", { class: "hint" }, "Если при оплате звёздами часть портретов не получится, мы зачислим их сюда. " +
        "Их можно получить в любом стиле для любого вашего аватара.")),
    balance > 0 && ready.length ? [h("h2", {}, "Для какого аватара"), avatarList, h("h2", {}, "Стиль"), styles] : null,
    balance > 0 && !ready.length
      ? h("section", { class: "card" },
        h("p", {}, "Чтобы получить портреты, нужен аватар хотя бы с 5 селфи."),
        h("button", { type: "button", class: "secondary", onclick: () => ctx.navigate("/avatars/new") },
          "Создать аватар"))
      : null,
    history(ctx, credits.history));
  if (balance > 0 && ready.length) draw();
  else setPrimary({ text: "На главную", onClick: () => ctx.navigate("/") });
}

function history(ctx, entries) {
  if (!entries.length) return null;
  return h("section", { class: "section", "aria-labelledby": "credits-history" },
    h("h2", { id: "credits-history" }, "История"),
    h("ul", { class: "list" }, entries.map((entry) => h("li", {},
      h("button", { type: "button", class: "item", onclick: () => ctx.navigate(`/generations/${entry.job_id}?progress=1`) },
        h("span", { class: "item-text" },
          h("span", { class: "item-title" }, entry.kind === "granted"
            ? `+${portraits(entry.photos)} в подарок` : `−${portraits(entry.photos)}`),
          h("span", { class: "hint" }, `${entryLine(entry)} №${entry.job_id} · ` +
            `${date(entry.created_at, { time: true })}`)),
        h("span", { class: "chevron", "aria-hidden": "true" }, "›"))))));
}

/** "Не получился в заказе" / "Получены в заказе", agreeing with the number of portraits. */
function entryLine(entry) {
  const one = entry.photos % 10 === 1 && entry.photos % 100 !== 11;
  if (entry.kind === "granted") return one ? "Не получился в заказе" : "Не получились в заказе";
  return one ? "Получен в заказе" : "Получены в заказе";
}

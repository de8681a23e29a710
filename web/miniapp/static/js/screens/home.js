// Home: the person's avatars, their orders with progress, the call to make portraits, and the referral card.

import { get } from "../api.js";
import { h, mount, progressBar, toast } from "../dom.js";
import { JOB_STATUS, PAYMENT_STATUS, portraits, rubles, selfies, stars, date } from "../ru.js";
import { setPrimary, shareLink } from "../telegram.js";

const REFRESH_MS = 4000;

export async function render(ctx) {
  // One call for the whole screen (GET /api/v1/home): the first thing a person opening the app asks for.
  const { avatars, orders, referrals, credits } = await get("/api/v1/home");
  if (!ctx.alive()) return;
  draw(ctx, avatars.avatars, orders.orders, referrals, credits.balance);
  // Orders in progress move on their own: refresh them while the person looks at this screen.
  while (ctx.alive() && orders.orders.some(running)) {
    await new Promise((resolve) => setTimeout(resolve, REFRESH_MS));
    if (!ctx.alive()) return;
    try {
      const fresh = await get("/api/v1/orders");
      if (!ctx.alive()) return;
      orders.orders = fresh.orders;
      const list = ctx.root.querySelector("#orders");
      if (list) list.replaceWith(ordersSection(ctx, fresh.orders));
    } catch { /* the next round tries again */ }
  }
}

const running = (order) => order.job && ["queued", "generating", "delivering"].includes(order.job.status);

function draw(ctx, avatars, orders, referrals, creditBalance) {
  const ready = avatars.filter((a) => a.ready);
  const next = ready.length ? `/avatars/${ready[ready.length - 1].id}/order`
    : avatars.length ? `/avatars/${avatars[avatars.length - 1].id}` : "/avatars/new";
  mount(ctx.root, 
    h("section", { class: "hero" },
      h("h1", {}, "AI-портреты по вашим селфи"),
      h("p", { class: "hint" }, "Загрузите 5–15 селфи, выберите стиль — и получите альбом портретов прямо в Telegram.")),
    creditsCard(ctx, creditBalance),
    avatarsSection(ctx, avatars),
    ordersSection(ctx, orders),
    referralCard(referrals),
    h("footer", { class: "footer" },
      h("a", { href: "/privacy", target: "_blank", rel: "noopener" }, "Как мы храним ваши фото"),
      h("button", { type: "button", class: "link", onclick: () => ctx.navigate("/me") }, "Мои данные")));
  setPrimary({ text: avatars.length ? "Создать портреты" : "Создать аватар", onClick: () => ctx.navigate(next) });
}

function avatarsSection(ctx, avatars) {
  return h("section", { class: "section", "aria-labelledby": "avatars-title" },
    h("div", { class: "section-head" },
      h("h2", { id: "avatars-title" }, "Аватары"),
      h("button", { type: "button", class: "link", onclick: () => ctx.navigate("/avatars/new") }, "+ Новый")),
    avatars.length === 0
      ? h("p", { class: "empty" }, "Аватар — это набор ваших селфи, по которым мы создаём портреты. Начните с него.")
      : h("ul", { class: "list" }, avatars.map((a) => h("li", {},
        h("button", { type: "button", class: "item", onclick: () => ctx.navigate(`/avatars/${a.id}`) },
          a.thumbnail_url
            ? h("img", { class: "thumb", src: a.thumbnail_url, alt: "", loading: "lazy" })
            : h("span", { class: "thumb placeholder", "aria-hidden": "true" }),
          h("span", { class: "item-text" },
            h("span", { class: "item-title" }, a.name),
            h("span", { class: "hint" }, a.ready ? `${selfies(a.reference_count)} · готов к заказу`
              : `${selfies(a.reference_count)} · нужно ещё ${a.min_references - a.reference_count}`)),
          h("span", { class: "chevron", "aria-hidden": "true" }, "›"))))));
}

function ordersSection(ctx, orders) {
  return h("section", { class: "section", id: "orders", "aria-labelledby": "orders-title" },
    h("h2", { id: "orders-title" }, "Заказы"),
    orders.length === 0
      ? h("p", { class: "empty" }, "Заказов пока нет.")
      : h("ul", { class: "list" }, orders.map((o) => h("li", {},
        h("button", { type: "button", class: "item",
                      onclick: () => ctx.navigate(o.job ? `/generations/${o.job.id}` : `/payments/${o.payment_id}`) },
          o.cover_url
            ? h("img", { class: "thumb", src: o.cover_url, alt: "", loading: "lazy" })
            : h("span", { class: "thumb placeholder", "aria-hidden": "true" }),
          h("span", { class: "item-text" },
            h("span", { class: "item-title" }, `${portraits(o.photo_count)} · ${o.avatar_name}`),
            h("span", { class: "hint" }, orderLine(o)),
            o.job && running(o) ? progressBar((o.job.done + o.job.failed) / o.job.total, "Готовность заказа") : null),
          h("span", { class: "chevron", "aria-hidden": "true" }, "›"))))));
}

function orderLine(order) {
  const price = order.rail === "stars" ? stars(order.amount_stars) : rubles(order.amount_kopecks);
  if (!order.job) return `${PAYMENT_STATUS[order.payment_status] || order.payment_status} · ${price}`;
  const { status, done, total } = order.job;
  if (status === "generating") return `${JOB_STATUS.generating}: ${done} из ${total}`;
  if (status === "delivered") return `Готово · ${date(order.job.finished_at)}`;
  if (status === "delivered_partial") {
    // The Stars rail gives missing portraits as free portraits (docs/payments.md), the card rail money back.
    return order.rail === "stars" ? `Готово ${done} из ${total}, остальные — в подарок`
      : `Готово ${done} из ${total}, за остальные деньги вернули`;
  }
  return JOB_STATUS[status] || status;
}

/** The free portraits the person holds (the Stars rail's partial policy), with the way to get them. */
function creditsCard(ctx, balance) {
  if (!balance) return null;
  return h("section", { class: "card", "aria-labelledby": "credits-title" },
    h("h2", { id: "credits-title" }, `У вас ${portraits(balance)} в подарок`),
    h("p", { class: "hint" }, "Их можно получить в любом стиле для любого вашего аватара."),
    h("button", { type: "button", class: "secondary", onclick: () => ctx.navigate("/credits") }, "Получить портреты"));
}

function referralCard(ref) {
  const copy = async () => {
    try { await navigator.clipboard.writeText(ref.invite_link); toast("Ссылка скопирована"); }
    catch { toast("Не удалось скопировать — выделите ссылку и скопируйте вручную", { error: true }); }
  };
  return h("section", { class: "card referral", "aria-labelledby": "ref-title" },
    h("h2", { id: "ref-title" }, "Приглашайте друзей"),
    h("p", { class: "hint" },
      `Вы получаете ${ref.percent}% от каждой их покупки; если покупку вернули, ваша доля с неё списывается.`),
    h("p", { class: "invite", "aria-label": "Ваша ссылка" }, ref.invite_link),
    h("div", { class: "row" },
      h("button", { type: "button", class: "secondary", onclick: () => shareLink(ref.invite_link,
        "Сделай AI-портреты по своим селфи в PinGlass") }, "Поделиться"),
      h("button", { type: "button", class: "secondary", onclick: copy }, "Скопировать")),
    h("dl", { class: "stats" },
      h("div", {}, h("dt", {}, "Пришли"), h("dd", {}, String(ref.invited))),
      h("div", {}, h("dt", {}, "Купили"), h("dd", {}, String(ref.paying))),
      h("div", {}, h("dt", {}, "Заработано"), h("dd", {}, rubles(ref.earnings_kopecks)))),
    // A refund takes back the matching share of what it earned: the balance is what is left.
    h("dl", { class: "stats", "aria-label": "Баланс" },
      h("div", {}, h("dt", {}, "Возвраты"),
        h("dd", {}, ref.reversed_kopecks ? `−${rubles(ref.reversed_kopecks)}` : rubles(0))),
      h("div", {}, h("dt", {}, "Баланс"), h("dd", {}, rubles(ref.balance_kopecks))),
      h("div", {}, h("dt", {}, "Ваш процент"), h("dd", {}, `${ref.percent}%`))));
}

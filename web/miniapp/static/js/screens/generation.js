// Order: live progress (queued → generating N of M → delivering), portraits appearing as they are stored, an
// estimate of the time left; "Ваши фото готовы" at the end, and what happened to the money for portraits that
// did not come out, in the rail's terms: roubles back to the card, Stars back to the Telegram balance (a job that
// made nothing), or free portraits credited (a partial Stars order, and any free-portrait order).

import { get } from "../api.js";
import { h, mount, progressBar, sleep, starred, toast } from "../dom.js";
import { duration, notMade, portraits, rubles, stars } from "../ru.js";
import { haptic, setBack, setPrimary } from "../telegram.js";

const TERMINAL = new Set(["delivered", "delivered_partial", "failed"]);
const STAGES = [["queued", "В очереди"], ["generating", "Создаём"], ["delivering", "Отправляем"], ["done", "Готово"]];
const SECONDS_PER_PHOTO_GUESS = 6; // before the first portrait is stored there is nothing to measure

/** The purchase behind the route's job id, or null when this screen is left (a regeneration's id leads to its
 * album's gallery; a screen that was left meanwhile draws nothing). */
export async function loadAlbum(ctx) {
  setBack(() => ctx.navigate("/"));
  const job = await get(`/api/v1/generations/${ctx.params.jobId}`);
  if (!ctx.alive()) return null;
  if (job.kind === "regeneration" && job.parent_job_id) {
    ctx.navigate(`/generations/${job.parent_job_id}/gallery`, { replace: true });
    return null;
  }
  return job;
}

export async function render(ctx) {
  const id = ctx.params.jobId;
  let job = await loadAlbum(ctx);
  if (!job) return;
  // Opened when it is long finished (the album's "Галерея" button): straight to the gallery.
  if (TERMINAL.has(job.status) && job.photos.length && !ctx.query.has("progress")) {
    ctx.navigate(`/generations/${id}/gallery`, { replace: true });
    return;
  }
  const seen = new Map(); // photo id → its grid element
  const grid = h("ul", { class: "grid live", "aria-label": "Готовые портреты" });
  const head = h("div", { "aria-live": "polite" });
  mount(ctx.root, head, grid);
  let rail = null; // how this order was paid, read once the money matters (the job's answer does not say)
  for (let round = 0; ctx.alive(); round += 1) {
    if (TERMINAL.has(job.status) && rail === null) rail = await railOf(job);
    if (!ctx.alive()) return;
    draw(ctx, job, head, grid, seen, rail);
    if (TERMINAL.has(job.status)) { haptic(job.status === "failed" ? "error" : "success"); return; }
    await sleep(1500);
    try {
      job = await get(`/api/v1/generations/${id}`);
    } catch (error) {
      toast(error.message, { error: true });
      await sleep(3000);
    }
    if (!ctx.alive()) return;
  }
}

/** How the job was paid: {kind: "card"|"stars"|"credit", stars} (the payment's rail and its Stars amount). */
async function railOf(job) {
  if (!job.payment_id) return { kind: "credit", stars: 0 };
  if (!owed(job) && !job.refunds.length) return { kind: "card", stars: 0 }; // nothing to explain
  try {
    const payment = await get(`/api/v1/payments/${job.payment_id}`);
    return payment.rail === "stars" ? { kind: "stars", stars: payment.amount_stars } : { kind: "card", stars: 0 };
  } catch {
    return null; // asked again on the next round
  }
}

/** How many portraits the finished order did not make (a failed job: all it did not store). */
function owed(job) {
  const { done, failed, total } = job.progress;
  return job.status === "failed" ? total - done : failed;
}

/** The sentence about money for the portraits that did not come out, and a link where one helps. */
function moneyNotice(ctx, job, rail) {
  const { done } = job.progress;
  const failed = owed(job);
  const settled = job.refunds.filter((r) => r.status === "succeeded"); // a refund pending or refused is not back yet
  const refunded = settled.reduce((sum, r) => sum + r.amount_kopecks, 0);
  const returned = settled.length > 0;
  const toCredits = h("button", { type: "button", class: "link", onclick: () => ctx.navigate("/credits") },
    "Мои подарочные портреты");
  if (!rail || failed === 0) return null;
  if (rail.kind === "credit" || (rail.kind === "stars" && done > 0)) {
    const one = failed % 10 === 1 && failed % 100 !== 11;
    return h("div", { class: "notice gift" },
      h("p", {}, `${notMade(failed)} — ${one ? "он зачислен" : "они зачислены"} вам в подарок. ` +
        `${one ? "Его" : "Их"} можно получить в любом стиле для любого аватара.`), toCredits);
  }
  if (rail.kind === "stars") {
    return h("p", { class: "notice" }, starred(returned ? `Мы вернули ${stars(rail.stars)} на ваш баланс Telegram Stars.`
      : `Мы вернём ${stars(rail.stars)} на ваш баланс Telegram Stars.`));
  }
  return h("p", { class: "notice" }, `${notMade(failed)}. ` +
    (refunded ? `Мы вернули ${rubles(refunded)} на вашу карту.` : "Мы вернём за них деньги на вашу карту."));
}

function draw(ctx, job, head, grid, seen, rail) {
  const { done, failed, total } = job.progress;
  const status = job.status;
  const stage = TERMINAL.has(status) ? "done" : status;
  let title;
  let line;
  if (status === "queued") { title = "Заказ в очереди"; line = "Сейчас начнём создавать портреты."; }
  else if (status === "generating") { title = `Создаём портреты: ${done} из ${total}`; line = eta(job); }
  else if (status === "delivering") { title = "Отправляем альбом в Telegram"; line = "Портреты готовы, альбом уже в пути."; }
  else if (status === "failed") { title = "Не получилось создать портреты"; line = failedLine(rail); }
  else { title = "Ваши фото готовы"; line = `${portraits(done)} — в галерее и в чате с ботом.`; }
  mount(head,
    h("h1", {}, title),
    h("ol", { class: "stages", "aria-label": "Этапы" }, STAGES.map(([key, label]) => h("li", {
      class: key === stage ? "current" : STAGES.findIndex((s) => s[0] === key) < STAGES.findIndex((s) => s[0] === stage)
        ? "past" : "" }, label))),
    progressBar((done + failed) / total, "Готовность заказа"),
    h("p", { class: "hint" }, line),
    TERMINAL.has(status) ? moneyNotice(ctx, job, rail) : null);
  // New portraits join the grid in their album order; ones already shown keep their element (no reload).
  for (const photo of job.photos) {
    if (seen.has(photo.id)) continue;
    seen.set(photo.id, h("li", { dataset: { index: photo.prompt_index } },
      h("img", { src: photo.url, alt: `Портрет ${photo.prompt_index + 1}`, loading: "lazy" })));
  }
  const ordered = [...seen.values()].sort((a, b) => a.dataset.index - b.dataset.index);
  if (ordered.some((el, i) => grid.children[i] !== el)) grid.append(...ordered);
  if (TERMINAL.has(status) && job.photos.length) {
    setPrimary({ text: "Открыть галерею", onClick: () => ctx.navigate(`/generations/${job.job_id}/gallery`) });
  } else if (TERMINAL.has(status)) {
    setPrimary({ text: "На главную", onClick: () => ctx.navigate("/") });
  }
}

function failedLine(rail) {
  if (rail && rail.kind !== "card") return "Ни один портрет не получился.";
  return "Мы вернём деньги на карту — обычно это занимает несколько дней.";
}

function eta(job) {
  const { done, failed, total } = job.progress;
  const left = total - done - failed;
  const started = job.timestamps.generating_at ? Date.parse(job.timestamps.generating_at) : Date.now();
  const elapsed = Math.max(1, (Date.now() - started) / 1000);
  const perPhoto = done > 0 ? elapsed / done : SECONDS_PER_PHOTO_GUESS;
  return `Осталось ${duration(Math.max(5, left * perPhoto))}.`;
}

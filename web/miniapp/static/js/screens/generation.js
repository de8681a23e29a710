// Order: live progress (queued → generating N of M → delivering), portraits appearing as they are stored, an
// estimate of the time left; "Ваши фото готовы" at the end, and a partial refund explained.

import { get } from "../api.js";
import { h, mount, progressBar, sleep, toast } from "../dom.js";
import { JOB_STATUS, duration, plural, portraits, rubles } from "../ru.js";
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
  for (let round = 0; ctx.alive(); round += 1) {
    draw(ctx, job, head, grid, seen);
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

function draw(ctx, job, head, grid, seen) {
  const { done, failed, total } = job.progress;
  const status = job.status;
  const stage = TERMINAL.has(status) ? "done" : status;
  let title;
  let line;
  if (status === "queued") { title = "Заказ в очереди"; line = "Сейчас начнём создавать портреты."; }
  else if (status === "generating") { title = `Создаём портреты: ${done} из ${total}`; line = eta(job); }
  else if (status === "delivering") { title = "Отправляем альбом в Telegram"; line = "Портреты готовы, альбом уже в пути."; }
  else if (status === "failed") { title = "Не получилось создать портреты"; line = "Мы вернём деньги на карту — обычно это занимает несколько дней."; }
  else { title = "Ваши фото готовы"; line = `${portraits(done)} — в галерее и в чате с ботом.`; }
  const refunded = job.refunds.reduce((sum, r) => sum + r.amount_kopecks, 0);
  mount(head, 
    h("h1", {}, title),
    h("ol", { class: "stages", "aria-label": "Этапы" }, STAGES.map(([key, label]) => h("li", {
      class: key === stage ? "current" : STAGES.findIndex((s) => s[0] === key) < STAGES.findIndex((s) => s[0] === stage)
        ? "past" : "" }, label))),
    progressBar((done + failed) / total, "Готовность заказа"),
    h("p", { class: "hint" }, line),
    failed > 0 && TERMINAL.has(status)
      ? h("p", { class: "notice" }, `${failed} ${plural(failed, "портрет", "портрета", "портретов")} не ` +
        `${failed === 1 ? "получился" : "получились"}. ` +
        (refunded ? `Мы вернули ${rubles(refunded)} на вашу карту.` : "Мы вернём за них деньги на вашу карту."))
      : null);
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

function eta(job) {
  const { done, failed, total } = job.progress;
  const left = total - done - failed;
  const started = job.timestamps.generating_at ? Date.parse(job.timestamps.generating_at) : Date.now();
  const elapsed = Math.max(1, (Date.now() - started) / 1000);
  const perPhoto = done > 0 ? elapsed / done : SECONDS_PER_PHOTO_GUESS;
  return `Осталось ${duration(Math.max(5, left * perPhoto))}.`;
}

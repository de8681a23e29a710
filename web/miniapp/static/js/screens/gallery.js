// Gallery: a grid of lazy-loaded portraits, a full-screen viewer with swipe, download one or all (ZIP), a share
// link (create, copy, revoke, expiry), and regenerating one portrait within the album's allowance.

import { ApiError, del, get, post } from "../api.js";
import { h, clear, mount, sleep, toast } from "../dom.js";
import { date, portraits } from "../ru.js";
import { confirm, download, setBack, setPrimary, shareLink } from "../telegram.js";
import { loadAlbum } from "./generation.js";

const TERMINAL = new Set(["delivered", "delivered_partial", "failed"]);

export async function render(ctx) {
  const id = ctx.params.jobId;
  const job = await loadAlbum(ctx);
  if (!job) return;
  const state = { job, photos: [], pending: new Map(), share: null };
  state.photos = await latestVersions(job);
  if (!ctx.alive()) return;

  const grid = h("ul", { class: "grid", "aria-label": "Портреты" });
  const head = h("div", {});
  const shareBox = h("section", { class: "card share", "aria-label": "Ссылка для друзей" });
  mount(ctx.root, head, shareBox, grid);

  function drawHead() {
    const left = state.job.regenerations_allowed - state.job.regenerations_used;
    mount(head, 
      h("h1", {}, "Ваши портреты"),
      h("p", { class: "hint" }, `${portraits(state.photos.length)} · переделать можно ещё ${left}`),
      state.job.photos_delete_at
        ? h("p", { class: "hint" }, `Портреты хранятся до ${date(state.job.photos_delete_at)}.`) : null,
      h("div", { class: "row" },
        h("button", { type: "button", class: "secondary", onclick: downloadZip }, "Скачать ZIP"),
        h("button", { type: "button", class: "secondary", onclick: createShare }, "Поделиться")));
  }

  function drawGrid() {
    mount(grid, ...state.photos.map((photo, i) => h("li", {},
      h("button", { type: "button", class: "tile", onclick: () => openViewer(i),
                    "aria-label": `Открыть портрет ${photo.prompt_index + 1}` },
        h("img", { src: photo.url, alt: `Портрет ${photo.prompt_index + 1}`, loading: "lazy",
                   width: photo.width, height: photo.height }),
        state.pending.has(photo.prompt_index) ? h("span", { class: "badge" }, "Переделываем…")
          : photo.regenerated ? h("span", { class: "badge ok" }, "Новая версия") : null))));
  }

  function drawShare() {
    clear(shareBox);
    shareBox.hidden = !state.share;
    if (!state.share) return;
    const { url, expires_at: expires } = state.share;
    shareBox.append(
      h("h2", {}, "Ссылка для друзей"),
      h("p", { class: "invite" }, url),
      h("p", { class: "hint" }, `Действует до ${date(expires, { time: true })}. Кто получит ссылку, увидит портреты.`),
      h("div", { class: "row" },
        h("button", { type: "button", class: "secondary", onclick: async () => {
          try { await navigator.clipboard.writeText(url); toast("Ссылка скопирована"); }
          catch { toast("Не удалось скопировать — выделите ссылку вручную", { error: true }); }
        } }, "Скопировать"),
        h("button", { type: "button", class: "secondary", onclick: () => shareLink(url, "Мои AI-портреты") }, "Отправить"),
        h("button", { type: "button", class: "danger-link", onclick: revokeShare }, "Отозвать")));
  }

  async function downloadZip() {
    try {
      const fresh = await get(`/api/v1/generations/${id}`); // a fresh signed link: the old one may have lapsed
      if (!fresh.zip_url) throw new ApiError(409, "NO_PHOTOS");
      download(fresh.zip_url, `pinglass-${id}.zip`);
    } catch (error) { toast(error.message, { error: true }); }
  }

  async function createShare() {
    try {
      state.share = await post(`/api/v1/generations/${id}/share`);
      drawShare();
      shareBox.scrollIntoView({ behavior: "smooth", block: "nearest" });
    } catch (error) { toast(error.message, { error: true }); }
  }

  async function revokeShare() {
    if (!(await confirm("Отозвать ссылку? Тот, у кого она есть, больше не увидит портреты.", { ok: "Отозвать" }))) return;
    try {
      await del(`/api/v1/generations/${id}/share`);
      state.share = null;
      drawShare();
      toast("Ссылка отозвана");
    } catch (error) { toast(error.message, { error: true }); }
  }

  async function regenerate(photo) {
    const left = state.job.regenerations_allowed - state.job.regenerations_used;
    const ok = await confirm(`Сделать этот портрет заново? Останется переделок: ${left - 1}.`, { ok: "Переделать" });
    if (!ok) return;
    try {
      const started = await post(`/api/v1/photos/${photo.id}/regenerate`);
      state.job.regenerations_used = started.regenerations_used;
      state.pending.set(photo.prompt_index, started.job_id);
      closeViewer();
      drawHead();
      drawGrid();
      toast("Делаем новую версию — она появится здесь");
      watch(started.job_id, photo.prompt_index);
    } catch (error) { toast(error.message, { error: true }); }
  }

  async function watch(childId, index) {
    while (ctx.alive()) {
      await sleep(1500);
      let child;
      try { child = await get(`/api/v1/generations/${childId}`); } catch { continue; }
      if (!TERMINAL.has(child.status)) continue;
      state.pending.delete(index);
      const fresh = child.photos[0];
      if (fresh) {
        state.photos = state.photos.map((p) => (p.prompt_index === index ? { ...fresh, regenerated: true } : p));
        toast("Новая версия готова");
      } else toast("Не получилось переделать портрет — попытка возвращена", { error: true });
      if (!ctx.alive()) return;
      drawGrid();
      return;
    }
  }

  // --- the full-screen viewer ------------------------------------------------------------------------------
  let viewer = null;
  function openViewer(index) {
    closeViewer();
    let at = index;
    const img = h("img", { class: "full", alt: "" });
    const counter = h("span", { class: "counter-pill" });
    const show = () => {
      const photo = state.photos[at];
      img.src = photo.url;
      img.alt = `Портрет ${photo.prompt_index + 1}`;
      counter.textContent = `${at + 1} / ${state.photos.length}`;
    };
    const step = (d) => { at = (at + d + state.photos.length) % state.photos.length; show(); };
    let startX = null;
    viewer = h("div", { class: "viewer", role: "dialog", "aria-modal": "true", "aria-label": "Просмотр портрета",
                        onkeydown: (e) => { if (e.key === "ArrowLeft") step(-1); if (e.key === "ArrowRight") step(1);
                          if (e.key === "Escape") closeViewer(); } },
      h("div", { class: "viewer-top" }, counter,
        h("button", { type: "button", class: "icon-button", "aria-label": "Закрыть", onclick: closeViewer }, "✕")),
      h("div", { class: "viewer-stage",
                 onpointerdown: (e) => { startX = e.clientX; },
                 onpointerup: (e) => { if (startX !== null && Math.abs(e.clientX - startX) > 40) step(e.clientX < startX ? 1 : -1); startX = null; } },
        h("button", { type: "button", class: "nav prev", "aria-label": "Предыдущий", onclick: () => step(-1) }, "‹"),
        img,
        h("button", { type: "button", class: "nav next", "aria-label": "Следующий", onclick: () => step(1) }, "›")),
      h("div", { class: "viewer-actions" },
        h("button", { type: "button", class: "secondary", onclick: () => {
          const photo = state.photos[at];
          download(photo.url, `pinglass-${id}-${photo.prompt_index + 1}.${photo.content_type === "image/png" ? "png" : "jpg"}`);
        } }, "Скачать"),
        h("button", { type: "button", class: "secondary", onclick: () => regenerate(state.photos[at]),
                      disabled: state.job.regenerations_allowed - state.job.regenerations_used <= 0 || undefined },
          "Переделать")));
    show();
    document.body.append(viewer);
    viewer.tabIndex = -1;
    viewer.focus();
    setPrimary(null);
  }
  function closeViewer() {
    if (viewer) { viewer.remove(); viewer = null; }
  }
  ctx.signal.addEventListener("abort", closeViewer);

  drawHead();
  drawShare();
  drawGrid();
  setPrimary(null);
}

/** The album's portraits with each regenerated one replaced by its newest finished version. */
async function latestVersions(job) {
  const photos = job.photos.map((p) => ({ ...p }));
  const done = job.regenerations.filter((r) => TERMINAL.has(r.status));
  for (const regeneration of done) {
    try {
      const child = await get(`/api/v1/generations/${regeneration.job_id}`);
      for (const fresh of child.photos) {
        const i = photos.findIndex((p) => p.prompt_index === fresh.prompt_index);
        if (i >= 0) photos[i] = { ...fresh, regenerated: true };
      }
    } catch { /* the original stays */ }
  }
  return photos;
}

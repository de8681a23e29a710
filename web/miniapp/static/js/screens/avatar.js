// Avatar: its name, 5–15 selfies uploaded one file per request with progress, each refusal explained, the
// selfies as thumbnails with remove, and erasing the avatar.

import { ApiError, del, get, post, upload } from "../api.js";
import { h, mount, progressBar, toast } from "../dom.js";
import { date, errorText, selfies } from "../ru.js";
import { confirm, haptic, setBack, setPrimary } from "../telegram.js";
import { accept, consentBlock, privacyState } from "./privacy.js";

const MAX_SIDE = 2048;
const MAX_BYTES = 10 * 1024 * 1024;
const SENT_AS_IS = new Set(["image/jpeg", "image/png", "image/webp"]);

export async function render(ctx) {
  setBack(() => ctx.navigate("/"));
  const privacy = await privacyState();
  if (!ctx.alive()) return;
  if (!ctx.params.avatarId) return renderNew(ctx, privacy);
  return renderExisting(ctx, privacy);
}

function renderNew(ctx, privacy) {
  let consented = privacy.accepted;
  const name = h("input", { id: "avatar-name", type: "text", maxlength: 64, value: "Мой аватар",
                            autocomplete: "off", enterkeyhint: "done" });
  const action = () => ({ text: "Создать и загрузить селфи", disabled: !consented, onClick: create });
  async function create() {
    setPrimary({ ...action(), busy: true });
    try {
      if (!privacy.accepted) await accept();
      const avatar = await post("/api/v1/avatars", { name: name.value.trim() });
      ctx.navigate(`/avatars/${avatar.id}`, { replace: true });
    } catch (error) {
      toast(error.message, { error: true });
      setPrimary(action());
    }
  }
  mount(ctx.root, 
    h("h1", {}, "Новый аватар"),
    h("p", { class: "hint" }, "Аватар — это 5–15 ваших селфи. Чем разнообразнее ракурсы и освещение, тем лучше портреты."),
    h("label", { class: "field", for: "avatar-name" }, h("span", {}, "Название"), name),
    privacy.accepted ? null : consentBlock(privacy, (checked) => { consented = checked; setPrimary(action()); }));
  setPrimary(action());
}

async function renderExisting(ctx, privacy) {
  const id = ctx.params.avatarId;
  let avatar = await get(`/api/v1/avatars/${id}`);
  if (!ctx.alive()) return;
  let consented = privacy.accepted;
  const pending = h("ul", { class: "uploads", "aria-label": "Загрузка" });
  const gallery = h("ul", { class: "refs", "aria-label": "Загруженные селфи" });
  const counter = h("p", { class: "counter", "aria-live": "polite" });
  const pick = h("input", { type: "file", accept: "image/*", multiple: true, hidden: true, id: "pick",
                            onchange: (e) => { addFiles(Array.from(e.target.files)); e.target.value = ""; } });
  const camera = h("input", { type: "file", accept: "image/*", capture: "user", hidden: true, id: "camera",
                              onchange: (e) => { addFiles(Array.from(e.target.files)); e.target.value = ""; } });
  const pickers = h("div", { class: "row" },
    h("label", { class: "button secondary", for: "pick" }, "Выбрать фото"),
    h("label", { class: "button secondary", for: "camera" }, "Сделать селфи"));
  let queue = Promise.resolve();

  function drawAvatar() {
    const count = avatar.reference_count;
    const need = avatar.min_references - count;
    counter.textContent = need > 0 ? `${count} из ${avatar.max_references} — нужно ещё ${need}`
      : count >= avatar.max_references ? `${count} из ${avatar.max_references} — больше не нужно`
        : `${count} из ${avatar.max_references} — можно продолжать`;
    counter.classList.toggle("ok", need <= 0);
    mount(gallery, ...avatar.references.map((ref, i) => h("li", {},
      h("img", { src: ref.url, alt: `Селфи ${i + 1}`, loading: "lazy" }),
      h("button", { type: "button", class: "remove", "aria-label": `Удалить селфи ${i + 1}`,
                    onclick: () => removeReference(ref.id) }, "✕"))));
    pickers.hidden = !consented || count >= avatar.max_references;
    setPrimary(count >= avatar.min_references
      ? { text: "Продолжить", onClick: () => ctx.navigate(`/avatars/${id}/order`) }
      : null);
  }

  async function refresh() {
    avatar = await get(`/api/v1/avatars/${id}`);
    if (ctx.alive()) drawAvatar();
  }

  async function removeReference(refId) {
    try {
      await del(`/api/v1/avatars/${id}/references/${refId}`);
      await refresh();
    } catch (error) { toast(error.message, { error: true }); }
  }

  function addFiles(files) {
    for (const file of files) {
      const row = uploadRow(file);
      pending.prepend(row.el);
      queue = queue.then(() => send(file, row)).catch(() => {});
    }
  }

  async function send(file, row) {
    if (!ctx.alive()) return;
    let blob;
    try {
      blob = await prepare(file);
    } catch (error) {
      row.refused(errorText(error.code || "NOT_AN_IMAGE"));
      return;
    }
    try {
      const answer = await upload(`/api/v1/avatars/${id}/references`, blob, file.name || "selfie.jpg",
                                  (p) => row.progress(p), () => row.waiting());
      if (answer.duplicates.length) row.refused(errorText("DUPLICATE"));
      else { row.done(); haptic("success"); }
      await refresh();
    } catch (error) {
      row.refused(error instanceof ApiError ? error.message : errorText("NETWORK"));
    }
  }

  const erase = async () => {
    const ok = await confirm("Удалить аватар вместе с селфи и всеми портретами? Это нельзя отменить.",
                             { ok: "Удалить", danger: true });
    if (!ok) return;
    try {
      await del(`/api/v1/avatars/${id}`);
      toast("Аватар удалён");
      ctx.navigate("/", { replace: true });
    } catch (error) { toast(error.message, { error: true }); }
  };

  mount(ctx.root, 
    h("h1", {}, avatar.name),
    h("p", { class: "hint" }, "Нужны 5–15 селфи: лицо хорошо видно, вы одни в кадре, разные ракурсы и освещение."),
    consented ? null : consentBlock(privacy, async (checked) => {
      if (!checked) return;
      try { await accept(); consented = true; ctx.root.querySelector(".consent")?.remove(); drawAvatar(); }
      catch (error) { toast(error.message, { error: true }); }
    }),
    counter, pick, camera, pickers, pending, gallery,
    avatar.selfies_delete_at ? h("p", { class: "hint" }, `Селфи будут удалены ${date(avatar.selfies_delete_at)}.`) : null,
    h("button", { type: "button", class: "danger-link", onclick: erase }, "Удалить аватар"));
  drawAvatar();
}

/** One file's row: its thumbnail, a progress bar, then "загружено" or the reason it was refused. */
function uploadRow(file) {
  const url = URL.createObjectURL(file);
  const status = h("span", { class: "status" }, "Ждёт загрузки");
  const bar = h("span", { class: "bar-slot" }, progressBar(0, "Загрузка файла"));
  const el = h("li", { class: "upload" },
    h("img", { src: url, alt: "", onerror: (e) => { e.target.hidden = true; } }),
    h("span", { class: "item-text" }, h("span", { class: "name" }, file.name || "Фото"), bar, status));
  return {
    el,
    progress(p) { mount(bar, progressBar(p, "Загрузка файла")); status.textContent = "Загружаем…"; },
    waiting() { status.textContent = "Ждём очереди на проверку…"; },
    done() { bar.remove(); status.textContent = "Загружено"; el.classList.add("ok"); setTimeout(() => el.remove(), 1500); },
    refused(text) { bar.remove(); status.textContent = text; el.classList.add("refused"); el.setAttribute("role", "alert"); },
  };
}

/** The file as we send it: as is when it is a JPEG/PNG/WebP within 2048 px and 10 MB, else re-encoded as a
 * JPEG of at most 2048 px on the long side (the bytes a phone camera makes are larger than we need). */
async function prepare(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    const error = new Error("not an image");
    error.code = SENT_AS_IS.has(file.type) ? "UNSUPPORTED_IMAGE" : "NOT_AN_IMAGE";
    throw error;
  }
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  if (scale === 1 && SENT_AS_IS.has(file.type) && file.size <= MAX_BYTES) { bitmap.close(); return file; }
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
}

"""Public pages that need no Telegram login:

- ``GET /g/<token>``: a shared gallery (HTML), alive until its link expires or is revoked; 404 after (I6).
- ``GET /download/<job_id>.zip?exp=&sig=``: the album as a ZIP, for the signed link our Telegram summary
  message carries (``usecases.delivery.summary_buttons``: HMAC of ``"<job_id>:<exp>"`` for purpose ``zip``).
- ``GET /privacy``: what we store about a person, why, for how long, and how to erase it (Russian HTML).

Photos are shown through presigned URLs with a short life; the pages are never cached and never send the token
onwards in a Referer.
"""

from __future__ import annotations

import re
import time

from flask import Blueprint, Response, current_app, request
from markupsafe import escape

from rules.plural import counted
from rules.signing import verify
from usecases import albums
from web.api.albums import token_hash, zip_response
from web.api.common import ID, check_path_ids
from web.errors import ApiError

blueprint = Blueprint("public", __name__)

GALLERY_URL_TTL_S = 600
MAX_TOKEN_CHARS = 128
_DIGITS = re.compile(r"[0-9]{1,12}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; img-src *; style-src 'unsafe-inline'"}
_STYLE = ("body{font-family:system-ui,sans-serif;margin:0;padding:16px;background:#111;color:#eee}"
          "h1{font-size:20px;font-weight:600}h2{font-size:17px;font-weight:600}"
          "section{max-width:720px;line-height:1.5}main{display:grid;grid-template-columns:repeat(auto-fill,"
          "minmax(220px,1fr));gap:12px}img{width:100%;border-radius:8px;display:block}")


@blueprint.get("/g/<token>")
def gallery(token: str):
    if len(token) > MAX_TOKEN_CHARS:
        return _page(404, "Галерея не найдена", "<p>Ссылка неверна, истекла или была отозвана.</p>")
    fleet = current_app.extensions["pinglass"]
    with fleet.services.pool.connection() as conn:
        shared = albums.shared_album(conn, token_hash=token_hash(token))
    if shared is None:
        return _page(404, "Галерея не найдена", "<p>Ссылка неверна, истекла или была отозвана.</p>")
    share, album = shared
    ttl = min(GALLERY_URL_TTL_S, fleet.settings.presign_ttl_s)
    items = "".join(f'<img src="{escape(fleet.services.storage.presigned_get(p["storage_key"], ttl))}" '
                    f'alt="Портрет {p["prompt_index"] + 1}" loading="lazy">' for p in album)
    expires = share["expires_at"].strftime("%d.%m.%Y %H:%M UTC")
    return _page(200, "PinGlass — AI-портреты",
                 f"<p>{counted(len(album), 'портрет', 'портрета', 'портретов')} · "
                 f"ссылка действует до {escape(expires)}</p><main>{items}</main>")


@blueprint.get("/privacy")
def privacy_policy():
    """What PinGlass stores about a person, why, for how long, and how to erase it (plain Russian)."""
    settings = current_app.extensions["pinglass"].settings
    selfie_days, portrait_days = settings.selfie_retention_days, settings.portrait_retention_days
    return _page(200, "PinGlass — как мы обращаемся с вашими данными", f"""
<section><h2>Что мы храним</h2><ul>
<li>Ваши селфи — фото, которые вы загрузили в приложение или прислали боту.</li>
<li>Портреты, которые мы для вас создали, и ZIP-архивы с ними.</li>
<li>Ваш Telegram ID, имя, username и язык — их передаёт Telegram, когда вы открываете приложение или пишете боту.</li>
<li>Платежи: сумма, тариф, статус, возвраты. Данных вашей карты у нас нет — их видит только банк.</li>
</ul></section>
<section><h2>Зачем</h2>
<p>Селфи нужны только чтобы создать ваши портреты. Для этого мы передаём их сервису генерации изображений
(Kie.ai) по временным ссылкам — только для создания ваших портретов, ни для чего другого. Портреты мы храним,
чтобы вы могли открыть галерею, скачать архив и поделиться ссылкой. Telegram ID нужен, чтобы отправлять
вам портреты; платежи — для учёта и возвратов.</p></section>
<section><h2>Сколько храним</h2><ul>
<li>Селфи — {selfie_days} дн. после последнего заказа по аватару (если заказов не было — после того, как
вы создали аватар или добавили последнее фото), затем удаляем автоматически.</li>
<li>Портреты и архивы — {portrait_days} дн. после того, как заказ готов, затем удаляем автоматически.</li>
<li>Пока заказ оплачен и создаётся, его фото не удаляются.</li>
<li>Записи о платежах хранятся столько, сколько требует учёт, без имени и фото.</li>
</ul></section>
<section><h2>Как удалить всё</h2>
<p>В приложении PinGlass — кнопка «Удалить мои данные». Мы сразу удалим аватары, селфи, портреты, архивы и
ссылки на галереи, а ваше имя и username сотрём из профиля. Один аватар можно удалить на его странице.
Портреты, уже отправленные вам в чат Telegram, остаются в вашем чате — их можно удалить там.</p>
<p>Если идёт создание портретов, удаление станет доступно, когда заказ будет готов.</p></section>
""")


@blueprint.get(f"/download/<{ID}:job_id>.zip")
def download(job_id: int):
    check_path_ids({"job_id": job_id})
    fleet = current_app.extensions["pinglass"]
    exp, sig = request.args.get("exp", ""), request.args.get("sig", "")
    # Shape first: compare_digest refuses non-ASCII text, and a hostile query string must not make a 500.
    well_formed = _DIGITS.fullmatch(exp) is not None and _HEX64.fullmatch(sig) is not None
    if not well_formed or not verify(fleet.settings.callback_signing_key, "zip", f"{job_id}:{exp}", sig):
        raise ApiError(403, "BAD_SIGNATURE", "this download link is not valid")
    if int(exp) < time.time():
        raise ApiError(403, "LINK_EXPIRED", "this download link has expired; open the gallery for a new one")
    with fleet.services.pool.connection() as conn:
        album = albums.album_of_job(conn, job_id=job_id)
    if album is None:
        raise ApiError(404, "NOT_FOUND", "generation not found")
    return zip_response(fleet.services.storage, job_id, album)


def _page(status: int, title: str, body: str) -> Response:
    html = (f'<!doctype html><html lang="ru"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>")
    return Response(html, status=status, mimetype="text/html", headers=_HEADERS)

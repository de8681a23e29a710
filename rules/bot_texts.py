"""What the bot says: pure functions from facts to the text of a reply (no Telegram, no database)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rules.catalog import MAX_REFERENCES, MIN_REFERENCES
from rules.plural import counted, plural
from rules.uploads import MIN_SIDE

HELP = ("Что я умею:\n"
        "/start — начать и открыть приложение PinGlass\n"
        "/status — как идёт ваш последний заказ\n"
        "/help — эта подсказка\n\n"
        f"Пришлите сюда {MIN_REFERENCES}–{MAX_REFERENCES} своих фото (можно альбомом): "
        "они станут основой вашего аватара, а портреты вы закажете в приложении.")

UNKNOWN = "Я понимаю команды /start, /status и /help и принимаю фото для аватара."

# The command menu next to the input field (registered by ``workers.telegram_setup``): HELP's commands in HELP's
# words, /help described by HELP's title.
COMMANDS = (("start", "Начать и открыть приложение PinGlass"),
            ("status", "Как идёт ваш последний заказ"),
            ("help", "Что я умею"))

_JOB_STATUS = {
    "queued": "в очереди",
    "generating": "создаём портреты",
    "delivering": "отправляем альбом",
    "delivered": "готов",
    "delivered_partial": "готов частично — за недостающие портреты мы вернули деньги",
    "failed": "не удался — деньги возвращаются на карту",
}


def welcome(first_name: str | None) -> str:
    greeting = f"Привет, {first_name}!" if first_name else "Привет!"
    return (f"{greeting} Я PinGlass: делаю AI-портреты по вашим селфи.\n\n"
            "Откройте приложение кнопкой ниже или пришлите сюда "
            f"{MIN_REFERENCES}–{MAX_REFERENCES} своих фото — я соберу из них аватар.")


def job_status(job: Mapping[str, Any] | None) -> str:
    """The latest order's progress: status, photos ready of the total, and a text progress bar."""
    if job is None:
        return "У вас пока нет заказов. Откройте приложение, чтобы создать первый."
    total = max(1, int(job["total_photos"]))
    stored, failed = int(job["photos_stored"]), int(job["photos_failed"])
    filled = round(10 * stored / total)
    bar = "▓" * filled + "░" * (10 - filled)
    text = (f"Заказ №{job['id']}: {_JOB_STATUS.get(job['status'], job['status'])}.\n"
            f"{bar} готово {stored} из {total}")
    if failed:
        text += f", не получилось {failed}"
    return text


def references_received(*, added: int, duplicates: int = 0, rejected: int = 0, over_limit: int = 0,
                        total: int, refusal: str | None = None) -> str:
    """The answer to one photo or one album: "Получено N фото, всего M/15", what was skipped and why, and
    what the avatar still needs. ``refusal``: why a lone photo was refused (an ImageRejected code)."""
    lines = [f"Получено {added} фото, всего {total}/{MAX_REFERENCES}."]
    if duplicates:
        lines.append(f"Повторы пропущены: {duplicates}.")
    if rejected:
        lines.append(_rejected(rejected, refusal))
    if over_limit:
        left_out = plural(over_limit, "оно не добавлено", "они не добавлены", "они не добавлены")
        lines.append(f"Сверх лимита в {MAX_REFERENCES} фото: {over_limit} — {left_out}.")
    if total < MIN_REFERENCES:
        lines.append(f"Нужно ещё минимум {MIN_REFERENCES - total}.")
    else:
        lines.append("Аватар готов: откройте приложение и выберите стиль.")
    return "\n".join(lines)


def not_a_photo() -> str:
    return "Это не похоже на фото. Пришлите снимок (JPEG, PNG или WebP) — можно альбомом."


_REFUSALS = {
    "NO_FACE": "на нём не нашлось лица. Пришлите селфи, где лицо видно крупно и прямо.",
    "MANY_FACES": "на нём несколько лиц. Нужны снимки, где в кадре только вы.",
    "IMAGE_TOO_SMALL": f"оно слишком маленькое — нужно от {MIN_SIDE} пикселей по короткой стороне.",
    "IMAGE_TOO_LARGE": "оно больше 10 МБ.",
    "NOT_AN_IMAGE": "его не удалось прочитать — нужны JPEG, PNG или WebP.",
    "UNSUPPORTED_IMAGE": "его не удалось прочитать — нужны JPEG, PNG или WebP.",
}


def _rejected(count: int, refusal: str | None) -> str:
    """Why photos were not added: the reason for one photo when we know it, else what a photo needs."""
    if count == 1 and refusal in _REFUSALS:
        return f"Фото не добавлено: {_REFUSALS[refusal]}"
    return (f"Не подошли: {count} — нужны селфи, где в кадре только вы и лицо хорошо видно, от {MIN_SIDE} "
            "пикселей по короткой стороне, JPEG, PNG или WebP до 10 МБ.")


PORTRAITS = ("портрет", "портрета", "портретов")
NBSP = "\u00a0"
REGENERATION_CAPTION = "🔁 Новая версия портрета"


def album_caption(total: int) -> str:
    """The caption under the first photo of a purchase: "Ваши 23 AI-портрета готовы!", "Ваш 21 AI-портрет готов!"."""
    if total == 1:
        return "✨ Ваш AI-портрет готов!"
    # After 21, 31, ... the possessive and the verb agree in the singular, as the noun does.
    yours, ready = plural(total, "Ваш", "Ваши", "Ваши"), plural(total, "готов", "готовы", "готовы")
    return f"✨ {yours} {counted(total, 'AI-портрет', 'AI-портрета', 'AI-портретов')} {ready}!"


def first_album_caption(first: int, ordered: int) -> str:
    """The caption of the first album of an order of more than ten: "Первые 10 из 23 AI-портретов готовы — …".

    It names the order's size, not what was made, so it reads the same whether the album went out while the rest
    were still being made or with them (after "из", 21 takes the genitive singular, 23 the plural)."""
    # "из 21 портрета", "из 23 портретов", "из 11 портретов": the genitive after a number, singular after *1
    of = "AI-портрета" if ordered % 10 == 1 and ordered % 100 != 11 else "AI-портретов"
    return f"✨ Первые {first} из {ordered} {of} готовы — остальные пришлём следом."


def album_summary(stored: int) -> str:
    """The message under the albums, above the gallery and ZIP buttons; ``stored`` photos were made."""
    return f"В вашей галерее {counted(stored, *PORTRAITS)}. Откройте её или скачайте архив ZIP кнопками ниже."


def refund_notice(*, refunded: int, total: int, amount_kopecks: int) -> str:
    """What could not be made and the money returned: "Не удалось создать 2 портрета из 23. Мы вернули 129,90 ₽…"."""
    return (f"Не удалось создать {counted(refunded, *PORTRAITS)} из {total}. "
            f"Мы вернули {rubles(amount_kopecks)} на вашу карту.")


def rubles(kopecks: int) -> str:
    """An amount as Russians write it: "1 499 ₽", "129,90 ₽" (a decimal comma; non-breaking spaces between
    thousands and before the sign, so Telegram never wraps an amount)."""
    whole, cents = divmod(kopecks, 100)
    text = f"{whole:,}".replace(",", NBSP)
    return f"{text}{NBSP}₽" if cents == 0 else f"{text},{cents:02d}{NBSP}₽"


# -- Telegram Stars (usecases/stars.py, usecases/credits.py) ------------------------------------------------------

STARS_REFUSED_UNKNOWN = "Этот счёт не найден. Оформите заказ заново в приложении."
STARS_REFUSED_CLOSED = "Этот счёт уже оплачен или закрыт. Оформите заказ заново в приложении."
STARS_REFUSED_EXPIRED = "Срок этого счёта истёк. Оформите заказ заново в приложении."
STARS_REFUSED_AMOUNT = "Сумма счёта изменилась. Оформите заказ заново в приложении."


def stars(amount: int) -> str:
    """Stars as the person sees them: "500 ⭐" (a non-breaking space, so the star never wraps alone)."""
    return f"{amount}{NBSP}⭐"


def stars_invoice_title(photos: int) -> str:
    """The invoice's title (Telegram allows 32 characters): "PinGlass: 15 портретов"."""
    return f"PinGlass: {counted(photos, *PORTRAITS)}"


def stars_invoice_description(photos: int, style_title: str) -> str:
    return f"{counted(photos, 'AI-портрет', 'AI-портрета', 'AI-портретов')} в стиле «{style_title}»"


def stars_refund_notice(*, total: int, amount_stars: int) -> str:
    """A Stars job that made nothing: the whole charge went back ("Мы вернули 500 ⭐")."""
    return (f"Не удалось создать портреты ({total} из {total}). "
            f"Мы вернули {stars(amount_stars)} на ваш баланс Telegram Stars.")


def stars_second_charge_notice(*, amount_stars: int) -> str:
    """A Stars invoice paid again (or after its order was closed): that payment went back at once."""
    return (f"Этот заказ уже оплачен или закрыт, поэтому повторный платёж — {stars(amount_stars)} — мы вернули "
            "на ваш баланс Telegram Stars.")


def credits_granted_notice(*, missing: int, total: int, balance: int) -> str:
    """Missing portraits of a Stars or credit job credited as free portraits for the next order."""
    return (f"Не удалось создать {counted(missing, *PORTRAITS)} из {total}. Мы начислили вам "
            f"{counted(missing, 'бесплатный портрет', 'бесплатных портрета', 'бесплатных портретов')} — "
            f"на балансе {balance}. Получите их в приложении PinGlass: выберите аватар и стиль.")


def payment_closed_notice(*, hours: int, held: bool) -> str:
    """A checkout that stayed unpaid for ``hours`` was cancelled at the bank and closed here; ``held``: the bank
    had reserved the money (a two-stage authorization), and the reservation is released."""
    money = ("Заблокированная банком сумма вернётся на карту — обычно в течение нескольких дней."
             if held else "Деньги не списаны.")
    return (f"Оплата заказа не завершилась за {counted(hours, 'час', 'часа', 'часов')}, и мы его отменили. "
            f"{money} Чтобы получить портреты, оформите заказ заново в приложении PinGlass.")

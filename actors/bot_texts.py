"""What the bot says: pure functions from facts to the text of a reply (no Telegram, no database)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from db.generation import MAX_REFERENCES, MIN_REFERENCES

HELP = ("Что я умею:\n"
        "/start — начать и открыть приложение PinGlass\n"
        "/status — как идёт ваш последний заказ\n"
        "/help — эта подсказка\n\n"
        f"Пришлите сюда {MIN_REFERENCES}–{MAX_REFERENCES} своих фото (можно альбомом): "
        "они станут основой вашего аватара, а портреты вы закажете в приложении.")

UNKNOWN = "Я понимаю команды /start, /status и /help и принимаю фото для аватара."

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
                        total: int) -> str:
    """The answer to one photo or one album: "Получено N фото, всего M/15", what was skipped and why, and
    what the avatar still needs."""
    lines = [f"Получено {added} фото, всего {total}/{MAX_REFERENCES}."]
    if duplicates:
        lines.append(f"Повторы пропущены: {duplicates}.")
    if rejected:
        lines.append(f"Не удалось прочитать: {rejected} — нужны JPEG, PNG или WebP до 10 МБ.")
    if over_limit:
        lines.append(f"Сверх лимита в {MAX_REFERENCES} фото: {over_limit} — они не добавлены.")
    if total < MIN_REFERENCES:
        lines.append(f"Нужно ещё минимум {MIN_REFERENCES - total}.")
    else:
        lines.append("Аватар готов: откройте приложение и выберите стиль.")
    return "\n".join(lines)


def not_a_photo() -> str:
    return "Это не похоже на фото. Пришлите снимок (JPEG, PNG или WebP) — можно альбомом."

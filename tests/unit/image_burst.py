"""``python -m tests.unit.image_burst SIDE REQUESTS FILES``: a burst of REQUESTS threads, each normalising FILES
copies of a 1-bit palette PNG of SIDE×SIDE (a decompression bomb of a few KiB), as the upload route does per
request. Prints one JSON line: the bomb's size, the answers' codes, the process's peak RSS growth and the time."""

from __future__ import annotations

import io
import json
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from PIL import Image


def bomb(side: int) -> bytes:
    out = io.BytesIO()
    Image.new("P", (side, side)).save(out, "PNG", bits=1, optimize=True)
    return out.getvalue()


def peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


def main(side: int, requests: int, files: int) -> None:
    from rules.images import ImageRejected
    from rules.uploads import normalise_upload

    data = bomb(side)
    codes: Counter[str] = Counter()
    lock = threading.Lock()

    def request() -> None:
        for _ in range(files):
            try:
                normalise_upload(data)
                code = "OK"
            except ImageRejected as err:
                code = err.code
            with lock:
                codes[code] += 1

    before = peak_rss()
    started = time.monotonic()
    threads = [threading.Thread(target=request) for _ in range(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"bomb_bytes": len(data), "codes": dict(codes), "seconds": round(time.monotonic() - started, 2),
                      "peak_rss_growth_mib": round((peak_rss() - before) / 2**20, 1)}))


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:4]))

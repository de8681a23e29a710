"""Downloading a provider's result file (a Kie result URL) into memory, bounded in size."""

from __future__ import annotations

from gateways.errors import ProviderError
from gateways.http import HttpClient

MAX_DOWNLOAD = 20 * 1024 * 1024


class DownloadError(ProviderError):
    provider = "files"


class FileFetcher:
    def __init__(self, http: HttpClient | None = None) -> None:
        self.http = http or HttpClient("files", "", error_type=DownloadError)

    def fetch(self, url: str, *, max_bytes: int = MAX_DOWNLOAD) -> bytes:
        """The body of ``url``; 404/403/410 (an expired result) are permanent, 5xx and 429 retryable."""
        response = self.http.request("GET", "", op="download", absolute_url=url, stream=True)
        with response:
            if response.status_code != 200:
                raise DownloadError(f"download answered HTTP {response.status_code}",
                                    code=response.status_code, http_status=response.status_code,
                                    retryable=response.status_code >= 500 or response.status_code == 429)
            chunks, size = [], 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise DownloadError("download is larger than allowed", code="too_large")
                chunks.append(chunk)
        return b"".join(chunks)

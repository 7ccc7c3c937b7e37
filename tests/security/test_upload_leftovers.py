"""Upload files a killed process left behind are swept while the server runs; live ones stay."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from api.app import create_app
from api.serving import serve_in_thread
from tests.security.conftest import bearer, keyed_settings_in

BOUNDARY = "strata-leftover-boundary"
_HOUR_AGO = time.time() - 3600


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_abandoned_upload_files_are_swept_while_a_slow_upload_survives(tmp_path: Path) -> None:
    settings = keyed_settings_in(tmp_path / "home", upload_orphan_seconds=1)
    uploads = settings.home / "uploads"
    released = threading.Event()
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="files"; filename="slow.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
        "A slow upload about the lighthouse at Skerryvore, "
    ).encode()
    tail = f"sent after a long pause.\r\n--{BOUNDARY}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        released.wait(120)
        yield tail

    with serve_in_thread(create_app(settings)) as url:
        # What a process killed mid-upload and mid-ingest leaves: untouched for an hour.
        orphans = [uploads / "0123abcd.part", uploads / "job_dead.1234abcd"]
        for orphan in orphans:
            orphan.write_bytes(b"left behind")
            os.utime(orphan, (_HOUR_AGO, _HOUR_AGO))
        result: dict[str, httpx.Response] = {}

        def upload() -> None:
            with httpx.Client(base_url=url, headers=bearer("admin"), timeout=120) as client:
                result["response"] = client.post(
                    "/v1/documents",
                    content=body(),
                    headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
                )

        sender = threading.Thread(target=upload)
        sender.start()
        _wait_for(lambda: any(p not in orphans for p in uploads.glob("*.part")), "the .part file")
        (receiving,) = [p for p in uploads.glob("*.part") if p not in orphans]
        # A client that stalled for an hour: its file is as old as the orphans.
        os.utime(receiving, (_HOUR_AGO, _HOUR_AGO))
        _wait_for(lambda: not any(p.exists() for p in orphans), "the sweep")
        assert receiving.exists()
        released.set()
        sender.join(120)
        response = result["response"]
        assert response.status_code == 202, response.text
        (job,) = response.json()["jobs"]
        with httpx.Client(base_url=url, headers=bearer("admin"), timeout=30) as admin:
            _wait_for(
                lambda: admin.get(f"/v1/jobs/{job['id']}").json()["status"] == "done",
                "the slow upload's job",
            )
            assert admin.get("/healthz").status_code == 200

"""Screenshots for the README: `make screenshots` (or `python tools/screenshots.py OUT_DIR`).

Builds the demo in a throw-away folder (its own SQLite database, keys and attachments, via
TADASU_VAR_DIR), issues the apology letters of case 3, serves it with `manage.py runserver`,
logs in as the demo manager in Debian's Chromium and saves 1280-pixel-wide PNGs:

- case.png       the case page of 401005-2022-003 (C氏 / D氏, closed)
- case-list.png  the case list
- dashboard.png  /dashboard/, when this branch has it (a 404 is skipped with a note)
- letter.png     the first page of C氏's issued apology letter, drawn by pdftoppm

Needs: apt-get install chromium fonts-ipaexfont poppler-utils.
"""

import os
import shutil
import socket
import subprocess  # nosec B404  # runs manage.py and pdftoppm, fixed arguments
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("TADASU_CHROMIUM", "/usr/bin/chromium")
CASE = "401005-2022-003"
WIDTH = 1280
DEMO_PASSWORD = "tadasu-demo"  # noqa: S105  # the demo's published password (remedies/demo.py)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(env: dict) -> None:
    """Migrate, load the demo and issue C's and D's apology letters (in a child process,
    so that this one never holds Django settings of the throw-away folder)."""
    code = f"""
import django
django.setup()
from django.core.management import call_command
from django_scopes import scopes_disabled
call_command("migrate", verbosity=0)
from cases.models import Case
from remedies.demo import load_demo
from remedies.documents.services import document_issue
users = load_demo()
with scopes_disabled():
    case = Case.objects.get(reference="{CASE}")
    for party in case.parties.order_by("label"):
        document_issue(kind="apology", by=users["staff"], case=case, party=party)
"""
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)  # noqa: S603


def _wait_for(url: str, server: subprocess.Popen) -> None:
    for _ in range(100):
        if server.poll() is not None:
            raise SystemExit("the development server stopped")
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310  # nosec B310  # our server
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"no answer from {url}")


def main(out: Path) -> None:
    missing = [p for p in (CHROMIUM, shutil.which("pdftoppm")) if not p or not Path(p).exists()]
    if missing:
        raise SystemExit(
            "needs Chromium and pdftoppm: apt-get install chromium fonts-ipaexfont poppler-utils"
        )
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tadasu-shots-") as tmp:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_DEBUG": "1",
            "TADASU_VAR_DIR": tmp,
        }
        env.pop("DATABASE_URL", None)
        _prepare(env)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(  # noqa: S603  # nosec B603
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for(f"{base}/accounts/login/", server)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=CHROMIUM,
                    args=["--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
                )
                page = browser.new_page(
                    viewport={"width": WIDTH, "height": 900}, locale="ja-JP", base_url=base
                )
                page.goto("/accounts/login/")
                page.get_by_label("ユーザー名").fill("manager")
                page.get_by_label("パスワード").fill(DEMO_PASSWORD)
                page.get_by_role("button", name="ログイン").click()
                page.wait_for_url(lambda url: "/accounts/login/" not in url)
                page.goto("/cases/")
                page.screenshot(path=out / "case-list.png")

                page.goto(f"/cases/{CASE}/")
                # The top of the page: the stage, the people (masked), whose data went where.
                height = page.evaluate(
                    "() => document.querySelector('#h-content').closest('section')"
                    ".getBoundingClientRect().bottom + window.scrollY + 16"
                )
                page.set_viewport_size({"width": WIDTH, "height": int(height)})
                page.screenshot(path=out / "case.png")
                page.set_viewport_size({"width": WIDTH, "height": 900})

                response = page.goto("/dashboard/")
                if response is not None and response.status == 404:
                    print("dashboard: /dashboard/ answers 404 on this branch; not captured")
                else:
                    page.screenshot(path=out / "dashboard.png", full_page=True)

                page.goto(f"/cases/{CASE}/#documents")
                link = (
                    page.locator("#documents tr", has_text="お詫び状 · C氏")
                    .get_by_role("link", name="ダウンロード")
                    .get_attribute("href")
                )
                pdf = page.request.get(link).body()
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
        pdf_path = Path(tmp) / "letter.pdf"
        pdf_path.write_bytes(pdf)
        page_one = ["-f", "1", "-l", "1", "-singlefile"]
        size = ["-scale-to-x", "800", "-scale-to-y", "-1"]
        pdftoppm = shutil.which("pdftoppm") or "pdftoppm"  # poppler-utils
        subprocess.run(  # noqa: S603  # nosec B603
            [pdftoppm, "-png", *page_one, *size, str(pdf_path), str(out / "letter")],
            check=True,
        )
    for png in sorted(out.glob("*.png")):
        print(f"{png}: {png.stat().st_size:,} bytes")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")

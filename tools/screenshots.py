"""Screenshots for the README: `make screenshots` (or `python tools/screenshots.py OUT_DIR`).

Builds the demo in a throw-away folder (its own SQLite database, keys and attachments, via
TADASU_VAR_DIR), issues the apology letters of case 3, serves it with `manage.py runserver`,
logs in as the demo manager in Debian's Chromium and saves 1280-pixel-wide PNGs:

- case.png       the case page of 401005-2022-003 (C氏 / D氏, closed)
- case-list.png  the case list
- dashboard.png  /dashboard/, when this branch has it (a 404 is skipped with a note)
- audit.png, audit-phone.png  the audit trail of case 3 at 1280 and at 390 pixels
- letter.png     the first page of C氏's issued apology letter, drawn by pdftoppm
- phone-case.png, phone-menu.png, phone-visit.png, phone-case-list.png  contractor staff
                 on a phone (390 × 844): the case page's first screen (the visit form
                 first, the index of its sections), the menu opened, the visit form, and
                 the case list
- town-letter.png, town-repayment.png  a town's letters (a fictitious みどり町 whose own
                 staff ran the desk): the apology to the person owed, and the repayment
                 request to the person who holds the excess

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
PHONE = {"width": 390, "height": 844}
PHONE_CASE = "401005-2022-001"  # open, at a desk the demo contractor ran
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
{TOWN}
"""
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)  # noqa: S603


# A town (fictitious みどり町; 403997 carries its check digit, 3xx: a town of a district)
# whose own staff ran the desk: C owed 5,000円 and paid in cash by the town, D holding it.
TOWN = """
import os
from datetime import date
from pathlib import Path
from cases import services as case_services
from cases.models import CaseKind, CauseCategory, DataKind, Membership, Municipality, Office
from cases.models import Role, User
from remedies import ledger
from remedies.models import Method, Side
town = Municipality.objects.create(
    code="403997", name="みどり町", department="総務課", contact_phone="0000-00-0000",
    contact_people="課長：緑川", citizen_department="住民課", citizen_phone="0000-00-1111",
    citizen_person="森", sender_name="緑川　一郎", document_symbol="み住",
    payment_bank="みほん銀行 みどり支店", payment_account_number="1112223",
    payment_account_holder="みどり町会計管理者",
)
office = Office.objects.create(municipality=town, name="みどり町役場 マイナポイント支援窓口")
clerk = User.objects.create(username="town-staff", last_name="森", first_name="花")
Membership.objects.create(user=clerk, role=Role.STAFF, municipality=town)
with scopes_disabled():
    case = case_services.case_open(
        by=clerk, office=office, kind=CaseKind.CASHLESS_LINK, discovered_on=date(2023, 2, 7),
        cause_category=CauseCategory.LOGOUT_OMITTED,
        cause_text="前の方の手続きの後にログアウトせず、次の方の手続きを開始した。",
        prevention="一人の対応を終える度に必ずログアウトする。",
    )
    c = case_services.party_add(case=case, by=clerk, label="C氏", name="山川 春子",
        address="〒811-0000 遠賀郡みどり町中央（架空）1-1")
    d = case_services.party_add(case=case, by=clerk, label="D氏", name="海野 夏男",
        address="〒811-0000 遠賀郡みどり町本町（架空）2-2")
    case_services.misregistration_add(case=case, by=clerk, source=d, target=c,
        data_kind=DataKind.CASHLESS_ACCOUNT, paid_through=True)
    ledger.ledger_post_misallocation(case=case, owed=c, holder=d, amount=5000,
        on=date(2023, 3, 7), by=clerk)
    ledger.ledger_post_payment(case=case, party=c, amount=5000, side=Side.MUNICIPALITY,
        method=Method.CASH, on=date(2023, 3, 10), by=clerk)
    folder = Path(os.environ["TADASU_VAR_DIR"])
    for name, kind, party in (("town-letter", "apology", c),
                              ("town-repayment", "repayment_request", d)):
        document = document_issue(kind=kind, by=clerk, case=case, party=party,
                                  dated=date(2023, 3, 22))
        (folder / f"{name}.pdf").write_bytes(bytes(document.pdf))
"""


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


def _phone(browser, base: str, out: Path) -> None:
    """Contractor staff at the citizen's door, on a phone."""
    page = browser.new_page(
        viewport=PHONE, locale="ja-JP", base_url=base, device_scale_factor=2, is_mobile=True
    )
    page.goto("/accounts/login/")
    page.get_by_label("ユーザー名").fill("contractor")
    page.get_by_label("パスワード").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    page.goto(f"/cases/{PHONE_CASE}/")
    page.screenshot(path=out / "phone-case.png")
    page.get_by_role("button", name="メニュー").click()
    page.screenshot(path=out / "phone-menu.png")
    page.keyboard.press("Escape")
    page.get_by_role("link", name="訪問を記録する").click()
    page.wait_for_load_state()
    page.screenshot(path=out / "phone-visit.png", full_page=True)
    page.goto("/cases/")
    page.screenshot(path=out / "phone-case-list.png", full_page=True)
    page.close()


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

                # The audit trail of case 3, as an auditor (or this manager) reads it.
                page.goto(f"/audit/?case={CASE}")
                page.screenshot(path=out / "audit.png")
                page.set_viewport_size({"width": 390, "height": 844})
                page.locator("table.audit").evaluate("t => t.scrollIntoView()")
                page.screenshot(path=out / "audit-phone.png")
                page.set_viewport_size({"width": WIDTH, "height": 900})

                page.goto(f"/cases/{CASE}/#documents")
                link = (
                    page.locator("#documents tr", has_text="お詫び状 · C氏")
                    .get_by_role("link", name="ダウンロード")
                    .get_attribute("href")
                )
                pdf = page.request.get(link).body()

                _phone(browser, base, out)

                # The superuser's set-up page, after a submission with mistakes.
                page.context.clear_cookies()
                page.goto("/accounts/login/?next=/setup/municipality/")
                page.get_by_label("ユーザー名").fill("admin")
                page.get_by_label("パスワード").fill(DEMO_PASSWORD)
                page.get_by_role("button", name="ログイン").click()
                page.wait_for_url(lambda url: "/setup/municipality/" in url)
                page.get_by_label("地方公共団体コード").fill("072011")
                page.get_by_label("自治体名").fill("みほん町")
                page.get_by_role("button", name="自治体を登録する").click()
                page.wait_for_load_state()
                page.screenshot(path=out / "municipality-setup.png")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
        pdf_path = Path(tmp) / "letter.pdf"
        pdf_path.write_bytes(pdf)
        page_one = ["-f", "1", "-l", "1", "-singlefile"]
        size = ["-scale-to-x", "800", "-scale-to-y", "-1"]
        pdftoppm = shutil.which("pdftoppm") or "pdftoppm"  # poppler-utils
        for name in ("letter", "town-letter", "town-repayment"):
            source = str(Path(tmp) / f"{name}.pdf")
            subprocess.run(  # noqa: S603  # nosec B603
                [pdftoppm, "-png", *page_one, *size, source, str(out / name)], check=True
            )
    for png in sorted(out.glob("*.png")):
        print(f"{png}: {png.stat().st_size:,} bytes")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")

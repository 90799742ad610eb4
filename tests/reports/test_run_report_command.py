"""``manage.py run_report``: the same numbers as the registry, to stdout or a file, by e-mail; usage errors are
one line on stderr and exit status 2."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from openpyxl import load_workbook

from reports.management.commands.run_report import Command
from reports.registry import run_report
from tests.reports.report_data import EVIL_NAME, build_world

D = Decimal


@pytest.fixture
def world(admin_user):
    return build_world(admin_user)


def run(*args) -> str:
    out = io.StringIO()
    call_command("run_report", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def run_binary(*args) -> bytes:
    """As from a shell: standard output is a byte stream (``sys.stdout.buffer``)."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    call_command("run_report", *args, stdout=out, stderr=io.StringIO())
    out.flush()
    return out.buffer.getvalue()


def usage_error(*args) -> tuple[int, str]:
    err = io.StringIO()
    command = Command(stdout=io.StringIO(), stderr=err)
    with pytest.raises(SystemExit) as exited:
        command.run_from_argv(["manage.py", "run_report", *args])
    return exited.value.code, err.getvalue()


def test_csv_to_stdout_has_the_registrys_numbers(world):
    text = run("sales-summary", "--param", "group_by=year")
    lines = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [(line["period"], D(line["net_amount"]), D(line["total_amount"])) for line in lines] == [
        ("2026", D("140.05"), D("163.65")),
        ("2027", D("10.00"), D("12.00")),
        ("Total", D("150.05"), D("175.65")),
    ]
    assert lines[-1]["orders"] == "4" and lines[-1]["units"] == "21"


def test_json_with_several_params(world):
    data = json.loads(
        run("sales-summary", "--param", "group_by=customer", "--param", "warehouse=EAST", "--format", "json")
    )
    assert data == [
        {"customer": "ALFKI", "customer_name": "Alfreds Futterkiste", "orders": 1, "units": 10,
         "net_amount": 75.0, "tax_amount": 7.5, "shipping_amount": 2.5, "total_amount": 85.0},
        {"customer": "EVIL", "customer_name": EVIL_NAME, "orders": 1, "units": 4,
         "net_amount": 18.05, "tax_amount": 1.9, "shipping_amount": 0.0, "total_amount": 19.95},
        {"customer": "Total", "customer_name": None, "orders": 2, "units": 14,
         "net_amount": 93.05, "tax_amount": 9.4, "shipping_amount": 2.5, "total_amount": 104.95},
    ]  # fmt: skip


def test_xlsx_to_a_file_and_to_stdout_as_bytes(world, tmp_path):
    target = tmp_path / "valuation.xlsx"
    call_command("run_report", "stock-valuation", "--format", "xlsx", "--output", str(target), stderr=io.StringIO())
    from_file = list(load_workbook(target).active.iter_rows(values_only=True))
    from_stdout = list(
        load_workbook(io.BytesIO(run_binary("stock-valuation", "--format", "xlsx"))).active.iter_rows(values_only=True)
    )
    assert from_file == from_stdout
    assert from_file[0] == ("category", "warehouse", "products", "on_hand", "value")
    expected = run_report("stock-valuation", {}).totals
    assert from_file[-1] == ("Total", None, expected["products"], expected["on_hand"], float(expected["value"]))


def test_email_sends_the_scheduled_reports_email(world):
    err = io.StringIO()
    call_command(
        "run_report", "sales-summary", "--param", "date_from=2026-10-01", "--param", "date_to=2026-10-31",
        "--format", "xlsx", "--email", "ann@example.com", "--email", "bob@example.com",
        stdout=io.StringIO(), stderr=err,
    )  # fmt: skip
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == ["ann@example.com", "bob@example.com"]
    assert "Sales summary" in message.subject and "2026-10-01" in message.subject
    ((filename, payload, _mimetype),) = message.attachments
    assert filename == "sales-summary_2026-10.xlsx"
    rows = list(load_workbook(io.BytesIO(payload)).active.iter_rows(values_only=True))
    assert rows[-1][0] == "Total" and rows[-1][-1] == 19.95
    assert "sent to ann@example.com" in err.getvalue()


@pytest.mark.parametrize(
    "args, message",
    [
        (["no-such-report"], "Unknown report 'no-such-report'"),
        (["sales-summary", "--param", "nonsense"], "Malformed --param 'nonsense'"),
        (["sales-summary", "--param", "date_from=yesterdayish"], "date_from: Enter a valid date."),
        (["sales-summary", "--param", "colour=red"], "colour: Unknown parameter."),
        (["sales-summary", "--param", "group_by=fortnight"], "group_by: Select a valid choice."),
        (["sales-summary", "--param", "a=1", "--param", "a=2"], "--param a is given twice."),
        (["sales-summary", "--email", "not-an-address"], "Not an e-mail address"),
    ],
)
@pytest.mark.django_db
def test_usage_errors_are_one_line_and_status_2(args, message):
    status, stderr = usage_error(*args)
    assert status == 2
    assert message in stderr and stderr.strip().count("\n") == 0
    assert len(mail.outbox) == 0


@pytest.mark.django_db
def test_unknown_format_is_refused_by_the_parser_with_status_2():
    with pytest.raises(SystemExit) as exited:
        Command(stdout=io.StringIO(), stderr=io.StringIO()).run_from_argv(
            ["manage.py", "run_report", "sales-summary", "--format", "pdf"]
        )
    assert exited.value.code == 2


@pytest.mark.django_db
def test_empty_report_still_has_a_header_and_a_totals_row():
    text = run("stock-on-hand")
    assert text.lstrip("\ufeff").splitlines() == [
        "sku,product,category,warehouse,on_hand,allocated,available,incoming,average_cost,value",
        "Total,,,,0,0,0,0,,0.00",
    ]

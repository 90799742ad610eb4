"""Document numbers: sequential per prefix, never shared, never reused."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from backoffice.models import DocumentSequence
from backoffice.numbering import next_document_number


@pytest.mark.django_db
def test_numbers_follow_each_other():
    assert [next_document_number("SO") for _ in range(3)] == ["SO-000001", "SO-000002", "SO-000003"]


@pytest.mark.django_db
def test_each_prefix_has_its_own_sequence():
    next_document_number("SO")
    next_document_number("SO")

    assert next_document_number("PO") == "PO-000001"
    assert next_document_number("SO") == "SO-000003"
    assert next_document_number("PO") == "PO-000002"


@pytest.mark.django_db
def test_width_can_be_chosen_and_grows_past_it():
    DocumentSequence.objects.create(prefix="RC", last_value=99)

    assert next_document_number("RC", width=2) == "RC-100"


@pytest.mark.django_db
def test_a_rolled_back_document_does_not_burn_a_number_twice():
    class Boom(Exception):
        pass

    next_document_number("SH")
    with pytest.raises(Boom), transaction.atomic():
        next_document_number("SH")
        raise Boom

    # The rolled-back number was never committed to any document, so it is handed out again.
    assert next_document_number("SH") == "SH-000002"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks (PostgreSQL)")
@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_get_distinct_numbers():
    threads_count, per_thread = 8, 10
    numbers: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(threads_count)
    lock = threading.Lock()

    def take():
        try:
            start.wait()
            for _ in range(per_thread):
                number = next_document_number("SO")
                with lock:
                    numbers.append(number)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=take) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(numbers) == threads_count * per_thread
    assert sorted(numbers) == [f"SO-{n:06d}" for n in range(1, threads_count * per_thread + 1)]

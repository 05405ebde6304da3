"""Exporting the usage records list as CSV: the same records as the list shows, streamed."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.http import StreamingHttpResponse

from apikeys.services import create_api_key
from relay.tests.records import record
from usage import admin as usage_admin

# The admin's test client is synchronous; the export streams asynchronously, as served over ASGI.
pytestmark = pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators")


def exported(admin_client, **params) -> list[dict[str, str]]:
    response = admin_client.get("/admin/relay/usagerecord/export/", params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="usage-')
    return list(csv.DictReader(io.StringIO(b"".join(response).decode())))


def test_it_exports_the_filtered_records_with_a_header_row(admin_client, make_user):
    ada, bob = make_user("ada"), make_user("bob")
    record(ada, model="gpt-4o", total_tokens=42)
    record(ada, model="gpt-4o-mini")
    record(bob, model="gpt-4o")

    rows = exported(admin_client, user__id__exact=ada.pk, model__exact="gpt-4o")

    assert len(rows) == 1
    assert rows[0]["user"] == "ada"
    assert rows[0]["model"] == "gpt-4o"
    assert rows[0]["total_tokens"] == "42"


def test_it_writes_the_header_row_when_nothing_matches(admin_client):
    response = admin_client.get("/admin/relay/usagerecord/export/")

    header = b"".join(response).decode().splitlines()
    assert header == ["id,created,day,user,team,api_key_prefix,endpoint,stream,model,status_code,prompt_tokens,"
                      "completion_tokens,total_tokens,cost,currency,estimated,latency_ms,ttfb_ms,request_id,upstream_request_id,error,"
                      "prompt_text,completion_text"]  # fmt: skip


def test_it_writes_each_records_cost_exactly_in_its_currency(admin_client, user):
    record(user, cost=1_234_567_891, currency="USD")
    record(user, cost=150, currency="CNY")

    rows = exported(admin_client)

    assert sorted((row["cost"], row["currency"]) for row in rows) == [("0.000000150", "CNY"), ("1.234567891", "USD")]


def test_it_follows_the_date_hierarchy_and_the_search(admin_client, make_user):
    record(make_user("ada"), at=dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC))
    record(make_user("bob"), at=dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC))
    record(make_user("bobby"), at=dt.datetime(2026, 4, 2, 12, tzinfo=dt.UTC))

    rows = exported(admin_client, created__year=2026, created__month=3, q="bob")

    assert [row["user"] for row in rows] == ["bob"]


def test_a_request_id_finds_its_record_and_no_other(admin_client, make_user):
    record(make_user("ada"), request_id="3f9c0a")
    record(make_user("bob"), request_id="3f9c0a-not-this-one")

    rows = exported(admin_client, q="3f9c0a")

    assert [(row["user"], row["request_id"]) for row in rows] == [("ada", "3f9c0a")]


def test_it_names_an_api_key_by_its_prefix_alone(admin_client, user):
    api_key, raw_key = create_api_key(user=user, name="laptop")
    record(user, api_key=api_key)

    response = admin_client.get("/admin/relay/usagerecord/export/")

    content = b"".join(response).decode()
    assert api_key.prefix in content
    assert raw_key not in content


def test_it_writes_times_in_the_configured_time_zone(admin_client, user, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    record(user, at=dt.datetime(2026, 3, 2, 23, 30, tzinfo=dt.UTC))

    assert exported(admin_client)[0]["created"] == "2026-03-03T07:30:00+08:00"


def test_it_keeps_texts_that_look_like_formulas_as_text(admin_client, user):
    record(user, prompt_text='=HYPERLINK("http://evil.example","x")', completion_text='a, "quoted"\nanswer')

    row = exported(admin_client)[0]

    assert row["prompt_text"] == '\'=HYPERLINK("http://evil.example","x")'
    assert row["completion_text"] == 'a, "quoted"\nanswer'


def test_it_streams_the_records_in_chunks(admin_client, user, monkeypatch):
    monkeypatch.setattr("usage.admin.CSV_ROWS_PER_CHUNK", 2)
    for _ in range(3):
        record(user)

    response = admin_client.get("/admin/relay/usagerecord/export/")

    assert response.streaming
    assert len(list(response)) == 3  # the header, two records, the last record


def test_it_sends_back_to_the_list_when_a_filter_is_wrong(admin_client):
    response = admin_client.get("/admin/relay/usagerecord/export/", {"created__gte": "not a date"})

    assert response.status_code == 302
    assert response["Location"] == "/admin/relay/usagerecord/?e=1"


def test_it_reads_the_records_as_it_sends_them_not_before(admin_client, user, monkeypatch):
    from asgiref.sync import async_to_sync

    monkeypatch.setattr("usage.admin.CSV_ROWS_PER_CHUNK", 1)
    written = []
    cells = usage_admin._cells
    monkeypatch.setattr("usage.admin._cells", lambda row: written.append(row) or cells(row))
    for _ in range(5):
        record(user)

    response = admin_client.get("/admin/relay/usagerecord/export/")
    assert isinstance(response, StreamingHttpResponse)
    assert response.is_async
    assert written == []  # nothing read before the first chunk is asked for

    async def first_two():
        chunks = aiter(response.streaming_content)
        return [await anext(chunks), await anext(chunks)]

    header, _first = async_to_sync(first_two)()

    assert header.startswith(b"id,created,")
    assert len(written) == 1  # one record read for the one chunk sent

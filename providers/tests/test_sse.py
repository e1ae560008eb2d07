"""SSE parser: framing rules, chunk boundaries, size guards, and a fuzz test."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers.sse import SSEOverflow, SSEParser, format_event, format_json


def parse(*chunks: bytes) -> list:
    parser = SSEParser()
    events = [e for c in chunks for e in parser.feed(c)]
    return events + parser.flush()


def test_it_emits_one_event_per_blank_line() -> None:
    events = parse(b"data: a\n\ndata: b\n\n")
    assert [e.data for e in events] == [b"a", b"b"]


def test_it_accepts_crlf_and_lone_cr_line_endings() -> None:
    assert [e.data for e in parse(b"data: a\r\n\r\ndata: b\r\rdata: c\n\n")] == \
        [b"a", b"b", b"c"]


def test_it_joins_multi_line_data_with_newlines() -> None:
    assert parse(b"data: one\ndata: two\n\n")[0].data == b"one\ntwo"


def test_it_ignores_comments_and_keeps_event_names_and_ids() -> None:
    event = parse(b": keep-alive\nevent: message_start\nid: 7\ndata: {}\n\n")[0]
    assert (event.event, event.id, event.data) == ("message_start", "7", b"{}")


def test_it_reassembles_an_event_split_across_chunks_even_between_cr_and_lf() -> None:
    events = parse(b"da", b"ta: hel", b"lo\r", b"\n\r", b"\ndata: x\n\n")
    assert [e.data for e in events] == [b"hello", b"x"]


def test_it_does_not_dispatch_an_event_without_data() -> None:
    assert parse(b"event: ping\n\n") == []


def test_it_recognises_the_done_sentinel() -> None:
    assert parse(b"data: [DONE]\n\n")[0].is_done


def test_it_dispatches_a_final_event_missing_its_blank_line_at_flush() -> None:
    assert [e.data for e in parse(b"data: tail")] == [b"tail"]


def test_it_refuses_a_line_longer_than_the_guard() -> None:
    parser = SSEParser(max_line=16)
    with pytest.raises(SSEOverflow):
        parser.feed(b"data: " + b"x" * 32)


def test_it_refuses_an_event_larger_than_the_guard() -> None:
    parser = SSEParser(max_line=64, max_event=20)
    with pytest.raises(SSEOverflow):
        parser.feed(b"data: 0123456789\ndata: 0123456789\n")


def test_formatters_write_parseable_events() -> None:
    raw = format_event("ping", {"type": "ping"}) + format_json({"a": 1})
    events = parse(raw)
    assert events[0].event == "ping" and events[0].json() == {"type": "ping"}
    assert events[1].json() == {"a": 1}


payload = st.binary(max_size=40).map(
    lambda b: b.replace(b"\n", b"").replace(b"\r", b""))
events_st = st.lists(st.tuples(st.sampled_from([b"", b"message", b"delta"]),
                               st.lists(payload, min_size=1, max_size=3)), max_size=8)


@given(events_st, st.sampled_from([b"\n", b"\r\n", b"\r"]), st.data())
def test_any_chunking_of_any_stream_yields_the_same_events(events, eol, data) -> None:
    raw = b""
    for name, lines in events:
        if name:
            raw += b"event: " + name + eol
        raw += b"".join(b"data: " + line + eol for line in lines) + eol
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=10)))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    got = [(e.event.encode(), e.data) for e in parse(*pieces)]
    expected = [(name, b"\n".join(lines)) for name, lines in events]
    assert got == expected

import io
import json
import logging

from oneproxy.logging import JsonFormatter, RequestIdFilter, request_id_var


def _log_line(message, **extra):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("oneproxy.test.json")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning(message, extra=extra)
    finally:
        logger.removeHandler(handler)
    return json.loads(stream.getvalue())


def test_log_lines_are_json_with_the_current_request_id_and_extra_fields():
    token = request_id_var.set("req-abc")
    try:
        line = _log_line("upstream slow", channel=7)
    finally:
        request_id_var.reset(token)
    assert line["message"] == "upstream slow"
    assert line["request_id"] == "req-abc"
    assert line["channel"] == 7
    assert line["level"] == "WARNING"


def test_log_lines_outside_a_request_say_so():
    assert _log_line("boot")["request_id"] == "-"

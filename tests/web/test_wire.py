"""What crosses the wire: every payload out through one cleaning (strict JSON, NaN as null), and any packet in,
however malformed, answered with the usual error ack, without a traceback and logged once per client a minute."""
import json
import logging

import numpy as np
import pytest
from flask import jsonify

from support import check_predict_refused_after_divergence, strict
from web.payloads import Packet

NAN = {"nan": float("nan"), "inf": np.float32("inf"), "array": np.array([1.5, np.nan, -np.inf]), "n": np.int64(3)}
CLEAN = {"nan": None, "inf": None, "array": [1.5, None, None], "n": 3}


def start(client, config):
    ack = client.call("start", {"config": config})
    assert ack["ok"], ack
    return ack["job_id"]


def test_socket_packets_are_strict_json_with_nan_as_null():
    text = Packet(2, data=["events", NAN]).encode()
    assert json.loads(text[1:], parse_constant=lambda c: pytest.fail(f"{c} sent")) == ["events", CLEAN]


def test_http_json_is_strict_with_nan_as_null(app):
    with app.app_context():
        body = jsonify(NAN).get_data(as_text=True)
    assert json.loads(body, parse_constant=lambda c: pytest.fail(f"{c} sent")) == CLEAN


def test_an_emit_with_nan_reaches_the_client_as_null(app, socket_client):
    a = socket_client()
    app.extensions["socketio"].emit("probe", NAN)
    assert strict(a.wait_for(lambda c: c.payloads("probe"), message="the probe")[0]) == CLEAN


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_predict_on_a_diverged_model_is_refused_clearly(socket_client):
    check_predict_refused_after_divergence(socket_client(), start)


# --- packets in -----------------------------------------------------------------------------------
DEEP = "[" * 1000 + "]" * 1000
UNREADABLE = [  # Socket.IO packets (an Engine.IO message '4' carries each): 2 is an event, then its ack id
    ('2{n}["start",' + DEEP + "]", "nested too deeply"),
    ('2{n}["ping",{"x":' + "7" * 5000 + "}]", "number too long"),
    ('2{n}["ping",{"x":' + "7" * 101 + "}]", None),  # a long number JSON can read: ping answers
    ("2{n}{\"a\": 1}", "must be a list"),
    ("2{n}[]", "must be a list"),
    ("2{n}[5, 6]", "must be a list"),
    ('2{n}["ping", nope]', "not valid JSON"),
    ('2{n}["nope", {}]', "unknown event 'nope'"),
    ('2{n}["disconnect"]', "unknown event 'disconnect'"),  # the server's own handler: not for clients
    ('2{n}["*", {}]', "unknown event '*'"),
    ("4{n}{}", "not a packet a client sends"),  # CONNECT_ERROR is the server's
    ("9{n}", "not a packet a client sends"),
]


def raw(client, text):
    """Hand the server one raw Socket.IO packet from this client, as if it came over its transport; its ack."""
    client.raw.acks = None
    client.raw.socketio.server._handle_eio_message(client.raw.eio_sid, text)
    return client.raw.acks["args"][0] if client.raw.acks else None


def test_unreadable_or_unknown_packets_get_an_error_ack_and_are_logged_once(socket_client, caplog):
    a = socket_client()
    caplog.set_level(logging.WARNING)
    for i, (text, words) in enumerate(UNREADABLE * 3):
        ack = raw(a, text.replace("{n}", str(100 + i)))
        if words is None:
            assert ack is None or ack["ok"] is True, (text[:40], ack)
            continue
        assert ack is not None and ack["ok"] is False and words in ack["message"], (text[:40], ack)
        assert len(ack["message"]) < 200 and a.errors()[-1] == {k: v for k, v in ack.items() if k != "ok"}
    assert raw(a, '2999["ping",{}]')["ok"] is True  # the connection still works
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]
    about = [r for r in caplog.records if r.name == "bpnet.web" and "client" in r.getMessage()]
    assert len(about) == 1, [r.getMessage() for r in about]
    # another client is logged on its own
    raw(socket_client(), '2["nope",{}]')
    assert len([r for r in caplog.records if r.name == "bpnet.web" and "client" in r.getMessage()]) == 2


def test_an_ack_id_too_long_is_refused_like_any_unreadable_packet(socket_client, caplog):
    a = socket_client()
    ack = raw(a, "2" + "1" * 101 + '["ping",{}]')
    assert ack["ok"] is False and "could not read" in ack["message"] and ack["event"] == "ping", ack
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


# --- rate limits ----------------------------------------------------------------------------------------
def test_predictions_are_rate_limited_per_connection_for_owners_and_watchers(app, socket_client):
    from support import TINY_MNIST

    limit = app.extensions["bpnet_predict_limit"]
    now = [1000.0]
    limit.clock = lambda: now[0]  # frozen: the bucket refills only when the test moves the clock
    owner, watcher = socket_client(), socket_client()
    job_id = start(owner, TINY_MNIST)
    owner.wait_state(job_id, "finished", timeout=60)
    ask = {"job_id": job_id, "pixels": [0.5] * 784}
    for client in (owner, watcher, socket_client(session=watcher)):  # another tab: its own connection
        acks = [client.call("predict", ask) for _ in range(limit.burst + 3)]
        assert [a["ok"] for a in acks] == [True] * limit.burst + [False] * 3
        assert "too many predictions" in acks[-1]["message"] and client.errors()[-1]["event"] == "predict"
    now[0] += 1.0  # a second later: `rate` more
    assert [owner.call("predict", ask)["ok"] for _ in range(limit.rate + 1)] == [True] * limit.rate + [False]

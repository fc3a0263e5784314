"""Payloads on the wire: out through one cleaning function, in without a traceback whatever arrives.

Every JSON payload that leaves the server, Socket.IO packets (events, acks, errors) and HTTP JSON alike, is
encoded by bpnet.engine.events.dumps: numpy values become plain numbers, NaN and infinities null, so a diverged
model can never send a token the browser cannot parse.

A Socket.IO packet that cannot be read (JSON nested a thousand deep, a number of thousands of digits, an event
that is not [name, ...]) used to get no answer and two tracebacks in the log per packet; it is now delivered as
the event UNREADABLE with a description of the problem, which web/sockets.py answers with the usual error ack.
So is an event a client may not send (a reserved name such as 'disconnect', which ran the server's handler).
"""
import re

from flask.json.provider import DefaultJSONProvider
from socketio import packet as sio_packet

from bpnet.engine.events import JSON, clean

__all__ = ["Packet", "JSONProvider", "UNREADABLE"]

UNREADABLE = "bpnet:unreadable"  # the event an unreadable packet is delivered as: [UNREADABLE, {event, problem}]
RESERVED = ("connect", "disconnect", "connect_error", "*", UNREADABLE)  # names a client event may not have
CLIENT_PACKETS = (sio_packet.CONNECT, sio_packet.DISCONNECT, sio_packet.EVENT, sio_packet.ACK,
                  sio_packet.BINARY_EVENT, sio_packet.BINARY_ACK)
_NAME = re.compile(r'\s*\[\s*"([A-Za-z0-9_:-]{1,40})"')


class Packet(sio_packet.Packet):
    """Socket.IO's packet with the server's JSON encoding, and unreadable client packets turned into events."""

    json = JSON

    def decode(self, encoded_packet):
        try:
            attachments = super().decode(encoded_packet)
        except (ValueError, RecursionError, TypeError) as exc:  # TypeError: binary where text was expected
            self._unreadable(encoded_packet, _problem(exc))
            return 0
        if self.packet_type not in CLIENT_PACKETS:
            self._unreadable(encoded_packet, "not a packet a client sends")
            return 0
        if self.packet_type in (sio_packet.EVENT, sio_packet.BINARY_EVENT):
            if not (isinstance(self.data, list) and self.data and isinstance(self.data[0], str)):
                self._unreadable(encoded_packet, "an event must be a list: [name, data]")
                return 0
            if self.data[0] in RESERVED:  # a client may not call the server's own connect/disconnect handlers
                self.data = [UNREADABLE, {"event": self.data[0], "unknown": True}]
        return attachments

    def _unreadable(self, encoded, problem):
        """Make this an EVENT packet for UNREADABLE (keeping the ack id, if it was read, to answer it)."""
        text = encoded if isinstance(encoded, str) else ""
        name = _NAME.match(text[text.find("["):] if "[" in text else "")
        self.packet_type = sio_packet.EVENT
        self.data = [UNREADABLE, {"event": name.group(1) if name else None, "problem": problem}]
        self.attachment_count, self.attachments = 0, []


def _problem(exc):
    if isinstance(exc, RecursionError):
        return "the message is nested too deeply"
    text = str(exc)
    if "digits" in text or "too long" in text:
        return "the message holds a number too long to read"
    return "the message is not valid JSON"


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON (jsonify, error bodies) through the same cleaning: strict JSON, NaN as null."""

    def dumps(self, obj, **kwargs):
        kwargs.setdefault("allow_nan", False)
        return super().dumps(clean(obj), **kwargs)

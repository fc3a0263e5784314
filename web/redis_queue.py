"""The Socket.IO message queue of a web process in Redis mode (python-socketio's RedisManager, two changes).

- After a Redis outage it listens again within RETRY_MAX seconds of Redis being back: the library doubles its
  wait up to 60 s, so after a 90 s outage a web process could miss the workers' events for half a minute more
  (a worker whose events reach no web process for REDIS_PATIENCE seconds gives its job up).
- It hands the events of the jobs this process launched to on_events(job_id, events): the web process keeps
  them (bpnet.engine.replay.EventLog), so a job whose worker is lost keeps its history for downloads.
"""
import time

import socketio

__all__ = ["WebRedisManager", "RETRY_MAX"]

RETRY_MAX = 1.0  # seconds between two attempts to listen again


class WebRedisManager(socketio.RedisManager):
    def __init__(self, url, on_events=None):
        super().__init__(url, channel="flask-socketio")  # Flask-SocketIO's channel, as the workers publish on
        self.on_events = on_events

    def _handle_emit(self, message):
        super()._handle_emit(message)
        room = message.get("room")
        if self.on_events and message.get("event") == "events" and isinstance(room, str) and room.startswith("job:"):
            data = message.get("data") or [None]
            if isinstance(data[0], list):
                self.on_events(room[len("job:"):], data[0])

    def _redis_listen_with_retries(self):  # pragma: no cover - the library's loop with a short, fixed retry wait
        subscribed = False
        while True:
            try:
                if not subscribed:
                    self._redis_connect()
                    self.pubsub.subscribe(self.channel)
                yield from self.pubsub.listen()
            except Exception as exc:  # noqa: BLE001 - Redis away: try again shortly
                self._get_logger().error(f"Cannot receive from redis... retrying in {RETRY_MAX:g} secs",
                                         extra={"redis_exception": str(exc)})
                subscribed = False
                time.sleep(RETRY_MAX)

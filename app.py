"""The bpnet dashboard. `python app.py [--host H] [--port P]` runs it; gunicorn serves `app:app`."""
import argparse
import os
import signal
import sys

from werkzeug.serving import WSGIRequestHandler

from web import create_app


class QuietHandler(WSGIRequestHandler):
    """The development server's request handler, without its Werkzeug and Python versions in every answer."""

    def version_string(self):
        return "bpnet"

if __name__ != "__mp_main__":  # (with WORKERS=processes, each spawned worker process re-runs this file: no app there)
    app = create_app()
    socketio = app.extensions["socketio"]


def main():
    parser = argparse.ArgumentParser(description="bpnet: watch neural networks learn, live.")
    parser.add_argument("--host", default=os.environ.get("BPNET_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("BPNET_PORT", "5000")))
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args()
    print(f"bpnet dashboard on http://{args.host}:{args.port}  (Ctrl-C to stop)", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # like Ctrl-C: through the clean-up below
    try:
        socketio.run(app, host=args.host, port=args.port, debug=args.debug, use_reloader=False,
                     allow_unsafe_werkzeug=True, request_handler=QuietHandler)
    except KeyboardInterrupt:
        pass
    finally:  # stop the jobs (they end 'stopped'); end the worker pool and its queue manager with this process
        jobs = app.extensions["bpnet_jobs"]
        jobs.stop_all(timeout=3)
        jobs.backend.shutdown()


if __name__ == "__main__":
    main()

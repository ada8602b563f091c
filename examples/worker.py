# A small stand-in for a web worker, used by `make demo`: it serves requests
# from a queue, renders templates, and looks values up through a cache whose
# entries live only a second, so most of the time goes into recomputing them.
# Runs on Python 2.7 and 3.6+. Usage: worker.py [SECONDS] [crash]
from __future__ import print_function

import hashlib
import json
import os
import sys
import threading
import time

CACHE_TTL = 1.0
_cache = {}


def expensive_lookup(key):
    digest = key.encode("utf-8")
    for _ in range(20000):
        digest = hashlib.sha256(digest).digest()
    return digest[:8]


def cached_lookup(key):
    hit = _cache.get(key)
    now = time.time()
    if hit is not None and now - hit[0] < CACHE_TTL:
        return hit[1]
    value = expensive_lookup(key)
    _cache[key] = (now, value)
    return value


def render(context):
    parts = []
    for name in sorted(context):
        parts.append("<li>%s: %s</li>" % (name, context[name]))
    return "<ul>%s</ul>" % "".join(parts)


def handle(request_id):
    user = "user-%d" % (request_id % 50)
    context = {"user": user, "token": repr(cached_lookup(user)), "id": request_id}
    body = render(context)
    return json.dumps({"status": 200, "length": len(body)})


def serve(seconds):
    deadline = time.time() + seconds
    request_id = 0
    while time.time() < deadline:
        handle(request_id)
        request_id += 1
    return request_id


def housekeeping(stop):
    while not stop.is_set():
        stop.wait(0.2)


def crash():
    import ctypes
    ctypes.string_at(0)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    stop = threading.Event()
    keeper = threading.Thread(target=housekeeping, args=(stop,), name="housekeeping")
    keeper.start()
    served = serve(seconds)
    if len(sys.argv) > 2 and sys.argv[2] == "crash":
        crash()
    stop.set()
    keeper.join()
    print("served %d requests in %.1fs" % (served, seconds))


if __name__ == "__main__":
    main()

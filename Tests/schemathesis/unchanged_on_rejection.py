"""schemathesis hooks (SCHEMATHESIS_HOOKS=unchanged_on_rejection): a request the gateway refuses
changes nothing in Redis.

Before every call it takes Redis' `DEBUG DIGEST` (one digest of every key and value; Redis needs
`--enable-debug-command local`) and the id of the pool's newest event. The check
`rejected_request_changes_nothing` takes them again after an answer of 400 or more and fails when
the digest moved. When the newest event moved too, work of the gateway's own (a lease running out,
a provisioning job) wrote in between, so that case proves nothing and is counted apart: a refused
request writes no event. The counts go to `rejections.txt` in the working folder, for the test to
read ("checked N, inconclusive M").

Environment: VMRESERVE_TEST_REDIS_PORT (Redis on 127.0.0.1), VMRESERVE_TEST_POOL_PREFIX (the
pool's key prefix, e.g. `vmreserve:{default}`).
"""

import os
import socket

import schemathesis

PORT = int(os.environ["VMRESERVE_TEST_REDIS_PORT"])
EVENTS = os.environ["VMRESERVE_TEST_POOL_PREFIX"] + ":events"
counts = {"checked": 0, "inconclusive": 0}
before = {}


def redis(*words):
    """Sends one command; answers its reply (a string, an int, or a list of those)."""
    with socket.create_connection(("127.0.0.1", PORT)) as connection:
        command = "*%d\r\n" % len(words) + "".join("$%d\r\n%s\r\n" % (len(w.encode()), w) for w in words)
        connection.sendall(command.encode())
        return read_reply(connection.makefile("rb"))


def read_reply(stream):
    line = stream.readline().decode().rstrip("\r\n")
    kind, rest = line[0], line[1:]
    if kind == "+":
        return rest
    if kind == "-":
        raise RuntimeError(rest)
    if kind == ":":
        return int(rest)
    if kind == "$":
        return None if rest == "-1" else stream.read(int(rest) + 2)[:-2].decode()
    if kind == "*":
        return None if rest == "-1" else [read_reply(stream) for _ in range(int(rest))]
    raise RuntimeError("unexpected reply " + line)


def snapshot():
    """Redis' digest of everything, and the pool's newest event id."""
    newest = redis("XREVRANGE", EVENTS, "+", "-", "COUNT", "1")
    return redis("DEBUG", "DIGEST"), newest[0][0] if newest else None


@schemathesis.hook
def before_call(ctx, case, kwargs):
    before["state"] = snapshot()


@schemathesis.check
def rejected_request_changes_nothing(ctx, response, case):
    if response.status_code < 400:
        return None
    (digest, event), (digest_now, event_now) = before["state"], snapshot()
    if event_now != event:
        counts["inconclusive"] += 1
    else:
        counts["checked"] += 1
        assert digest_now == digest, "a refused request (%d) changed Redis" % response.status_code
    with open("rejections.txt", "w") as report:
        report.write("checked %d, inconclusive %d\n" % (counts["checked"], counts["inconclusive"]))
    return None

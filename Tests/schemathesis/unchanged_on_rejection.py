"""schemathesis hooks (SCHEMATHESIS_HOOKS=unchanged_on_rejection): a request the gateway refuses
changes nothing in Redis.

Before every call it takes a digest of every key (`DEBUG DIGEST-VALUE`; Redis needs
`--enable-debug-command local`), which keys have a time to live, and the id of the pool's newest
event. The check `rejected_request_changes_nothing` takes them again after an answer of 400 or
more and fails naming every key that appeared, went or changed, but for what no request does:
a key with a time to live that ran out, and a gateway's handoff list (`P:handoff:<gateway>`,
which its own listener empties). When the newest event moved, work of the gateway's own (a lease
running out, a provisioning job) wrote in between, so that case proves nothing and is counted
apart: a refused request writes no event. So is a request schemathesis sends of its own (another
method, to see it refused), which no snapshot just before it covers, and a snapshot an event
came in the middle of. Requests must come one at a time (`--workers 1`). The counts go to `rejections.txt` in the working
folder, for the test to read ("checked N, inconclusive M").

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


def redis(*commands):
    """Sends commands (each a list of words) on one connection; answers their replies (strings,
    ints, or lists of those)."""
    with socket.create_connection(("127.0.0.1", PORT)) as connection:
        wire = "".join("*%d\r\n" % len(words) + "".join("$%d\r\n%s\r\n" % (len(w.encode()), w) for w in words)
                       for words in commands)
        connection.sendall(wire.encode())
        stream = connection.makefile("rb")
        return [read_reply(stream) for _ in commands]


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
    """Every key's digest, the keys with a time to live, and the pool's newest event id (None when
    an event came while the snapshot was taken: it is not of one moment then)."""
    keys, newest = redis(["KEYS", "*"], ["XREVRANGE", EVENTS, "+", "-", "COUNT", "1"])
    if not keys:
        return {}, set(), None
    replies = redis(["DEBUG", "DIGEST-VALUE"] + keys, *[["PTTL", key] for key in keys],
                    ["XREVRANGE", EVENTS, "+", "-", "COUNT", "1"])
    digests, ttls, newest_after = replies[0], replies[1:-1], replies[-1]
    newest_id = (newest[0][0] if newest else "") if newest == newest_after else None
    return dict(zip(keys, digests)), {key for key, ttl in zip(keys, ttls) if ttl >= 0}, newest_id


def changed_keys(before, after):
    """The keys that appeared, went or changed, but for those no request changes."""
    (digests, volatile, _), (digests_now, _, _) = before, after
    changed = {key for key in set(digests) | set(digests_now) if digests.get(key) != digests_now.get(key)}
    return sorted(key for key in changed
                  if not (key in volatile and key not in digests_now) and ":handoff:" not in key)


@schemathesis.hook
def before_call(ctx, case, kwargs):
    before["state"] = snapshot()
    before["method"] = case.method.upper()


@schemathesis.check
def rejected_request_changes_nothing(ctx, response, case):
    if response.status_code < 400:
        return None
    now = snapshot()
    # (a request schemathesis sends of its own, such as another method to see it refused, has no
    # snapshot taken just before it; and an event means the gateway's own work wrote meanwhile)
    if (response.request.method.upper() != before.get("method") or now[2] is None or before["state"][2] is None
            or now[2] != before["state"][2]):
        counts["inconclusive"] += 1
    else:
        counts["checked"] += 1
        changed = changed_keys(before["state"], now)
        assert not changed, "a refused request (%d) changed Redis: %s" % (response.status_code, ", ".join(changed))
    with open("rejections.txt", "w") as report:
        report.write("checked %d, inconclusive %d\n" % (counts["checked"], counts["inconclusive"]))
    return None

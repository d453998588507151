"""A remote-controlled autobahn-python client (Debian's python3-autobahn) for the interop tests.

    /usr/bin/python3 autobahn_peer.py --url ws://127.0.0.1:PORT/ --realm realm1 --serializer json|msgpack|cbor

--url may be tcp://HOST:PORT for RawSocket. The line protocol is autobahn-peer.js's (one JSON object per line:
commands in on standard input, replies and notifications out on standard output, binary values as
{"$bytes": BASE64}), plus the callee behaviour "wait", which never answers and reports {"event":"interrupted"}
when the router interrupts it (autobahn-python announces call_canceling), and the call field "cancel_after_ms",
which cancels the call's future (CANCEL) that long after sending it. The peer exits when its input closes.
"""

import argparse
import asyncio
import base64
import json
import sys
import threading
from urllib.parse import urlparse

from autobahn.asyncio.rawsocket import WampRawSocketClientFactory, WampRawSocketClientProtocol
from autobahn.asyncio.wamp import ApplicationSession
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.wamp import serializer as serializers
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import (CallOptions, CallResult, ComponentConfig, PublishOptions, RegisterOptions,
                                 SubscribeOptions)


def write(obj):
    sys.stdout.write(json.dumps(to_wire(obj)) + "\n")
    sys.stdout.flush()


def to_wire(v):
    if isinstance(v, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(v)).decode("ascii")}
    if isinstance(v, (list, tuple)):
        return [to_wire(x) for x in v]
    if isinstance(v, dict):
        return {k: to_wire(x) for k, x in v.items() if x is not None}
    return v


def from_wire(v):
    if isinstance(v, list):
        return [from_wire(x) for x in v]
    if isinstance(v, dict):
        if len(v) == 1 and isinstance(v.get("$bytes"), str):
            return base64.b64decode(v["$bytes"])
        return {k: from_wire(x) for k, x in v.items()}
    return v


def make_serializer(name):
    found = {
        "json": getattr(serializers, "JsonSerializer", None),
        "msgpack": getattr(serializers, "MsgPackSerializer", None),
        "cbor": getattr(serializers, "CBORSerializer", None),
    }.get(name)
    if found is None:
        raise SystemExit("autobahn-python here has no %s serializer" % name)
    return found()


def result_of(res):
    """autobahn-python returns a bare value for one positional result, None for none, CallResult otherwise."""
    if isinstance(res, CallResult):
        return list(res.results), dict(res.kwresults)
    if res is None:
        return [], {}
    return [res], {}


class RawSocketClientProtocol(WampRawSocketClientProtocol):
    """autobahn-python 22.7.1's asyncio RawSocket client lacks the transport_details property its session reads on
    WELCOME (AttributeError, so no RawSocket session can join); the WebSocket protocol has it. Added here, as there."""

    @property
    def transport_details(self):
        return self._transport_details


class Peer(ApplicationSession):
    def __init__(self, config, done, serializer_name):
        super().__init__(config)
        self.done = done
        self.serializer_name = serializer_name
        self.registrations = {}
        self.subscriptions = {}

    async def onJoin(self, details):
        write({"event": "joined", "session": details.session, "serializer": self.serializer_name})
        loop = asyncio.get_running_loop()

        def read_commands():
            for line in sys.stdin:
                if line.strip():
                    loop.call_soon_threadsafe(lambda l=line: asyncio.ensure_future(self.handle(l)))
            loop.call_soon_threadsafe(self.done.set_result, None)

        threading.Thread(target=read_commands, daemon=True).start()

    def onLeave(self, details):
        write({"event": "left", "reason": details.reason, "details": {"message": details.message}})
        self.disconnect()

    def onDisconnect(self):
        if not self.done.done():
            self.done.set_result(None)

    def endpoint(self, cmd):
        behaviour = cmd.get("behaviour")

        async def invoked(*args, **kwargs):
            details = kwargs.pop("details")
            write({
                "event": "invocation",
                "registered": cmd["procedure"],
                "args": list(args),
                "kwargs": kwargs,
                "details": {
                    "procedure": details.procedure,
                    "caller": details.caller,
                    "caller_authid": details.caller_authid,
                    "caller_authrole": details.caller_authrole,
                    "receive_progress": details.progress is not None,
                },
            })
            if behaviour == "echo":
                return CallResult(*args, **kwargs)
            if behaviour == "error":
                raise ApplicationError(cmd["error"], *args, **kwargs)
            if behaviour == "progress":
                for i in range(args[0]):
                    if details.progress:
                        details.progress(i, "step", step=i)
                return CallResult("done", args[0])
            if behaviour == "wait":
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    write({"event": "interrupted", "registered": cmd["procedure"]})
                    raise
            raise ApplicationError("peer.unknown_behaviour", behaviour)

        return invoked

    async def handle(self, line):
        try:
            cmd = from_wire(json.loads(line))
        except ValueError:
            write({"event": "bad_command", "line": line})
            return
        cid = cmd.get("id")
        try:
            write(await self.run(cid, cmd))
        except ApplicationError as e:
            write({"id": cid, "ok": False, "error": e.error, "args": list(e.args), "kwargs": e.kwargs or {}})
        except asyncio.CancelledError:
            write({"id": cid, "ok": False, "error": "peer.cancelled", "args": [], "kwargs": {}})
        except Exception as e:  # a failure of the peer itself: reported, the test shows it
            write({"id": cid, "ok": False, "error": "peer.exception", "args": [repr(e)], "kwargs": {}})

    async def run(self, cid, cmd):
        op = cmd["op"]
        options = cmd.get("options") or {}
        if op == "register":
            reg = await self.register(self.endpoint(cmd), cmd["procedure"],
                                      options=RegisterOptions(details_arg="details", **options))
            self.registrations[cmd["procedure"]] = reg
            return {"id": cid, "ok": True, "registration": reg.id}
        if op == "unregister":
            await self.registrations.pop(cmd["procedure"]).unregister()
            return {"id": cid, "ok": True}
        if op == "call":
            progress = []
            if cmd.get("progress"):
                options["on_progress"] = lambda *a, **kw: progress.append({"args": list(a), "kwargs": kw})
            call = asyncio.ensure_future(self.call(cmd["procedure"], *cmd.get("args", []),
                                                   options=CallOptions(**options), **cmd.get("kwargs", {})))
            if cmd.get("cancel_after_ms"):
                asyncio.get_running_loop().call_later(cmd["cancel_after_ms"] / 1000.0, call.cancel)
            args, kwargs = result_of(await call)
            return {"id": cid, "ok": True, "args": args, "kwargs": kwargs, "progress": progress}
        if op == "subscribe":
            topic = cmd["topic"]

            def on_event(*args, **kwargs):
                details = kwargs.pop("details")
                write({
                    "event": "event",
                    "subscribed": topic,
                    "args": list(args),
                    "kwargs": kwargs,
                    "details": {
                        "topic": details.topic,
                        "publication": details.publication,
                        "publisher": details.publisher,
                        "publisher_authid": details.publisher_authid,
                        "publisher_authrole": details.publisher_authrole,
                    },
                })

            sub = await self.subscribe(on_event, topic, options=SubscribeOptions(details_arg="details", **options))
            self.subscriptions[topic] = sub
            return {"id": cid, "ok": True, "subscription": sub.id}
        if op == "unsubscribe":
            await self.subscriptions.pop(cmd["topic"]).unsubscribe()
            return {"id": cid, "ok": True}
        if op == "publish":
            pub = self.publish(cmd["topic"], *cmd.get("args", []), options=PublishOptions(**options), **cmd.get("kwargs", {}))
            if pub is not None:  # a future only when acknowledged
                pub = await pub
            return {"id": cid, "ok": True, "publication": pub.id if pub is not None else None}
        if op == "leave":
            self.leave("wamp.close.normal")
            return {"id": cid, "ok": True}
        return {"id": cid, "ok": False, "error": "peer.unknown_op", "args": [op], "kwargs": {}}


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--realm", default="realm1")
    parser.add_argument("--serializer", default="json")
    opts = parser.parse_args()

    loop = asyncio.get_running_loop()
    done = loop.create_future()
    ser = make_serializer(opts.serializer)
    url = urlparse(opts.url)

    def session_factory():
        return Peer(ComponentConfig(realm=opts.realm), done, opts.serializer)

    if url.scheme == "tcp":
        factory = WampRawSocketClientFactory(session_factory, serializer=ser)
        factory.protocol = RawSocketClientProtocol
    else:
        factory = WampWebSocketClientFactory(session_factory, url=opts.url, serializers=[ser])
    transport, _ = await loop.create_connection(factory, url.hostname, url.port)
    await done
    transport.close()


if __name__ == "__main__":
    asyncio.run(main())

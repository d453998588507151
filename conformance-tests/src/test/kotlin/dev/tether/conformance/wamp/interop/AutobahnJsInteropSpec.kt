package dev.tether.conformance.wamp.interop

import dev.tether.conformance.External
import dev.tether.testkit.wamp.FakeWampRouter
import dev.tether.wamp.serializer.Serialization
import io.kotest.core.spec.style.FunSpec

/**
 * autobahn-js 22.11.1 (npm, on Node 20) as caller, callee, publisher and subscriber, with this client in the other
 * role: against the testkit router over WebSocket with JSON, MessagePack and CBOR and over RawSocket (autobahn-js's
 * RawSocket speaks JSON only), and through fox-wamp (JSON over WebSocket, the only thing it serves).
 */
class AutobahnJsInteropSpec : FunSpec({
    val missing = External.skipIf { InteropPeers.autobahnJsMissing() }
    val router = lazy { FakeWampRouter.start() }
    val fox = lazy { FoxWamp.start() }
    val peers = mutableMapOf<String, WampPeer>()

    afterSpec {
        peers.values.forEach { it.close() }
        if (router.isInitialized()) router.value.close()
        if (fox.isInitialized()) fox.value.close()
    }

    /** One line of the matrix: where the peer and this client meet. */
    class Path(
        val label: String,
        val slug: String,
        val serializer: String,
        val viaFox: Boolean = false,
        val rawSocket: Boolean = false,
    )

    val paths = listOf(
        Path("websocket json", "ws_json", "json"),
        Path("websocket msgpack", "ws_msgpack", "msgpack"),
        Path("websocket cbor", "ws_cbor", "cbor"),
        Path("rawsocket json", "tcp_json", "json", rawSocket = true),
        Path("fox-wamp, websocket json", "fox_json", "json", viaFox = true),
    )

    fun url(path: Path): String = when {
        path.viaFox -> fox.value.url
        path.rawSocket -> router.value.tcpUrl
        else -> router.value.wsUrl
    }

    // One peer per path, started on first use and ended after the spec: a Node start per test would dominate.
    fun peer(path: Path): WampPeer = peers.getOrPut(path.slug) {
        WampPeer.start(Autobahn.JS, url(path), path.serializer, realm = if (path.viaFox) "interop" else "realm1")
    }

    suspend fun roles(path: Path, check: suspend (AutobahnRoles, dev.tether.wamp.WampSession) -> Unit) {
        val peer = peer(path)
        val traits = if (path.viaFox) RouterTraits.FOX_WAMP else RouterTraits.TESTKIT
        val serialization = Serialization.entries.first { it.subprotocol == "wamp.2.${path.serializer}" }
        joinClient(url(path), realm = if (path.viaFox) "interop" else "realm1") {
            serialization(serialization)
        }.using { client ->
            check(AutobahnRoles(peer, traits, "com.interop.js.${path.slug}.${System.nanoTime()}"), client)
        }
    }

    for (path in paths) {
        val via = if (path.viaFox) "" else " through the testkit router"
        test(
            "${path.label}: autobahn-js as callee$via: echo, progressive results, a typed error, unregister",
        ).config(enabledOrReasonIf = missing) {
            roles(path) { roles, client -> roles.peerAsCallee(client) }
        }
        test(
            "${path.label}: autobahn-js as caller$via: echo with caller disclosure, progressive results, a typed error",
        ).config(enabledOrReasonIf = missing) {
            roles(path) { roles, client -> roles.peerAsCaller(client) }
        }
        test(
            "${path.label}: autobahn-js as publisher$via: 20 events in order, the acknowledged one's id",
        ).config(enabledOrReasonIf = missing) {
            roles(path) { roles, client -> roles.peerAsPublisher(client) }
        }
        test(
            "${path.label}: autobahn-js as subscriber$via: 20 events in order, a prefix pattern, unsubscribe",
        ).config(enabledOrReasonIf = missing) {
            roles(path) { roles, client -> roles.peerAsSubscriber(client) }
        }
    }
})

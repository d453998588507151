package dev.tether.conformance.wamp.interop

import kotlinx.coroutines.runBlocking
import java.io.File

/**
 * The fox-wamp router (npm) in a child process on 127.0.0.1 with an ephemeral port it reports itself. JSON over
 * WebSocket only; realms are created on demand and their names must match `[a-z0-9_]` (others crash it). With
 * [ticket] (`authid:ticket`) every session must log in with ticket authentication.
 */
class FoxWamp private constructor(private val process: PeerProcess) : AutoCloseable {
    /** The port fox-wamp listens on. */
    val port: Int = runBlocking {
        val line = process.awaitNotifications("fox-wamp's port line") { it.containsKey("port") }.first()
        JsonValues.long(line, "port")!!.toInt()
    }

    /** `ws://127.0.0.1:PORT/`. */
    val url: String = "ws://127.0.0.1:$port/"

    override fun close() = process.close()

    companion object {
        @JvmStatic
        @JvmOverloads
        fun start(ticket: String? = null): FoxWamp {
            val node = InteropPeers.node ?: throw AssertionError("node is not installed")
            requireInstalled(File(InteropPeers.dir, "node_modules/fox-wamp"), "fox-wamp")
            val command = listOf(node, "fox-router.js") + (ticket?.let { listOf("--ticket", it) } ?: emptyList())
            val process = PeerProcess("fox-wamp", command, InteropPeers.dir)
            return try {
                FoxWamp(process)
            } catch (e: Throwable) {
                process.close()
                throw e
            }
        }
    }
}

/** Which autobahn runs a [WampPeer]. */
enum class Autobahn(val label: String) {
    JS("autobahn-js"),
    PYTHON("autobahn-python"),
}

/**
 * An autobahn client (autobahn-js on Node, or Debian's autobahn-python) joined to [url]'s realm, driven over the
 * line protocol of `interop/autobahn-peer.js` (see there): register/call/subscribe/publish commands, invocations
 * and events reported as notifications.
 */
class WampPeer private constructor(
    val kind: Autobahn,
    val serializer: String,
    private val process: PeerProcess,
) : AutoCloseable {
    /** The peer's WAMP session id, as the router assigned it. */
    val sessionId: Long = runBlocking {
        val joined = process.awaitNotifications(
            "the peer's session to open",
            timeout = kotlin.time.Duration.parse("15s"),
        ) {
            JsonValues.string(it, "event") == "joined" || JsonValues.string(it, "event") == "left"
        }.first()
        if (JsonValues.string(joined, "event") != "joined") throw process.failure("the session did not open: $joined")
        JsonValues.long(joined, "session")!!
    }

    val peer: PeerProcess get() = process

    override fun close() = process.close()

    override fun toString(): String = "${kind.label}/$serializer"

    companion object {
        @JvmStatic
        fun start(kind: Autobahn, url: String, serializer: String, realm: String = "realm1"): WampPeer {
            val args = listOf("--url", url, "--realm", realm, "--serializer", serializer)
            val command = when (kind) {
                Autobahn.JS -> {
                    requireInstalled(File(InteropPeers.dir, "node_modules/autobahn"), "autobahn-js")
                    listOf(
                        InteropPeers.node ?: throw AssertionError("node is not installed"),
                        "autobahn-peer.js",
                    ) + args
                }

                Autobahn.PYTHON -> listOf(InteropPeers.python, "-u", "autobahn_peer.py") + args
            }
            val process = PeerProcess("${kind.label}/$serializer", command, InteropPeers.dir)
            return try {
                WampPeer(kind, serializer, process)
            } catch (e: Throwable) {
                process.close()
                throw e
            }
        }
    }
}

private fun requireInstalled(dir: File, what: String) {
    if (!dir.isDirectory) {
        throw AssertionError(
            "$what is not installed in ${dir.parentFile}: run `npm ci --ignore-scripts` in ${InteropPeers.dir} " +
                "(.ci/run does)",
        )
    }
}

package dev.tether.conformance.mux

import dev.tether.core.DialerConfig
import dev.tether.core.WebSocketDialer
import dev.tether.mux.MuxConfig
import dev.tether.mux.MuxSession
import dev.tether.testkit.mux.FakeMuxServer
import dev.tether.testkit.mux.FakeMuxServerConfig
import java.time.Duration

/**
 * The wsmux peer a suite runs against: the testkit [FakeMuxServer] (echo streams) by default, or an external wsmux
 * echo server (a server session that accepts streams and echoes them) with `-Dtether.conformance.mux.url=ws://…`.
 * [fake] is null for an external server: cases that need fault control or introspection are skipped there.
 */
class MuxSubject private constructor(val url: String, val fake: FakeMuxServer?) : AutoCloseable {
    private val dialers = java.util.concurrent.ConcurrentLinkedQueue<WebSocketDialer>()

    /** A client session to the subject; [pingInterval]/[pongTimeout] are the connection's keepalive. */
    suspend fun client(
        config: MuxConfig = MuxConfig.DEFAULT,
        pingInterval: Duration = Duration.ofSeconds(20),
        pongTimeout: Duration = Duration.ofSeconds(20),
    ): MuxSession {
        val dialer = WebSocketDialer(
            DialerConfig(url) {
                pingInterval(pingInterval)
                pongTimeout(pongTimeout)
            },
        )
        dialers.add(dialer)
        return MuxSession.client(dialer.dial(), config)
    }

    override fun close() {
        while (true) dialers.poll()?.close() ?: break
        fake?.close()
    }

    companion object {
        val external: String? = System.getProperty("tether.conformance.mux.url")?.takeIf { it.isNotBlank() }

        /** True when the suite runs against the fake (fault controls available). */
        val isFake: Boolean get() = external == null

        fun open(options: FakeMuxServerConfig.Builder.() -> Unit = {}): MuxSubject {
            val url = external
            return if (url != null) {
                MuxSubject(url, null)
            } else {
                FakeMuxServer.start(options).let {
                    MuxSubject(
                        it.url,
                        it,
                    )
                }
            }
        }
    }
}

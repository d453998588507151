package dev.tether.conformance.wamp.interop

import dev.tether.wamp.SessionConfig
import dev.tether.wamp.WampSession
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds

/** Joins [realm] at [url] with this client, bounded. */
suspend fun joinClient(
    url: String,
    realm: String = "realm1",
    configure: SessionConfig.Builder.() -> Unit = {},
): WampSession = withTimeout(15.seconds) {
    WampSession.connect(
        url,
        SessionConfig(realm) {
            responseTimeout(5.seconds)
            configure()
        },
    )
}

/** Runs [block] with [session] and leaves the realm afterwards, whatever happens. */
suspend fun <T> WampSession.using(block: suspend (WampSession) -> T): T = try {
    block(this)
} finally {
    withContext(NonCancellable) { withTimeout(15.seconds) { leave() } }
}

/** The per-await bound of the interop tests: generous for a loaded 2-core machine, far below the test timeout. */
val INTEROP_WAIT: Duration = 10.seconds

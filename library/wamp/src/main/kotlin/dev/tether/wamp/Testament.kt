package dev.tether.wamp

import dev.tether.wamp.message.WampValues

/**
 * When the router publishes a testament (`wamp.session.add_testament` keyword `scope`): when the session is
 * [DESTROYED] (it ends: GOODBYE, a lost connection, killed), or when it is [DETACHED] from its transport (routers
 * with session resumption; one without it, such as nexus, has nothing to resume and publishes these when the
 * session ends too).
 */
public enum class TestamentScope(
    /** The value on the wire. */
    public val wire: String,
) {
    /** Published when the session is destroyed (the default). */
    DESTROYED("destroyed"),

    /** Published when the session is detached from its transport. */
    DETACHED("detached"),
}

/** One testament as added: what [WampClient] adds again on every new session. */
internal class Testament(
    val topic: String,
    val args: List<Any?>,
    val kwargs: Map<String, Any?>,
    val options: PublishOptions,
    val scope: TestamentScope,
) {
    /** Calls `wamp.session.add_testament` on [session]; throws as [WampSession.call]. */
    suspend fun addTo(session: WampSession) {
        val kwargs = mapOf("publish_options" to options.toMap(), "scope" to scope.wire)
        session.call(
            ADD_TESTAMENT,
            listOf(topic, WampValues.normalize(args), WampValues.normalizeMap(this.kwargs)),
            kwargs,
        )
    }

    companion object {
        const val ADD_TESTAMENT = "wamp.session.add_testament"
        const val FLUSH_TESTAMENTS = "wamp.session.flush_testaments"

        /** Calls `wamp.session.flush_testaments` for [scope] on [session]. */
        suspend fun flush(session: WampSession, scope: TestamentScope) {
            session.call(FLUSH_TESTAMENTS, emptyList(), mapOf("scope" to scope.wire))
        }
    }
}

/** The testaments a [WampClient] keeps, in the order added; guarded by the client's restore lock. */
internal class ClientTestaments {
    private val kept = ArrayList<Testament>()

    @Synchronized fun add(t: Testament) {
        kept += t
    }

    @Synchronized fun flush(scope: TestamentScope) {
        kept.removeIf { it.scope == scope }
    }

    /** Adds every kept testament on [session], in order: the router forgot them with the previous session. */
    suspend fun restoreOn(session: WampSession) {
        for (t in synchronized(this) { kept.toList() }) t.addTo(session)
    }
}

package dev.tether.testkit.wamp

/**
 * The testaments of a realm's sessions (`wamp.session.add_testament`, `flush_testaments`), kept until the session
 * ends. Guarded by the realm's lock.
 *
 * There is no session resumption here, so a session is never detached without being destroyed: when it ends, its
 * `detached` testaments are published first, then its `destroyed` ones, each scope in the order added.
 */
internal class RouterTestaments {
    /** One testament: a publication the router makes for a session when that session ends. */
    class Testament(
        val topic: String,
        val args: List<Any?>,
        val kwargs: Map<String, Any?>,
        val options: Map<String, Any?>,
    )

    private class Kept {
        val detached = ArrayList<Testament>()
        val destroyed = ArrayList<Testament>()

        fun of(scope: String) = if (scope == DETACHED) detached else destroyed
    }

    private val bySession = HashMap<Long, Kept>()

    /** Keeps [t] for session [session] under [scope] (`destroyed` or `detached`). */
    fun add(session: Long, scope: String, t: Testament) {
        bySession.getOrPut(session) { Kept() }.of(scope).add(t)
    }

    /** Forgets session [session]'s testaments of [scope]; returns how many there were. */
    fun flush(session: Long, scope: String): Int {
        val kept = bySession[session] ?: return 0
        val list = kept.of(scope)
        val n = list.size
        list.clear()
        if (kept.detached.isEmpty() && kept.destroyed.isEmpty()) bySession.remove(session)
        return n
    }

    /** Removes and returns what to publish now that session [session] has ended: detached, then destroyed. */
    fun takeAll(session: Long): List<Testament> {
        val kept = bySession.remove(session) ?: return emptyList()
        return kept.detached + kept.destroyed
    }

    companion object {
        const val DESTROYED = "destroyed"
        const val DETACHED = "detached"
        val SCOPES = setOf(DESTROYED, DETACHED)
    }
}

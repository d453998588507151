package dev.tether.relay

/**
 * Messages from peers this client has no connection for yet: one per source (the newest replaces the older), each
 * kept [ttlNanos], for at most [capacity] sources. openConn takes the message for its peer. Thread-safe.
 */
internal class EarlyBuffer(
    private val ttlNanos: Long,
    private val capacity: Int,
    private val now: () -> Long = System::nanoTime,
) {
    private class Entry(val payload: ByteArray, val storedAt: Long)

    /** Insertion order is age order: a replaced entry is removed and re-added. */
    private val entries = LinkedHashMap<PeerId, Entry>()

    var replaced = 0L
        private set
    var expired = 0L
        private set
    var rejected = 0L
        private set

    /** Keeps [payload] for [source]; false when the buffer is full (the message is lost and counted). */
    @Synchronized
    fun put(source: PeerId, payload: ByteArray): Boolean {
        val t = now()
        if (entries.remove(source) != null) replaced++
        if (entries.size >= capacity) evictExpired(t)
        if (entries.size >= capacity) {
            rejected++
            return false
        }
        entries[source] = Entry(payload, t)
        return true
    }

    /** The message waiting from [source], if it has not expired. */
    @Synchronized
    fun take(source: PeerId): ByteArray? {
        val e = entries.remove(source) ?: return null
        if (now() - e.storedAt > ttlNanos) {
            expired++
            return null
        }
        return e.payload
    }

    @Synchronized
    fun clear() {
        entries.clear()
    }

    @get:Synchronized
    val size: Int get() = entries.size

    private fun evictExpired(t: Long) {
        val it = entries.values.iterator()
        while (it.hasNext()) {
            val e = it.next()
            if (t - e.storedAt <= ttlNanos) break
            it.remove()
            expired++
        }
    }
}

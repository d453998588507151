package dev.tether.testkit

/**
 * A copy of a collection that other threads change meanwhile (the fakes' connection sets and maps). Kotlin's
 * `toList()` reads the size first and, at size 1, then fetches that one element, which throws if it was removed in
 * between (a connection ending while the fake is being closed). `toArray`, which this copies through, takes whatever
 * is there.
 */
internal fun <T> Collection<T>.snapshot(): List<T> = ArrayList(this)

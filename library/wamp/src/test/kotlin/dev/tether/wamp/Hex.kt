package dev.tether.wamp

/** Lowercase hex helpers for the byte-exact vector tests. */
internal fun hex(s: String): ByteArray = s.chunked(2).map { it.toInt(16).toByte() }.toByteArray()

internal fun ByteArray.toHex(): String = joinToString("") { "%02x".format(it) }

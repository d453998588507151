package dev.tether.core

/**
 * [url] fit for logs, exception messages and events: the user info (`user:password@`) and every query value, where
 * credentials travel (`?token=…`), become `***`; scheme, host, port, path and query keys stay, so the address is
 * still recognisable. Works on any string, parseable or not.
 */
@InternalTetherApi
public fun redactUrl(url: String): String {
    val schemeEnd = url.indexOf("://")
    val authorityStart = if (schemeEnd < 0) 0 else schemeEnd + 3
    val authorityEnd = url.indexOfAny(charArrayOf('/', '?', '#'), authorityStart).let { if (it < 0) url.length else it }
    val at = url.lastIndexOf('@', authorityEnd - 1)
    val head = if (at >= authorityStart) {
        url.substring(0, authorityStart) + "***" + url.substring(at, authorityEnd)
    } else {
        url.substring(0, authorityEnd)
    }
    val queryStart = url.indexOf('?', authorityEnd)
    if (queryStart < 0) return head + url.substring(authorityEnd)
    val fragmentStart = url.indexOf('#', queryStart).let { if (it < 0) url.length else it }
    val query = url.substring(queryStart + 1, fragmentStart).split('&').joinToString("&") { pair ->
        val eq = pair.indexOf('=')
        if (eq < 0) pair else pair.substring(0, eq) + "=***"
    }
    return head + url.substring(authorityEnd, queryStart) + "?" + query + url.substring(fragmentStart)
}

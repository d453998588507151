package dev.tether.testkit

import java.security.MessageDigest

/**
 * True when [presented] equals [expected], compared in constant time: how long the check takes says nothing about
 * how much of a guess was right. `MessageDigest.isEqual` takes time by its first argument's length only, so the
 * presented value goes first and the time does not depend on the secret's length either.
 */
internal fun secretMatches(presented: String?, expected: String): Boolean {
    if (presented == null) return false
    return MessageDigest.isEqual(presented.toByteArray(Charsets.UTF_8), expected.toByteArray(Charsets.UTF_8))
}

/** True when [presented] matches any of [accepted]; every one is compared, so the time does not say which matched. */
internal fun secretMatchesAny(presented: String?, accepted: Collection<String>): Boolean {
    var matched = false
    for (secret in accepted) matched = secretMatches(presented, secret) or matched
    return matched
}

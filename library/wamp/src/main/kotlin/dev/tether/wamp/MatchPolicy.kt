package dev.tether.wamp

/**
 * How the router matches a registration's procedure or a subscription's topic against the URI of a call or a
 * publication (REGISTER and SUBSCRIBE option `match`).
 */
public enum class MatchPolicy(
    /** The value on the wire. */
    public val wire: String,
) {
    /** The URI must equal the registered procedure or subscribed topic (the router's default). */
    EXACT("exact"),

    /**
     * The URI must start with the registered procedure or subscribed topic (`com.app.` matches `com.app.add`). A call
     * goes to the longest matching prefix when an exact registration does not match.
     */
    PREFIX("prefix"),

    /**
     * Empty URI components match any single component (`com..add` matches `com.a.add`, not `com.a.b.add`). Tried
     * after exact and prefix registrations.
     */
    WILDCARD("wildcard"),
}

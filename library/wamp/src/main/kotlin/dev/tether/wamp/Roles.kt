package dev.tether.wamp

/**
 * The roles and features a client announces in HELLO. The full set matters: routers silently withhold features
 * a client did not announce.
 */
public object Roles {
    private fun features(vararg names: String): Map<String, Any?> = mapOf("features" to names.associateWith { true })

    private val callerFeatures = arrayOf(
        "call_canceling",
        "call_timeout",
        "caller_identification",
        "progressive_call_invocations",
        "progressive_call_results",
        "payload_passthru_mode",
    )

    /** `roles` for HELLO details: caller, callee, publisher and subscriber with every feature of the spec. */
    @JvmField
    public val CLIENT: Map<String, Any?> = mapOf(
        "caller" to features(*callerFeatures),
        "callee" to features("pattern_based_registration", "shared_registration", *callerFeatures),
        "publisher" to features(
            "subscriber_blackwhite_listing",
            "publisher_exclusion",
            "publisher_identification",
            "payload_passthru_mode",
        ),
        "subscriber" to features("pattern_based_subscription", "publisher_identification", "payload_passthru_mode"),
    )
}

package io.kotest.provided

import io.kotest.core.config.AbstractProjectConfig
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds

/** Kotest 6 reads project config only from this name; the timeout keeps one hung test from stalling CI. */
class ProjectConfig : AbstractProjectConfig() {
    override val timeout: Duration = 60.seconds
}

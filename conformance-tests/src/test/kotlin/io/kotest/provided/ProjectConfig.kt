package io.kotest.provided

import dev.tether.conformance.KotestSkipReasons
import io.kotest.core.config.AbstractProjectConfig
import io.kotest.core.extensions.Extension
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds

/**
 * Kotest 6 reads project config only from this name; the timeout keeps one hung test from stalling CI, and
 * [KotestSkipReasons] keeps the reasons of skipped cases for the end-of-run report of an external run.
 */
class ProjectConfig : AbstractProjectConfig() {
    override val timeout: Duration = 60.seconds

    override val extensions: List<Extension> = listOf(KotestSkipReasons)
}

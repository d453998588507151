package dev.tether.cli

import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import picocli.CommandLine.Command
import java.util.concurrent.Callable
import kotlin.time.Duration.Companion.minutes

/** `tether demo`: starts the embedded fakes in-process and shows each capability working. */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    versionProvider = TetherVersion::class,
    description = ["Run every capability against the embedded fakes and show what happens."],
)
class DemoCommand : Callable<Int> {
    override fun call(): Int {
        val out = DemoOutput(System.out)
        val sections: List<DemoSection> = listOf(WsClientDemo(), MuxDemo(), TunnelDemo(), WampDemo(), RelayDemo())
        runBlocking {
            for (section in sections) {
                out.section(section.title)
                withTimeout(2.minutes) { section.run(out) }
            }
        }
        out.section("done")
        out.ok("every demo section completed")
        return 0
    }
}

/** One capability's part of the demo. Later capabilities add theirs to [DemoCommand]. */
interface DemoSection {
    val title: String

    suspend fun run(out: DemoOutput)
}

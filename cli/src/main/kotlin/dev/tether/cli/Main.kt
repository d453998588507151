package dev.tether.cli

import picocli.CommandLine
import picocli.CommandLine.Command
import kotlin.system.exitProcess

/** The `tether` command. */
@Command(
    name = "tether",
    mixinStandardHelpOptions = true,
    versionProvider = TetherVersion::class,
    description = ["Resilient WebSocket clients for the JVM: demos, in-process fakes and a WAMP client."],
    subcommands = [
        DemoCommand::class,
        ServeCommand::class,
        TunnelCommand::class,
        RelayCommand::class,
        WampCommand::class,
    ],
)
class TetherCommand : Runnable {
    override fun run() {
        CommandLine(this).usage(System.out)
    }
}

object Main {
    @JvmStatic
    fun main(args: Array<String>) {
        // Quiet library logs unless the user asks for them (-Dorg.slf4j.simpleLogger.defaultLogLevel=info).
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn")
        }
        exitProcess(CommandLine(TetherCommand()).execute(*args))
    }
}

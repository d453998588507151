package dev.tether.cli

import dev.tether.testkit.FakeBroker
import picocli.CommandLine.Command
import picocli.CommandLine.Option
import java.time.Duration
import java.util.concurrent.Callable
import java.util.concurrent.CountDownLatch

/** `tether serve <fake>`: runs one of the testkit fakes until interrupted. */
@Command(name = "serve", description = ["Run a testkit fake on 127.0.0.1 until interrupted."], subcommands = [ServeBroker::class])
class ServeCommand : Runnable {
    override fun run() {
        picocli.CommandLine(this).usage(System.out)
    }
}

@Command(name = "broker", description = ["The fake nexus broker (/connect): auth, register, echo, turn, pings."])
class ServeBroker : Callable<Int> {
    @Option(names = ["--token"], description = ["Accepted bearer token(s); default: test-token."], split = ",")
    var tokens: List<String> = listOf("test-token")

    @Option(names = ["--ping-interval"], description = ["Server ping interval in seconds (0 disables); default 30."])
    var pingSeconds: Long = 30

    override fun call(): Int {
        val broker = FakeBroker.start {
            tokens(*this@ServeBroker.tokens.toTypedArray())
            pingInterval(Duration.ofSeconds(pingSeconds))
        }
        val stopped = CountDownLatch(1)
        Runtime.getRuntime().addShutdownHook(Thread { broker.close(); stopped.countDown() })
        println("fake broker listening at ${broker.url}")
        println("tokens: ${tokens.joinToString()}  (send 'Authorization: Bearer <token>' or ?token=)")
        println("press Ctrl-C to stop")
        stopped.await()
        return 0
    }
}

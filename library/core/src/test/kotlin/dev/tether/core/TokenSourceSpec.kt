package dev.tether.core

import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.shouldBe
import java.util.concurrent.CompletableFuture
import java.util.concurrent.atomic.AtomicInteger

@OptIn(InternalTetherApi::class)
class TokenSourceSpec : FunSpec({
    test("the provider's token wins; on failure the last accepted token, else the static one") {
        val calls = AtomicInteger()
        val source =
            TokenSource(TokenProvider { if (calls.incrementAndGet() == 2) "fresh" else error("down") }, "static")
        var failures = 0
        source.next { failures++ } shouldBe "static"
        source.next { failures++ } shouldBe "fresh"
        source.accepted("fresh")
        source.next { failures++ } shouldBe "fresh"
        failures shouldBe 2
    }

    test("without a provider the static token is used; without either there is none") {
        TokenSource(null, "s").next() shouldBe "s"
        TokenSource(null, null).next() shouldBe null
    }

    test("the Java future-backed provider awaits the future") {
        TokenProvider.fromFuture { CompletableFuture.completedFuture("from-java") }.token() shouldBe "from-java"
        TokenProvider.fixed("f").token() shouldBe "f"
    }
})

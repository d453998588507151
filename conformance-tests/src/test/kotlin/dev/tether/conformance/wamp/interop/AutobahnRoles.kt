package dev.tether.conformance.wamp.interop

import dev.tether.wamp.CallResult
import dev.tether.wamp.Event
import dev.tether.wamp.InvokeResult
import dev.tether.wamp.MatchPolicy
import dev.tether.wamp.PublishOptions
import dev.tether.wamp.RegisterOptions
import dev.tether.wamp.WampSession
import dev.tether.wamp.error.RpcException
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.assertions.withClue
import io.kotest.matchers.shouldBe
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.withTimeout

/**
 * What a router between an autobahn peer and this client does to the four roles' traffic: the testkit router
 * follows the spec; fox-wamp rewrites callee errors, discloses no caller, and writes wildcards into the URI.
 */
data class RouterTraits(
    val name: String,
    /** Callee error URIs reach the caller as `wamp.error.callee_failure` with the original URI as the only argument. */
    val rewritesCalleeErrors: Boolean = false,
    /** REGISTER `disclose_caller` makes every INVOCATION carry the caller's session id. */
    val disclosesCaller: Boolean = true,
    /** SUBSCRIBE and REGISTER option `match: prefix`; otherwise fox-wamp's `#` at the end of the URI (topics only). */
    val matchOption: Boolean = true,
    /** PUBLISH `exclude` / `eligible` lists are applied (fox-wamp ignores them and delivers). */
    val blackWhiteListing: Boolean = true,
    /**
     * `receive_progress` reaches a callee that did not announce `call_canceling` (a stock autobahn-js callee). The
     * testkit router, as nexus, withholds it: such a callee answers with its final result only.
     */
    val progressToAnyCallee: Boolean = false,
) {
    companion object {
        val TESTKIT = RouterTraits("the testkit router")
        val FOX_WAMP =
            RouterTraits(
                "fox-wamp",
                rewritesCalleeErrors = true,
                disclosesCaller = false,
                matchOption = false,
                blackWhiteListing = false,
                progressToAnyCallee = true,
            )
    }
}

/**
 * The four roles an autobahn [peer] plays against this client (a [WampSession] joined to the same router), each
 * checking values round-tripped, errors typed and events in order. [prefix] keeps the URIs of one peer apart from
 * another's on a shared router.
 */
class AutobahnRoles(private val peer: WampPeer, private val router: RouterTraits, private val prefix: String) {
    private val p = peer.peer

    /** autobahn-python's callee announces `call_canceling`; a stock autobahn-js callee does not. */
    private val peerCalleeCancels = peer.kind != Autobahn.JS

    /**
     * Arguments every role sends: JSON's scalars, nesting, and bytes wherever the peer carries them (MessagePack
     * and CBOR natively; JSON as the spec's `"\u0000"`+base64 string, which autobahn-python speaks and autobahn-js
     * does not).
     */
    private val sample: List<Any?> = listOf(1L, "two", 3.5, true, null, mapOf("nested" to listOf(1L, "x"))) +
        (
            if (peer.serializer == "json" && peer.kind == Autobahn.JS) {
                emptyList()
            } else {
                listOf(
                    ByteArray(64) {
                        (it * 3).toByte()
                    },
                )
            }
            )
    private val sampleKw: Map<String, Any?> =
        mapOf("name" to "zoë \uD83D\uDE00", "n" to -7L, "big" to 9_007_199_254_740_991L, "list" to listOf(1.5, "y"))

    /** autobahn registers (echo, progressive countdown, failing); this client calls. */
    suspend fun peerAsCallee(client: WampSession) {
        p.ok("register", "procedure" to "$prefix.echo", "behaviour" to "echo")
        p.ok("register", "procedure" to "$prefix.countdown", "behaviour" to "progress")
        p.ok("register", "procedure" to "$prefix.fail", "behaviour" to "error", "error" to "com.interop.failed")

        val echoed = withTimeout(INTEROP_WAIT) { client.call("$prefix.echo", sample, sampleKw) }
        sameValues(echoed.args, sample)
        echoed.kwargs shouldBe sampleKw
        val invocation = p.awaitNotifications("the echo invocation") { it.isInvocationOf("$prefix.echo") }.single()
        sameValues(JsonValues.list(invocation, "args"), sample)
        JsonValues.map(invocation, "kwargs") shouldBe sampleKw

        val progress = mutableListOf<CallResult>()
        val final =
            withTimeout(INTEROP_WAIT) { client.callProgress("$prefix.countdown", listOf(4L)) { progress += it } }
        if (router.progressToAnyCallee || peerCalleeCancels) {
            progress.map { it.args } shouldBe (0L until 4L).map { listOf(it, "step") }
            progress.map { it.kwargs } shouldBe (0L until 4L).map { mapOf("step" to it) }
        } else {
            progress shouldBe emptyList() // the router withheld receive_progress: the callee did not ask for cancels
        }
        final.args shouldBe listOf("done", 4L)

        val failed =
            shouldThrow<RpcException> {
                withTimeout(INTEROP_WAIT) { client.call("$prefix.fail", listOf("why"), mapOf("code" to 7L)) }
            }
        if (router.rewritesCalleeErrors) {
            failed.error shouldBe "wamp.error.callee_failure"
            failed.args shouldBe listOf("com.interop.failed")
        } else {
            failed.error shouldBe "com.interop.failed"
            failed.args shouldBe listOf("why")
            failed.kwargs shouldBe mapOf("code" to 7L)
        }
        if (router.matchOption) {
            p.ok(
                "register",
                "procedure" to "$prefix.any",
                "behaviour" to "echo",
                "options" to mapOf("match" to MatchPolicy.PREFIX.wire),
            )
            withTimeout(INTEROP_WAIT) {
                client.call("$prefix.any.thing", listOf("x", 1L))
            }.args shouldBe listOf("x", 1L)
            val byPattern = p.awaitNotifications("the prefix registration's invocation") {
                it.isInvocationOf("$prefix.any")
            }.single()
            JsonValues.details(byPattern)["procedure"] shouldBe "$prefix.any.thing"
        }
        p.ok("unregister", "procedure" to "$prefix.echo")
        shouldThrow<RpcException> {
            withTimeout(INTEROP_WAIT) { client.call("$prefix.echo") }
        }.error shouldBe "wamp.error.no_such_procedure"
    }

    /** This client registers (echo, progressive countdown, failing); autobahn calls. */
    suspend fun peerAsCaller(client: WampSession) {
        val seen = CompletableDeferred<dev.tether.wamp.Invocation>()
        val disclose = RegisterOptions { if (router.disclosesCaller) discloseCaller() }
        client.register("$prefix.echo", disclose) { inv ->
            seen.complete(inv)
            InvokeResult(inv.args, inv.kwargs)
        }
        client.register("$prefix.countdown") { inv ->
            val n = inv.args[0] as Long
            for (i in 0 until n) inv.sendProgress(listOf(i, "step"), mapOf("step" to i))
            InvokeResult(listOf("done", n))
        }
        client.register("$prefix.fail") { inv ->
            throw RpcException("com.interop.refused", listOf("no", inv.args.size.toLong()), mapOf("retry" to false))
        }

        val echoed = p.ok("call", "procedure" to "$prefix.echo", "args" to sample, "kwargs" to sampleKw)
        sameValues(JsonValues.list(echoed, "args"), sample)
        JsonValues.map(echoed, "kwargs") shouldBe sampleKw
        sameValues(seen.await().args, sample)
        if (router.disclosesCaller) seen.await().caller shouldBe peer.sessionId

        val counted = p.ok("call", "procedure" to "$prefix.countdown", "args" to listOf(3L), "progress" to true)
        JsonValues.list(counted, "args") shouldBe listOf("done", 3L)
        JsonValues.list(counted, "progress").map {
            (it as Map<*, *>)["args"]
        } shouldBe (0L until 3L).map { listOf(it, "step") }

        val failed = p.command("call", "procedure" to "$prefix.fail", "args" to listOf(1L, 2L))
        failed["ok"].toString() shouldBe "false"
        if (router.rewritesCalleeErrors) {
            JsonValues.string(failed, "error") shouldBe "wamp.error.callee_failure"
            JsonValues.list(failed, "args") shouldBe listOf("com.interop.refused")
        } else {
            JsonValues.string(failed, "error") shouldBe "com.interop.refused"
            JsonValues.list(failed, "args") shouldBe listOf("no", 2L)
            JsonValues.map(failed, "kwargs") shouldBe mapOf("retry" to false)
        }
        val missing = p.command("call", "procedure" to "$prefix.nobody")
        JsonValues.string(missing, "error") shouldBe "wamp.error.no_such_procedure"
    }

    /** autobahn publishes 20 events (the last acknowledged); this client receives them in order. */
    suspend fun peerAsPublisher(client: WampSession) {
        val events = Channel<Event>(Channel.UNLIMITED)
        client.subscribe("$prefix.feed") { events.send(it) }
        for (i in 0L until 19L) {
            p.ok(
                "publish",
                "topic" to "$prefix.feed",
                "args" to listOf(i, "tick"),
                "kwargs" to mapOf("i" to i),
            )
        }
        val acked = p.ok(
            "publish",
            "topic" to "$prefix.feed",
            "args" to sample,
            "kwargs" to sampleKw,
            "options" to mapOf("acknowledge" to true),
        )

        val got = withTimeout(INTEROP_WAIT) { List(20) { events.receive() } }
        got.take(19).map { it.args } shouldBe (0L until 19L).map { listOf(it, "tick") }
        got.take(19).map { it.kwargs["i"] } shouldBe (0L until 19L).toList()
        sameValues(got.last().args, sample)
        got.last().kwargs shouldBe sampleKw
        got.last().publication shouldBe JsonValues.long(acked, "publication")
        got.map { it.topic }.toSet() shouldBe setOf("$prefix.feed")
    }

    /** This client publishes 20 events and one to a prefix pattern; autobahn's subscriptions receive them in order. */
    suspend fun peerAsSubscriber(client: WampSession) {
        val pattern = if (router.matchOption) "$prefix.area" else "$prefix.area.#"
        p.ok("subscribe", "topic" to "$prefix.news")
        p.ok(
            "subscribe",
            "topic" to pattern,
            "options" to (
                if (router.matchOption) {
                    mapOf(
                        "match" to MatchPolicy.PREFIX.wire,
                    )
                } else {
                    emptyMap<String, Any?>()
                }
                ),
        )

        for (i in 0L until 19L) client.publish("$prefix.news", listOf(i), mapOf("even" to (i % 2 == 0L)))
        val lastId = client.publish("$prefix.news", sample, sampleKw, PublishOptions { acknowledge() })
        client.publish("$prefix.area.north", listOf("cold"), options = PublishOptions { acknowledge() })

        val news = p.awaitNotifications("20 events of $prefix.news", count = 20) { it.isEventOf("$prefix.news") }
        news.take(19).map { JsonValues.list(it, "args") } shouldBe (0L until 19L).map { listOf(it) }
        news.take(19).map { JsonValues.map(it, "kwargs")["even"] } shouldBe (0L until 19L).map { it % 2 == 0L }
        sameValues(JsonValues.list(news.last(), "args"), sample)
        JsonValues.map(news.last(), "kwargs") shouldBe sampleKw
        JsonValues.details(news.last())["publication"] shouldBe lastId

        val area = p.awaitNotifications("the pattern subscription's event") { it.isEventOf(pattern) }.single()
        JsonValues.list(area, "args") shouldBe listOf("cold")
        JsonValues.details(area)["topic"] shouldBe "$prefix.area.north"

        p.ok("unsubscribe", "topic" to "$prefix.news")
        client.publish("$prefix.news", listOf("after"), options = PublishOptions { acknowledge() })
        client.publish(
            "$prefix.area.east",
            listOf("hidden"),
            options = PublishOptions {
                acknowledge()
                exclude(peer.sessionId)
            },
        )
        client.publish(
            "$prefix.area.west",
            listOf("chosen"),
            options = PublishOptions {
                acknowledge()
                eligible(peer.sessionId)
            },
        )
        client.publish("$prefix.area.south", listOf("warm"), options = PublishOptions { acknowledge() })
        // the router sends to the peer in order: once the last event is in, any earlier one would be too
        val expected = if (router.blackWhiteListing) {
            listOf(
                "cold",
                "chosen",
                "warm",
            )
        } else {
            listOf("cold", "hidden", "chosen", "warm")
        }
        val areas = p.awaitNotifications("the last pattern event", count = expected.size) { it.isEventOf(pattern) }
        areas.map { JsonValues.list(it, "args").single() } shouldBe expected
        p.seen { it.isEventOf("$prefix.news") }.size shouldBe 20
    }

    private fun sameValues(actual: List<Any?>, expected: List<Any?>) {
        withClue("arguments through ${router.name} and ${peer.kind.label}/${peer.serializer}") {
            actual.size shouldBe expected.size
            for ((a, e) in actual.zip(expected)) if (e is ByteArray) (a as ByteArray) shouldBe e else a shouldBe e
        }
    }

    companion object {
        fun kotlinx.serialization.json.JsonObject.isInvocationOf(procedure: String): Boolean =
            JsonValues.string(this, "event") == "invocation" && JsonValues.string(this, "registered") == procedure

        fun kotlinx.serialization.json.JsonObject.isEventOf(topic: String): Boolean =
            JsonValues.string(this, "event") == "event" && JsonValues.string(this, "subscribed") == topic
    }
}

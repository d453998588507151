package dev.tether.wamp.message

import dev.tether.wamp.error.ProtocolViolationException
import dev.tether.wamp.message.MessageCodes as C

/**
 * An id field in the array form. Serializers that distinguish signed from unsigned integers (MessagePack) write
 * ids unsigned and every other integer signed, as nexus does.
 */
internal class WireId(val value: Long) {
    override fun equals(other: Any?): Boolean = other is WireId && other.value == value
    override fun hashCode(): Int = value.hashCode()
    override fun toString(): String = "id:$value"
}

/** Converts messages to and from their wire array form `[code, fields..., args?, kwargs?]`, symmetrically. */
internal object MessageArrays {

    fun toArray(m: Message): List<Any?> = when (m) {
        is Hello -> listOf(C.HELLO, m.realm, m.details)

        is Welcome -> listOf(C.WELCOME, WireId(m.session), m.details)

        is Abort -> listOf(C.ABORT, m.details, m.reason)

        is Challenge -> listOf(C.CHALLENGE, m.authMethod, m.extra)

        is Authenticate -> listOf(C.AUTHENTICATE, m.signature, m.extra)

        is Goodbye -> listOf(C.GOODBYE, m.details, m.reason)

        is ErrorMessage -> payload(m, C.ERROR, m.requestType, WireId(m.request), m.details, m.error)

        is Publish -> payload(m, C.PUBLISH, WireId(m.request), m.options, m.topic)

        is Published -> listOf(C.PUBLISHED, WireId(m.request), WireId(m.publication))

        is Subscribe -> listOf(C.SUBSCRIBE, WireId(m.request), m.options, m.topic)

        is Subscribed -> listOf(C.SUBSCRIBED, WireId(m.request), WireId(m.subscription))

        is Unsubscribe -> listOf(C.UNSUBSCRIBE, WireId(m.request), WireId(m.subscription))

        is Unsubscribed -> if (m.details == null) {
            listOf(
                C.UNSUBSCRIBED,
                WireId(m.request),
            )
        } else {
            listOf(C.UNSUBSCRIBED, WireId(m.request), m.details)
        }

        is EventMessage -> payload(m, C.EVENT, WireId(m.subscription), WireId(m.publication), m.details)

        is Call -> payload(m, C.CALL, WireId(m.request), m.options, m.procedure)

        is Cancel -> listOf(C.CANCEL, WireId(m.request), m.options)

        is ResultMessage -> payload(m, C.RESULT, WireId(m.request), m.details)

        is Register -> listOf(C.REGISTER, WireId(m.request), m.options, m.procedure)

        is Registered -> listOf(C.REGISTERED, WireId(m.request), WireId(m.registration))

        is Unregister -> listOf(C.UNREGISTER, WireId(m.request), WireId(m.registration))

        is Unregistered -> if (m.details == null) {
            listOf(
                C.UNREGISTERED,
                WireId(m.request),
            )
        } else {
            listOf(C.UNREGISTERED, WireId(m.request), m.details)
        }

        is InvocationMessage -> payload(m, C.INVOCATION, WireId(m.request), WireId(m.registration), m.details)

        is Interrupt -> listOf(C.INTERRUPT, WireId(m.request), m.options)

        is Yield -> payload(m, C.YIELD, WireId(m.request), m.options)
    }

    // Empty payload is omitted; keyword arguments force an (empty) argument list in front of them. One list of the
    // final size: this runs for every message on the call and event paths.
    private fun payload(m: PayloadMessage, vararg head: Any?): List<Any?> {
        val tail = if (m.kwargs.isNotEmpty()) {
            2
        } else if (m.args.isNotEmpty()) {
            1
        } else {
            0
        }
        val out = ArrayList<Any?>(head.size + tail)
        for (x in head) out.add(x)
        if (tail >= 1) out.add(m.args)
        if (tail == 2) out.add(m.kwargs)
        return out
    }

    /** Parses a decoded array; throws [ProtocolViolationException] naming the message and field on bad input. */
    fun fromArray(value: Any?): Message {
        val a = value as? List<*> ?: throw ProtocolViolationException("WAMP message is not an array")
        if (a.isEmpty()) throw ProtocolViolationException("WAMP message is an empty array")
        val code = a[0].let { if (it is Long || it is Int) (it as Number).toLong() else null }
            ?: throw ProtocolViolationException("WAMP message type ${a[0]} is not an integer")
        val name = if (code in 0..Int.MAX_VALUE) C.nameOf(code.toInt()) else null
        if (name == null) throw ProtocolViolationException("unsupported WAMP message type $code")
        val f = Fields(name, a)
        return when (code.toInt()) {
            C.HELLO -> Hello(f.uri(1), f.dict(2))
            C.WELCOME -> Welcome(f.id(1), f.dict(2))
            C.ABORT -> Abort(f.dict(1), f.uri(2))
            C.CHALLENGE -> Challenge(f.string(1), f.dict(2))
            C.AUTHENTICATE -> Authenticate(f.string(1), f.dict(2))
            C.GOODBYE -> Goodbye(f.dict(1), f.uri(2))
            C.ERROR -> ErrorMessage(f.int(1), f.id(2), f.dict(3), f.uri(4), f.args(5), f.kwargs(6))
            C.PUBLISH -> Publish(f.id(1), f.dict(2), f.uri(3), f.args(4), f.kwargs(5))
            C.PUBLISHED -> Published(f.id(1), f.id(2))
            C.SUBSCRIBE -> Subscribe(f.id(1), f.dict(2), f.uri(3))
            C.SUBSCRIBED -> Subscribed(f.id(1), f.id(2))
            C.UNSUBSCRIBE -> Unsubscribe(f.id(1), f.id(2))
            C.UNSUBSCRIBED -> Unsubscribed(f.id(1), f.optionalDict(2))
            C.EVENT -> EventMessage(f.id(1), f.id(2), f.dict(3), f.args(4), f.kwargs(5))
            C.CALL -> Call(f.id(1), f.dict(2), f.uri(3), f.args(4), f.kwargs(5))
            C.CANCEL -> Cancel(f.id(1), f.dict(2))
            C.RESULT -> ResultMessage(f.id(1), f.dict(2), f.args(3), f.kwargs(4))
            C.REGISTER -> Register(f.id(1), f.dict(2), f.uri(3))
            C.REGISTERED -> Registered(f.id(1), f.id(2))
            C.UNREGISTER -> Unregister(f.id(1), f.id(2))
            C.UNREGISTERED -> Unregistered(f.id(1), f.optionalDict(2))
            C.INVOCATION -> InvocationMessage(f.id(1), f.id(2), f.dict(3), f.args(4), f.kwargs(5))
            C.INTERRUPT -> Interrupt(f.id(1), f.dict(2))
            C.YIELD -> Yield(f.id(1), f.dict(2), f.args(3), f.kwargs(4))
            else -> throw ProtocolViolationException("unsupported WAMP message type $code")
        }
    }

    /** Field readers for one message; extra trailing elements are ignored, as the spec allows. */
    private class Fields(val name: String, val a: List<*>) {
        private fun present(i: Int): Any? {
            if (i >= a.size) {
                throw ProtocolViolationException(
                    "$name message has ${a.size} elements; field $i is missing",
                )
            }
            return a[i]
        }

        private fun bad(i: Int, what: String): Nothing {
            val v = a[i]
            throw ProtocolViolationException(
                "$name field $i must be $what, got ${v?.let {
                    it::class.java.simpleName
                } ?: "null"}",
            )
        }

        fun id(i: Int): Long {
            val v = WampValues.asLong(present(i)) ?: bad(i, "an id")
            if (v < 0 || v > WampValues.MAX_ID) {
                throw ProtocolViolationException(
                    "$name field $i id $v is outside [0, 2^53]",
                )
            }
            return v
        }

        fun int(i: Int): Int {
            val v = WampValues.asLong(present(i)) ?: bad(i, "an integer")
            if (v !in Int.MIN_VALUE..Int.MAX_VALUE) bad(i, "a small integer")
            return v.toInt()
        }

        fun string(i: Int): String = present(i) as? String ?: bad(i, "a string")

        fun uri(i: Int): String = string(i)

        // A null dict (nexus writes a nil Go map as null) reads as empty.
        @Suppress("UNCHECKED_CAST")
        fun dict(i: Int): Dict = when (val v = present(i)) {
            null -> emptyMap()
            is Map<*, *> -> v as Dict
            else -> bad(i, "a dictionary")
        }

        fun optionalDict(i: Int): Dict? = if (i < a.size) dict(i) else null

        fun args(i: Int): WampList = when (val v = a.getOrNull(i)) {
            null -> emptyList()
            is List<*> -> v
            else -> bad(i, "an argument list")
        }

        @Suppress("UNCHECKED_CAST")
        fun kwargs(i: Int): Dict = when (val v = a.getOrNull(i)) {
            null -> emptyMap()
            is Map<*, *> -> v as Dict
            else -> bad(i, "a keyword argument dictionary")
        }
    }
}

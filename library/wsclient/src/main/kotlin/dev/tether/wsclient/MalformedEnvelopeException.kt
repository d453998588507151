package dev.tether.wsclient

/**
 * A received frame is not a valid envelope, or a payload cannot be read as the requested type.
 *
 * Thrown by [Envelope.decode] when the text is not a single JSON object, when a known field has the wrong
 * JSON type, when `ts` is not an RFC 3339 time, when `kind` is absent, empty or null, or when the message is
 * nested deeper than [Envelope.MAX_DEPTH] levels; and by [Envelope.payloadAs] when there is no payload or it
 * does not match the requested type. The message always starts with `malformed envelope:` and, for syntax
 * errors, names the character offset where reading stopped.
 *
 * Envelopes that *we* build are validated when they are built ([IllegalArgumentException]), so encoding never
 * throws this exception.
 */
public class MalformedEnvelopeException @JvmOverloads constructor(message: String, cause: Throwable? = null) :
    WsClientException(message, cause)

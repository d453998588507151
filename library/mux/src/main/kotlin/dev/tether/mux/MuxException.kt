package dev.tether.mux

import dev.tether.core.TetherException

/** Errors of wsmux sessions and streams; the names follow upstream's `Err…` values. */
public sealed class MuxException(message: String, cause: Throwable? = null) : TetherException(message, cause)

/** The peer did not ACK our SYN within the accept deadline; the stream was dropped (upstream "accept timed out"). */
public class AcceptTimeoutException(
    /** The accept deadline that passed, in milliseconds. */
    public val timeoutMillis: Long,
) : MuxException(
    "accept timed out: the peer did not accept the stream within $timeoutMillis ms (is it calling Accept?)",
)

/**
 * The stream can no longer be written (upstream "broken pipe"): it was closed locally, or its session ended
 * ([cause] says why).
 */
public class BrokenPipeException(detail: String, cause: Throwable? = null) :
    MuxException("broken pipe: $detail", cause)

/**
 * The write deadline or timeout passed while waiting for send credit (upstream "wsmux: write operation timed out").
 */
public class WriteTimeoutException : MuxException("wsmux: write operation timed out; set a later deadline to retry")

/** The read deadline or timeout passed with no data (upstream "wsmux: read operation timed out"). */
public class ReadTimeoutException : MuxException("wsmux: read operation timed out; set a later deadline to retry")

/**
 * The peer sent more than the window allowed, so a data frame was dropped; the stream is unusable from now on
 * (sticky, upstream "buffer does not have capacity to accomodate extra data").
 */
public class NoCapacityException(
    /** The stream whose window was overrun. */
    public val streamId: Long,
    /** Its receive capacity in bytes. */
    public val capacity: Int,
) : MuxException(
    "buffer does not have capacity to accomodate extra data: the peer overran the $capacity-byte window of " +
        "stream $streamId, data was lost",
)

/**
 * The peer answered our SYN with FIN instead of an ACK: it would not take the stream (a Tether peer at its
 * [MuxConfig.maxStreams], an upstream peer whose accept queue is full). Nothing was sent on it; open again later.
 */
public class StreamRefusedException(
    /** The stream the peer refused. */
    public val streamId: Long,
) : MuxException(
    "stream refused: the peer answered the SYN of stream $streamId with FIN; it holds as many streams as it " +
        "allows, open again later",
)

/** No free stream id was left (upstream "duplicate stream"). */
public class DuplicateStreamException(
    /** The id that could not be allocated. */
    public val streamId: Long,
) : MuxException("duplicate stream: id $streamId is in use")

/** The session is closed (upstream "session closed"); [cause] is the connection failure, if any. */
public class MuxSessionClosedException(detail: String = "session closed", cause: Throwable? = null) :
    MuxException(detail, cause)

/** A deadline in the past was set (upstream "invalid deadline"). */
public class InvalidDeadlineException(deadline: Any) : MuxException("invalid deadline: $deadline is already past")

/**
 * No pong arrived within the keepalive bound, so the session was aborted (upstream "keep alive timer expired").
 * [cause] is the connection's own [dev.tether.core.KeepAliveExpiredException] when its pinger detected it.
 */
public class MuxKeepAliveExpiredException(
    /** The keepalive bound that passed without a pong, in milliseconds. */
    public val intervalMillis: Long,
    cause: Throwable? = null,
) : MuxException("keep alive timer expired: no pong within $intervalMillis ms, the peer is presumed dead", cause)

/** More than 200 un-accepted incoming streams: the session was aborted (upstream ErrTooManySyns). */
public class TooManySynsException : MuxException("too many un-accepted new incoming streams; call accept() faster")

/** A message that is not a valid frame (upstream "malformed header"); the session drops it and logs. */
public class MalformedFrameException(detail: String) : MuxException("malformed header: $detail")

package dev.tether.core

/**
 * Root of every error Tether raises. Each module has its own sealed branch below this class; the message says
 * what happened and what to do about it.
 */
public open class TetherException(message: String, cause: Throwable? = null) : RuntimeException(message, cause)

package dev.tether.core

/** Marks declarations that Tether's own modules share but users should not rely on; they may change at any time. */
@RequiresOptIn(message = "Tether-internal API: it may change without notice.", level = RequiresOptIn.Level.ERROR)
@Retention(AnnotationRetention.BINARY)
@Target(AnnotationTarget.CLASS, AnnotationTarget.FUNCTION, AnnotationTarget.PROPERTY, AnnotationTarget.CONSTRUCTOR)
public annotation class InternalTetherApi

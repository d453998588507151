package dev.tether.testkit.junit

import dev.tether.testkit.FakeServer
import dev.tether.testkit.Faults
import org.junit.jupiter.api.extension.AfterAllCallback
import org.junit.jupiter.api.extension.AfterEachCallback
import org.junit.jupiter.api.extension.BeforeAllCallback
import org.junit.jupiter.api.extension.BeforeEachCallback
import org.junit.jupiter.api.extension.ExtensionConfigurationException
import org.junit.jupiter.api.extension.ExtensionContext
import org.junit.jupiter.api.extension.ParameterContext
import org.junit.jupiter.api.extension.ParameterResolutionException
import org.junit.jupiter.api.extension.ParameterResolver
import org.junit.jupiter.api.extension.TestInstantiationAwareExtension.ExtensionContextScope
import java.lang.reflect.ParameterizedType
import java.lang.reflect.Type
import java.lang.reflect.TypeVariable
import java.util.concurrent.atomic.AtomicBoolean
import java.util.function.Supplier

/**
 * A JUnit Jupiter extension that runs one Tether fake ([T], any [FakeServer]) around tests: the one extension of the
 * testkit, which each fake's extension ([FakeBrokerExtension], [FakeMuxServerExtension], [FakeTunnelProxyExtension],
 * [FakeRelayServerExtension], [FakeWampRouterExtension]) fixes to its fake. It starts a server from [factory] (per
 * test method or per test class, see [lifecycle]), injects it into constructor, test-method and lifecycle-method
 * parameters declared exactly as [serverType], and its fault controls into parameters declared as [faultsType], and
 * closes it when its scope ends. A parameter declared as a type variable counts as the type the test class binds it
 * to, so a generic base test (`abstract class Contract<S extends FakeServer<F>, F extends Faults>` with test methods
 * taking `S server`) runs against each fake its subclasses name.
 *
 * A fake of your own plugs in without a subclass:
 * ```java
 * @RegisterExtension
 * static FakeServerExtension<MyFake, MyFaults> fake = new FakeServerExtension<>(
 *     MyFake.class, MyFaults.class, ServerLifecycle.PER_CLASS, MyFake::start);
 * ```
 *
 * Servers live in the JUnit [ExtensionContext.Store] of the test method or class they belong to, so tests running
 * in parallel each see their own. [server] is a convenience for code that has no parameter to receive the server:
 * it returns the server this extension started most recently, which is ambiguous only when per-method tests run in
 * parallel (use parameter injection there).
 *
 * Register at most one extension per server type on a test class: two extensions that both resolve [serverType]
 * make JUnit refuse the parameter as ambiguous.
 *
 * @param serverType the parameter type that receives the server.
 * @param faultsType the parameter type that receives the server's [FakeServer.faults].
 * @param lifecycle per test method (default for the concrete extensions) or per test class.
 * @param factory starts a server; called once per scope, on the thread that runs the test's callbacks.
 */
public open class FakeServerExtension<T : FakeServer<F>, F : Faults>(
    /** The parameter type that receives the server. */
    public val serverType: Class<T>,
    /** The parameter type that receives the server's fault controls. */
    public val faultsType: Class<F>,
    /** Per test method or per test class. */
    public val lifecycle: ServerLifecycle,
    private val factory: Supplier<out T>,
) : BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback, ParameterResolver {

    // One namespace per extension instance, so two extensions (even of one type) never share a server.
    private val namespace = ExtensionContext.Namespace.create(FakeServerExtension::class.java, Identity(this))

    @Volatile
    private var latest: T? = null

    /**
     * The running server: the class's server for [ServerLifecycle.PER_CLASS], the current test's for
     * [ServerLifecycle.PER_METHOD].
     *
     * @throws IllegalStateException outside the scope of a running server (for example in a `static` initializer,
     *   or after the class finished).
     */
    public val server: T
        get() = latest ?: throw IllegalStateException(
            "no ${serverType.simpleName} is running: the ${lifecycle.name.lowercase()} server exists only while " +
                "its tests run" + if (lifecycle == ServerLifecycle.PER_CLASS) {
                    " (and a per-class extension must be registered in a static @RegisterExtension field)"
                } else {
                    ""
                },
        )

    /** The running server's URL (see [server]). */
    public val url: String get() = server.url

    /** The running server's fault controls (see [server]). */
    public val faults: F get() = server.faults

    override fun beforeAll(context: ExtensionContext) {
        if (lifecycle != ServerLifecycle.PER_CLASS) return
        // In a @Nested class this finds the enclosing class's server and shares it.
        latest = running(context).server
    }

    override fun afterAll(context: ExtensionContext) {
        if (lifecycle != ServerLifecycle.PER_CLASS) return
        // remove() only looks at this class's own store: a @Nested class leaves the enclosing class's server alone.
        stop(context)
    }

    override fun beforeEach(context: ExtensionContext) {
        when (lifecycle) {
            ServerLifecycle.PER_METHOD -> latest = running(context).server

            ServerLifecycle.PER_CLASS -> if (find(context) == null) {
                throw ExtensionConfigurationException(
                    "${javaClass.simpleName} with PER_CLASS lifecycle must be registered in a static " +
                        "@RegisterExtension field: JUnit never calls beforeAll on an instance field",
                )
            }
        }
    }

    override fun afterEach(context: ExtensionContext) {
        if (lifecycle == ServerLifecycle.PER_METHOD) stop(context)
    }

    override fun supportsParameter(parameterContext: ParameterContext, extensionContext: ExtensionContext): Boolean {
        val type = declaredType(parameterContext, extensionContext)
        return type == serverType || type == faultsType
    }

    override fun resolveParameter(parameterContext: ParameterContext, extensionContext: ExtensionContext): Any {
        val type = declaredType(parameterContext, extensionContext)
        val server = when (lifecycle) {
            ServerLifecycle.PER_CLASS -> find(extensionContext)?.server ?: throw ParameterResolutionException(
                "no per-class ${serverType.simpleName} is running for ${parameterContext.declaringExecutable}: " +
                    "register ${javaClass.simpleName} in a static @RegisterExtension field",
            )

            ServerLifecycle.PER_METHOD -> {
                if (!extensionContext.testMethod.isPresent) {
                    throw ParameterResolutionException(
                        "a per-method ${serverType.simpleName} cannot be injected into " +
                            "${parameterContext.declaringExecutable}, which runs outside any single test method " +
                            "(a @BeforeAll method or the constructor of a @TestInstance(PER_CLASS) class); " +
                            "use a per-class extension there",
                    )
                }
                // The constructor of a per-method test instance runs before beforeEach: start the server now.
                running(extensionContext).server.also { latest = it }
            }
        }
        return if (type == serverType) server else server.faults
    }

    /**
     * Per-method servers must be resolvable while the test instance is created (constructor injection), so ask
     * JUnit for the test method's context then: the server created for the constructor is the test's server.
     */
    override fun getTestInstantiationExtensionContextScope(rootContext: ExtensionContext): ExtensionContextScope =
        if (lifecycle == ServerLifecycle.PER_METHOD) {
            ExtensionContextScope.TEST_METHOD
        } else {
            ExtensionContextScope.DEFAULT
        }

    /** The parameter's declared class; a type variable is resolved against the test class's generic superclasses. */
    private fun declaredType(parameterContext: ParameterContext, extensionContext: ExtensionContext): Class<*> {
        val parameter = parameterContext.parameter
        val variable = parameter.parameterizedType as? TypeVariable<*> ?: return parameter.type
        val testClass = extensionContext.testClass.orElse(null) ?: return parameter.type
        return boundClass(variable, testClass) ?: parameter.type
    }

    private fun find(context: ExtensionContext): Running<T>? =
        @Suppress("UNCHECKED_CAST")
        (context.getStore(namespace).get(KEY, Running::class.java) as Running<T>?)

    /** The server of [context] (or of an enclosing context), started now if there is none. */
    private fun running(context: ExtensionContext): Running<T> {
        find(context)?.let { return it }
        @Suppress("UNCHECKED_CAST")
        return context.getStore(namespace).computeIfAbsent(KEY, { Running(start()) }, Running::class.java) as Running<T>
    }

    private fun start(): T {
        val server = factory.get()
        check(serverType.isInstance(server)) {
            "the factory returned ${server.javaClass.name}, not a ${serverType.name}"
        }
        return server
    }

    private fun stop(context: ExtensionContext) {
        @Suppress("UNCHECKED_CAST")
        val running = context.getStore(namespace).remove(KEY, Running::class.java) as Running<T>? ?: return
        if (latest === running.server) latest = null
        running.close()
    }

    /** A started server in a store; JUnit also closes it when its context ends, should [stop] never run. */
    private class Running<T : AutoCloseable>(val server: T) : AutoCloseable {
        private val closed = AtomicBoolean(false)

        override fun close() {
            if (closed.compareAndSet(false, true)) server.close()
        }
    }

    /** Identity-based namespace part (an extension subclass may define equals). */
    private class Identity(private val owner: Any) {
        override fun equals(other: Any?): Boolean = other is Identity && other.owner === owner
        override fun hashCode(): Int = System.identityHashCode(owner)
    }

    private companion object {
        const val KEY = "server"

        /**
         * What [variable] is bound to, seen from [testClass]: walks up its superclasses recording each generic
         * superclass's type arguments (a subclass may bind a superclass's variable to one of its own, bound further
         * down), then follows the bindings to a class. Null when nothing binds it to one.
         */
        fun boundClass(variable: TypeVariable<*>, testClass: Class<*>): Class<*>? {
            val bindings = HashMap<TypeVariable<*>, Type>()
            var current: Class<*>? = testClass
            while (current != null && current != variable.genericDeclaration) {
                val superType = current.genericSuperclass
                if (superType is ParameterizedType) {
                    val raw = superType.rawType as Class<*>
                    raw.typeParameters.forEachIndexed { i, v -> bindings[v] = superType.actualTypeArguments[i] }
                }
                current = current.superclass
            }
            var bound: Type? = bindings[variable]
            while (bound is TypeVariable<*>) bound = bindings[bound]
            return when (bound) {
                is Class<*> -> bound
                is ParameterizedType -> bound.rawType as? Class<*>
                else -> null
            }
        }
    }
}

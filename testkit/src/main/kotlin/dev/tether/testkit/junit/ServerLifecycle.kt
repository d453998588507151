package dev.tether.testkit.junit

/** How long a server started by a [FakeServerExtension] lives. */
public enum class ServerLifecycle {
    /**
     * A fresh server for every test method: started before the `@BeforeEach` methods (or earlier, when the test
     * class constructor asks for it) and stopped after the `@AfterEach` methods.
     */
    PER_METHOD,

    /**
     * One server for every test of the class (and its `@Nested` classes): started before the `@BeforeAll` methods
     * and stopped after the `@AfterAll` methods. The extension must be registered in a `static` field.
     */
    PER_CLASS,
}

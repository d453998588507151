package dev.tether.testkit.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.testkit.wamp.FakeWampRouter;
import dev.tether.testkit.wamp.FakeWampRouterConfig;
import dev.tether.testkit.wamp.FakeWampRouterFaults;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * FakeWampRouterExtension from Java: the extension contract (FakeServerExtensionContract) per test method by
 * @ExtendWith, and per class with a config of its own.
 */
class FakeWampRouterExtensionJavaTest {

    @Nested
    @ExtendWith(FakeWampRouterExtension.class)
    class PerMethodByExtendWith extends FakeServerExtensionContract.PerMethod<FakeWampRouter, FakeWampRouterFaults> {
    }

    @Nested
    class PerClassWithAConfig extends FakeServerExtensionContract.PerClass<FakeWampRouter, FakeWampRouterFaults> {
        @RegisterExtension
        static final FakeWampRouterExtension SHARED = FakeWampRouterExtension.perClass(
                FakeWampRouterConfig.builder().realm("class-realm").build());

        @Override
        protected FakeWampRouterExtension shared() {
            return SHARED;
        }

        @Override
        protected void assertConfigured(FakeWampRouter server) {
            assertEquals("class-realm", server.getConfig().getRealms().keySet().iterator().next());
        }
    }
}

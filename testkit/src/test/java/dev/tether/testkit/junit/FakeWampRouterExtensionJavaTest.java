package dev.tether.testkit.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.tether.testkit.wamp.FakeWampRouter;
import dev.tether.testkit.wamp.FakeWampRouterConfig;
import dev.tether.testkit.wamp.FakeWampRouterFaults;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * FakeWampRouterExtension from Java: a fresh FakeWampRouter per test method by @ExtendWith, and one per class with a
 * config.
 */
class FakeWampRouterExtensionJavaTest {

    @Nested
    @ExtendWith(FakeWampRouterExtension.class)
    @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
    class PerMethodByExtendWith {
        private static FakeWampRouter previous;

        @Test
        @Order(1)
        void injectsARunningServerAndItsFaults(FakeWampRouter server, FakeWampRouterFaults faults) throws Exception {
            assertSame(server.getFaults(), faults);
            FakeServers.assertListening(server);
            faults.reset(); // the controls of every fake
            previous = server;
        }

        @Test
        @Order(2)
        void everyTestGetsAFreshServerAndThePreviousOneIsStopped(FakeWampRouter server) throws Exception {
            assertNotSame(previous, server);
            FakeServers.assertStopped(previous);
            FakeServers.assertListening(server);
        }
    }

    @Nested
    @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
    class PerClassWithAConfig {
        @RegisterExtension
        static final FakeWampRouterExtension SHARED = FakeWampRouterExtension.perClass(
                FakeWampRouterConfig.builder().realm("class-realm").build());

        private static FakeWampRouter first;

        @Test
        @Order(1)
        void startsWithTheConfig(FakeWampRouter server) throws Exception {
            assertEquals("class-realm", server.getConfig().getRealms().keySet().iterator().next());
            assertSame(SHARED.getServer(), server);
            assertSame(server.getFaults(), SHARED.getFaults());
            assertEquals(server.getUrl(), SHARED.getUrl());
            FakeServers.assertListening(server);
            first = server;
        }

        @Test
        @Order(2)
        void servesEveryTestOfTheClass(FakeWampRouter server) {
            assertSame(first, server);
        }
    }
}

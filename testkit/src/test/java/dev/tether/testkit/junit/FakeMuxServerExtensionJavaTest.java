package dev.tether.testkit.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.tether.testkit.mux.FakeMuxServer;
import dev.tether.testkit.mux.FakeMuxServerConfig;
import dev.tether.testkit.mux.FakeMuxServerFaults;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * FakeMuxServerExtension from Java: a fresh FakeMuxServer per test method by @ExtendWith, and one per class with a
 * config.
 */
class FakeMuxServerExtensionJavaTest {

    @Nested
    @ExtendWith(FakeMuxServerExtension.class)
    @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
    class PerMethodByExtendWith {
        private static FakeMuxServer previous;

        @Test
        @Order(1)
        void injectsARunningServerAndItsFaults(FakeMuxServer server, FakeMuxServerFaults faults) throws Exception {
            assertSame(server.getFaults(), faults);
            FakeServers.assertListening(server);
            faults.reset(); // the controls of every fake
            previous = server;
        }

        @Test
        @Order(2)
        void everyTestGetsAFreshServerAndThePreviousOneIsStopped(FakeMuxServer server) throws Exception {
            assertNotSame(previous, server);
            FakeServers.assertStopped(previous);
            FakeServers.assertListening(server);
        }
    }

    @Nested
    @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
    class PerClassWithAConfig {
        @RegisterExtension
        static final FakeMuxServerExtension SHARED = FakeMuxServerExtension.perClass(
                FakeMuxServerConfig.builder().streamBufferSize(8192).build());

        private static FakeMuxServer first;

        @Test
        @Order(1)
        void startsWithTheConfig(FakeMuxServer server) throws Exception {
            assertEquals(8192, server.getConfig().getStreamBufferSize());
            assertSame(SHARED.getServer(), server);
            assertSame(server.getFaults(), SHARED.getFaults());
            assertEquals(server.getUrl(), SHARED.getUrl());
            FakeServers.assertListening(server);
            first = server;
        }

        @Test
        @Order(2)
        void servesEveryTestOfTheClass(FakeMuxServer server) {
            assertSame(first, server);
        }
    }
}

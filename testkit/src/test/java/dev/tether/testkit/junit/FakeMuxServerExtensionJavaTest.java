package dev.tether.testkit.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.testkit.mux.FakeMuxServer;
import dev.tether.testkit.mux.FakeMuxServerConfig;
import dev.tether.testkit.mux.FakeMuxServerFaults;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * FakeMuxServerExtension from Java: the extension contract (FakeServerExtensionContract) per test method by
 * @ExtendWith, and per class with a config of its own.
 */
class FakeMuxServerExtensionJavaTest {

    @Nested
    @ExtendWith(FakeMuxServerExtension.class)
    class PerMethodByExtendWith extends FakeServerExtensionContract.PerMethod<FakeMuxServer, FakeMuxServerFaults> {
    }

    @Nested
    class PerClassWithAConfig extends FakeServerExtensionContract.PerClass<FakeMuxServer, FakeMuxServerFaults> {
        @RegisterExtension
        static final FakeMuxServerExtension SHARED = FakeMuxServerExtension.perClass(
                FakeMuxServerConfig.builder().streamBufferSize(8192).build());

        @Override
        protected FakeMuxServerExtension shared() {
            return SHARED;
        }

        @Override
        protected void assertConfigured(FakeMuxServer server) {
            assertEquals(8192, server.getConfig().getStreamBufferSize());
        }
    }
}

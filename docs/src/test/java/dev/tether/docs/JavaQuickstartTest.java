package dev.tether.docs;

import dev.tether.testkit.FakeBroker;
import dev.tether.wsclient.Envelope;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs the Java quick start against the fake broker; its first test is quoted in getting-started-java.md. */
class JavaQuickstartTest {

    // docs:start test
    @Test
    void registersAndAnswersTurns() throws Exception {
        try (FakeBroker broker = FakeBroker.start();
             JavaQuickstart agent = new JavaQuickstart(broker.getUrl(), broker.getToken(), "agent-1")) {
            Envelope ack = agent.firstRegistration().get(10, TimeUnit.SECONDS);
            assertEquals("register.ack", ack.getKind());
            assertTrue(broker.registeredNames().contains("agent-1"));

            // The fake broker sends a server-initiated "turn" request and waits for the answer.
            Envelope answer = broker.turnAsync("agent-1", "{\"text\":\"hi\"}", Duration.ofSeconds(10)).get();
            assertEquals("turn.result", answer.getKind());
            assertEquals("{\"text\":\"done\"}", answer.getPayload());
        }
    }
    // docs:end test

    @Test
    void registersAgainAfterADrop() throws Exception {
        try (FakeBroker broker = FakeBroker.start();
             JavaQuickstart agent = new JavaQuickstart(broker.getUrl(), broker.getToken(), "agent-2")) {
            agent.firstRegistration().get(10, TimeUnit.SECONDS);
            assertEquals(1, broker.getFaults().dropAll());
            Waits.until(Duration.ofSeconds(10), () -> agent.registrations() == 2);
            assertEquals(1, agent.drops());
            assertEquals(2L, broker.acceptedUpgrades());
            assertTrue(broker.registeredNames().contains("agent-2"));
            assertEquals("turn.result",
                    broker.turnAsync("agent-2", "{}", Duration.ofSeconds(10)).get().getKind());
        }
    }

    @Test
    void closeReleasesTheConnection() throws Exception {
        try (FakeBroker broker = FakeBroker.start()) {
            Envelope ack = JavaQuickstart.run(broker.getUrl(), broker.getToken(), "agent-3");
            assertEquals("{\"heartbeat_interval_s\":10,\"stale_after_s\":30}", ack.getPayload());
            Waits.until(Duration.ofSeconds(10), () -> broker.getConnectionCount().getValue() == 0);
            assertTrue(broker.registeredNames().isEmpty());
        }
    }

    @Test
    void aWrongTokenNeverRegisters() throws Exception {
        try (FakeBroker broker = FakeBroker.start();
             JavaQuickstart agent = new JavaQuickstart(broker.getUrl(), "wrong-token", "agent-4")) {
            Waits.until(Duration.ofSeconds(10), () -> broker.refusedUpgrades() >= 1);
            assertEquals(0, agent.registrations());
            assertEquals(0L, broker.acceptedUpgrades());
        }
    }
}

package dev.tether.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.testkit.FakeBroker;
import dev.tether.wsclient.Envelope;
import dev.tether.wsclient.WsClient;
import dev.tether.wsclient.WsClientConfig;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The Java example of transport.md: where a future's stages run. */
class TransportJavaExamplesTest {
    static String parse(Envelope reply) {
        return reply.getPayload();
    }

    @Test
    void slowStagesMoveOffTheIoThread() throws Exception {
        try (FakeBroker broker = FakeBroker.start();
             WsClient client = new WsClient(WsClientConfig.builder().url(broker.getUrl()).authToken(broker.getToken())
                     .handler(envelope -> { }).build())) {
            client.start();
            // docs:start futures
            // The reply completes the future on the connection's I/O thread: cheap stages may run there,
            // anything slow or blocking belongs on your own executor.
            String payload = client.requestAsync(Envelope.request("echo", "{\"n\":1}"))
                    .thenApply(TransportJavaExamplesTest::parse)                   // runs on the I/O thread
                    .thenApplyAsync(String::trim, java.util.concurrent.ForkJoinPool.commonPool()) // runs elsewhere
                    .get(10, TimeUnit.SECONDS);
            // docs:end futures
            assertEquals("{\"n\":1}", payload);
        }
    }
}

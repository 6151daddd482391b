/* Publishes one retained QoS 1 message and waits for the PUBACK.
 *
 *   cc publisher.c $(pkg-config --cflags --libs mqttkit) -o publisher
 *   ./publisher mqtt://127.0.0.1:1883 sensors/kitchen/temp 21.5
 */
#include <mqttkit.h>
#include <stdio.h>
#include <string.h>

static int fail(const char *what, mqttkit_result result) {
    char detail[256];
    mqttkit_last_error(detail, sizeof detail);
    fprintf(stderr, "%s failed: %s (%s)\n", what, mqttkit_result_str(result), detail);
    return 1;
}

int main(int argc, char **argv) {
    const char *url = argc > 1 ? argv[1] : "mqtt://127.0.0.1:1883";
    const char *topic = argc > 2 ? argv[2] : "examples/c/hello";
    const char *text = argc > 3 ? argv[3] : "hello from C";

    mqttkit_client_options_t *options = mqttkit_client_options_new(url);
    mqttkit_client_options_set_client_id(options, "example-publisher");
    mqttkit_client_t *client = NULL;
    mqttkit_result result = mqttkit_client_new(options, &client);
    mqttkit_client_options_free(options);
    if (result != MQTTKIT_RESULT_OK) return fail("mqttkit_client_new", result);

    int status = 0;
    uint16_t packet_id = 0;
    if ((result = mqttkit_client_connect_sync(client, 5000, NULL)) != MQTTKIT_RESULT_OK) {
        status = fail("connect", result);
    } else if ((result = mqttkit_client_publish_sync(client, topic, (const uint8_t *)text, strlen(text), 1,
                                                     true, NULL, 5000, &packet_id)) != MQTTKIT_RESULT_OK) {
        status = fail("publish", result);
    } else {
        printf("published %s: %s (packet id %u, acknowledged)\n", topic, text, packet_id);
        mqttkit_client_disconnect_sync(client, 5000);
    }
    mqttkit_client_free(client);
    return status;
}

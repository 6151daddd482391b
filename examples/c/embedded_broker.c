/* Runs mqttkit's broker inside a C program on a free port (configured field by field: a
 * user list instead of anonymous access, a few limits), connects a client that logs in
 * with SCRAM-SHA-256, sends one message through it, prints the broker's counters and stops
 * it gracefully.
 *
 *   cc embedded_broker.c $(pkg-config --cflags --libs mqttkit) -o embedded_broker
 */
#include <mqttkit.h>
#include <stdio.h>

static int check(const char *what, mqttkit_result result) {
    if (result == MQTTKIT_RESULT_OK) return 0;
    char detail[256];
    mqttkit_last_error(detail, sizeof detail);
    fprintf(stderr, "%s failed: %s (%s)\n", what, mqttkit_result_str(result), detail);
    return 1;
}

int main(void) {
    mqttkit_broker_config_t *config = NULL;
    if (check("config", mqttkit_broker_config_new(&config))) return 1;
    if (check("listener", mqttkit_broker_config_set_listener(config, "127.0.0.1:0")) ||
        check("limits", mqttkit_broker_config_set_max_connections(config, 100)) ||
        check("limits", mqttkit_broker_config_set_max_packet_size(config, 64 * 1024)) ||
        check("auth", mqttkit_broker_config_set_allow_anonymous(config, false)) ||
        check("auth", mqttkit_broker_config_add_user(config, "example", "example-password"))) {
        mqttkit_broker_config_free(config);
        return 1;
    }
    mqttkit_broker_t *broker = NULL;
    mqttkit_result result = mqttkit_broker_start(config, &broker);
    mqttkit_broker_config_free(config);
    if (check("start", result)) return 1;
    unsigned port = mqttkit_broker_port(broker, 0);
    printf("broker listening on 127.0.0.1:%u\n", port);

    char url[64];
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%u", port);
    mqttkit_client_options_t *options = mqttkit_client_options_new(url);
    mqttkit_client_t *client = NULL;
    result = mqttkit_client_options_set_scram_sha256(options, "example", "example-password");
    if (result == MQTTKIT_RESULT_OK) result = mqttkit_client_new(options, &client);
    mqttkit_client_options_free(options);
    int failed = check("client", result) || check("connect", mqttkit_client_connect_sync(client, 5000, NULL)) ||
                 check("publish", mqttkit_client_publish_sync(client, "embedded/hello", (const uint8_t *)"hi", 2, 0,
                                                              false, NULL, 5000, NULL));
    mqttkit_client_free(client);

    mqttkit_broker_stats_t stats;
    if (!failed && !check("stats", mqttkit_broker_stats(broker, &stats)))
        printf("connections accepted: %llu, messages in: %llu\n", (unsigned long long)stats.connections_total,
               (unsigned long long)stats.messages_in);
    mqttkit_broker_free(broker); /* graceful stop, joins the broker's tasks */
    printf("broker stopped\n");
    return failed;
}

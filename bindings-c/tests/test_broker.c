/* The embedded broker: start on a free port, serve a client, counters, graceful stop,
 * invalid configuration, NULL arguments. Built without the broker feature, every function
 * must say MQTTKIT_RESULT_UNSUPPORTED. */
#include "harness.h"

typedef struct {
    waiter_t w;
    int messages;
} inbox_t;

static void on_message(void *ud, const mqttkit_message_t *m) {
    inbox_t *inbox = ud;
    (void)m;
    pthread_mutex_lock(&inbox->w.lock);
    inbox->messages++;
    pthread_cond_broadcast(&inbox->w.changed);
    pthread_mutex_unlock(&inbox->w.lock);
}

#ifdef MQTTKIT_TEST_BROKER
static void test_embedded_broker_serves_a_client(void) {
    mqttkit_broker_config_t *config = NULL;
    CHECK_OK(mqttkit_broker_config_new(&config));
    CHECK_OK(mqttkit_broker_config_set_listener(config, "127.0.0.1:0"));
    mqttkit_broker_t *broker = NULL;
    CHECK_OK(mqttkit_broker_start(config, &broker));
    mqttkit_broker_config_free(config);
    if (!broker) return;
    uint16_t port = mqttkit_broker_port(broker, 0);
    CHECK(port > 0);
    CHECK(mqttkit_broker_port(broker, 1) == 0);

    char url[64];
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%u", port);
    inbox_t inbox = {0};
    waiter_init(&inbox.w);
    mqttkit_client_options_t *o = mqttkit_client_options_new(url);
    mqttkit_client_t *client = NULL;
    CHECK_OK(mqttkit_client_new(o, &client));
    mqttkit_client_options_free(o);
    CHECK_OK(mqttkit_client_set_message_callback(client, on_message, &inbox));
    CHECK_OK(mqttkit_client_connect_sync(client, 10000, NULL));
    CHECK_OK(mqttkit_client_subscribe_sync(client, "embedded/#", 1, 10000, NULL));
    for (int i = 0; i < 5; i++)
        /* QoS 0: see the core issue about QoS 1/2 against a server with Maximum Packet Size. */
        CHECK_OK(mqttkit_client_publish_sync(client, "embedded/t", (const uint8_t *)"x", 1, 0, false, NULL, 10000, NULL));
    CHECK(WAIT_FOR(&inbox.w, 10000, inbox.messages == 5));

    mqttkit_broker_stats_t stats;
    memset(&stats, 0, sizeof stats);
    CHECK_OK(mqttkit_broker_stats(broker, &stats));
    CHECK(stats.connections == 1);
    CHECK(stats.connections_total >= 1);
    CHECK(stats.messages_in >= 5);
    CHECK(stats.messages_out >= 5);
    CHECK(stats.subscriptions == 1);
    CHECK_RESULT(mqttkit_broker_stats(broker, NULL), MQTTKIT_RESULT_NULL_PARAMETER);

    /* Graceful stop while the client is connected: the client sees the connection end. */
    mqttkit_broker_free(broker);
    mqttkit_client_free(client);
    waiter_destroy(&inbox.w);
    CHECK_OK(mqttkit_wait_idle(10000));
}

static void test_broker_configuration_errors(void) {
    mqttkit_broker_config_t *config = NULL;
    CHECK_RESULT(mqttkit_broker_config_from_toml("[[listener]]\nbind = 42\n", &config),
                 MQTTKIT_RESULT_INVALID_CONFIGURATION);
    CHECK(config == NULL);
    char detail[256];
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "toml:") != NULL);
    CHECK_OK(mqttkit_broker_config_from_toml("[[listener]]\nbind = \"127.0.0.1:0\"\n", &config));
    CHECK_RESULT(mqttkit_broker_config_set_listener(config, "not an address"), MQTTKIT_RESULT_INVALID_ARGUMENT);
    /* Two brokers on one port: the second cannot bind. */
    mqttkit_broker_t *first = NULL, *second = NULL;
    CHECK_OK(mqttkit_broker_start(config, &first));
    char address[64];
    snprintf(address, sizeof address, "127.0.0.1:%u", mqttkit_broker_port(first, 0));
    CHECK_OK(mqttkit_broker_config_set_listener(config, address));
    CHECK_RESULT(mqttkit_broker_start(config, &second), MQTTKIT_RESULT_NETWORK);
    CHECK(second == NULL);
    mqttkit_broker_free(first);
    mqttkit_broker_config_free(config);
}
#else
static void test_broker_is_unsupported_in_this_build(void) {
    mqttkit_broker_config_t *config = NULL;
    CHECK_RESULT(mqttkit_broker_config_new(&config), MQTTKIT_RESULT_UNSUPPORTED);
    CHECK(config == NULL);
}
#endif

static void test_broker_null_arguments(void) {
    mqttkit_broker_t *broker = NULL;
    CHECK_RESULT(mqttkit_broker_config_new(NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_from_toml(NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_listener(NULL, "127.0.0.1:0"), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_start(NULL, &broker), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_stats(NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK(mqttkit_broker_port(NULL, 0) == 0);
    mqttkit_broker_free(NULL);
    mqttkit_broker_config_free(NULL);
    (void)on_message;
}

int main(void) {
#ifdef MQTTKIT_TEST_BROKER
    RUN(test_embedded_broker_serves_a_client);
    RUN(test_broker_configuration_errors);
#else
    RUN(test_broker_is_unsupported_in_this_build);
#endif
    RUN(test_broker_null_arguments);
    return harness_summary();
}

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
static mqttkit_client_t *broker_client(mqttkit_broker_t *broker, size_t listener, const char *user, const char *password) {
    char url[64];
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%u", mqttkit_broker_port(broker, listener));
    mqttkit_client_options_t *o = mqttkit_client_options_new(url);
    CHECK_OK(mqttkit_client_options_set_reconnect(o, false, 1000, 30000, 2.0, 0.2, 0));
    if (user) CHECK_OK(mqttkit_client_options_set_credentials(o, user, (const uint8_t *)password, strlen(password)));
    mqttkit_client_t *client = NULL;
    CHECK_OK(mqttkit_client_new(o, &client));
    mqttkit_client_options_free(o);
    return client;
}

/* A broker started from a TOML configuration (NULL, with a failed check, if it cannot
 * start). */
static mqttkit_broker_t *start_toml_broker(const char *toml) {
    mqttkit_broker_config_t *config = NULL;
    CHECK_OK(mqttkit_broker_config_from_toml(toml, &config));
    mqttkit_broker_t *broker = NULL;
    CHECK_OK(mqttkit_broker_start(config, &broker));
    mqttkit_broker_config_free(config);
    return broker;
}

/* Every per-field setter; users, anonymous access, connection limit and listeners take
 * effect. */
static void test_broker_config_setters(void) {
    mqttkit_broker_config_t *config = NULL;
    CHECK_OK(mqttkit_broker_config_new(&config));
    CHECK_OK(mqttkit_broker_config_set_listener(config, "127.0.0.1:0"));
    CHECK_OK(mqttkit_broker_config_add_listener(config, "127.0.0.1:0"));
    CHECK_OK(mqttkit_broker_config_set_max_connections(config, 1));
    CHECK_OK(mqttkit_broker_config_set_max_packet_size(config, 4096));
    CHECK_OK(mqttkit_broker_config_set_receive_maximum(config, 10));
    CHECK_OK(mqttkit_broker_config_set_max_inflight(config, 10));
    CHECK_OK(mqttkit_broker_config_set_max_queued(config, 100, 1 << 20));
    CHECK_OK(mqttkit_broker_config_set_max_retained_messages(config, 100));
    CHECK_OK(mqttkit_broker_config_set_max_expiry(config, 3600, UINT32_MAX));
    CHECK_OK(mqttkit_broker_config_set_keep_alive_bounds(config, 5, 600));
    CHECK_OK(mqttkit_broker_config_set_topic_alias_maximum(config, 8));
    CHECK_OK(mqttkit_broker_config_set_connect_timeout(config, 5));
    CHECK_OK(mqttkit_broker_config_set_max_client_id_len(config, 64));
    CHECK_OK(mqttkit_broker_config_set_maximum_qos(config, 2));
    CHECK_OK(mqttkit_broker_config_set_features(config, true, true, true, true));
    CHECK_OK(mqttkit_broker_config_set_response_information_prefix(config, "reply/"));
    CHECK_OK(mqttkit_broker_config_set_response_information_prefix(config, NULL));
    CHECK_OK(mqttkit_broker_config_set_storage(config, MQTTKIT_DURABILITY_MEMORY, NULL, 0));
    CHECK_OK(mqttkit_broker_config_set_allow_anonymous(config, false));
    CHECK_OK(mqttkit_broker_config_add_user(config, "alice", "wonderland"));
    /* Two connections a second per listener: the four below make listener 0 pause. */
    CHECK_OK(mqttkit_broker_config_set_rate_limits(config, 1000, 0, 2));
    mqttkit_broker_t *broker = NULL;
    CHECK_OK(mqttkit_broker_start(config, &broker));
    mqttkit_broker_config_free(config);
    if (!broker) return;
    CHECK(mqttkit_broker_port(broker, 1) > 0 && mqttkit_broker_port(broker, 1) != mqttkit_broker_port(broker, 0));

    mqttkit_client_t *anonymous = broker_client(broker, 0, NULL, NULL);
    CHECK_RESULT(mqttkit_client_connect_sync(anonymous, 10000, NULL), MQTTKIT_RESULT_CONNECTION_REFUSED);
    mqttkit_client_free(anonymous);
    mqttkit_client_t *wrong = broker_client(broker, 0, "alice", "rabbit");
    CHECK_RESULT(mqttkit_client_connect_sync(wrong, 10000, NULL), MQTTKIT_RESULT_CONNECTION_REFUSED);
    mqttkit_client_free(wrong);
    mqttkit_client_t *alice = broker_client(broker, 1, "alice", "wonderland");
    CHECK_OK(mqttkit_client_connect_sync(alice, 10000, NULL));
    /* max_connections 1: a second connection is refused while alice is connected. */
    mqttkit_client_t *second = broker_client(broker, 0, "alice", "wonderland");
    CHECK_RESULT(mqttkit_client_connect_sync(second, 10000, NULL), MQTTKIT_RESULT_CONNECTION_REFUSED);
    mqttkit_client_free(second);
    mqttkit_client_free(alice);
    mqttkit_broker_stats_t stats;
    CHECK_OK(mqttkit_broker_stats(broker, &stats));
    CHECK(stats.throttled >= 1);
    mqttkit_broker_free(broker);
    CHECK_OK(mqttkit_wait_idle(10000));
}

/* An ACL from the TOML configuration: what it does not grant is refused with 0x87 and
 * counted. */
static void test_broker_acl_from_toml(void) {
    mqttkit_broker_t *broker = start_toml_broker("[[listener]]\nbind = \"127.0.0.1:0\"\n"
                                                 "[[acl.rules]]\naccess = \"readwrite\"\ntopic = \"public/#\"\n");
    if (!broker) return;
    mqttkit_client_t *client = broker_client(broker, 0, NULL, NULL);
    CHECK_OK(mqttkit_client_connect_sync(client, 10000, NULL));
    CHECK_OK(mqttkit_client_subscribe_sync(client, "public/#", 1, 10000, NULL));
    CHECK_RESULT(mqttkit_client_subscribe_sync(client, "secret/#", 1, 10000, NULL), MQTTKIT_RESULT_SUBSCRIBE_FAILED);
    CHECK_RESULT(mqttkit_client_publish_sync(client, "secret/x", (const uint8_t *)"no", 2, 1, false, NULL, 10000, NULL),
                 MQTTKIT_RESULT_PUBLISH_FAILED);
    char detail[256];
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "0x87") != NULL);
    CHECK_OK(mqttkit_client_publish_sync(client, "public/x", (const uint8_t *)"yes", 3, 1, false, NULL, 10000, NULL));
    mqttkit_broker_stats_t stats;
    CHECK_OK(mqttkit_broker_stats(broker, &stats));
    CHECK(stats.publish_denied == 1);
    CHECK(stats.subscribe_denied == 1);
    mqttkit_client_free(client);
    mqttkit_broker_free(broker);
    CHECK_OK(mqttkit_wait_idle(10000));
}

/* mqttkit_broker_reload_auth re-reads the ACL file: the connected client is checked
 * against the new rules; a bad file is refused naming its line and changes nothing. */
static void test_broker_reload_auth(void) {
    char dir[] = "/tmp/mqttkit-c-reload-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char acl[128], toml[256];
    snprintf(acl, sizeof acl, "%s/acl.conf", dir);
    FILE *file = fopen(acl, "w");
    CHECK(file != NULL);
    if (!file) return;
    fputs("topic readwrite a/#\n", file);
    fclose(file);
    snprintf(toml, sizeof toml, "[[listener]]\nbind = \"127.0.0.1:0\"\n[acl]\nfile = \"%s\"\n", acl);
    mqttkit_broker_t *broker = start_toml_broker(toml);
    if (!broker) return;
    mqttkit_client_t *client = broker_client(broker, 0, NULL, NULL);
    CHECK_OK(mqttkit_client_connect_sync(client, 10000, NULL));
    CHECK_RESULT(mqttkit_client_publish_sync(client, "b/x", (const uint8_t *)"no", 2, 1, false, NULL, 10000, NULL),
                 MQTTKIT_RESULT_PUBLISH_FAILED);
    file = fopen(acl, "w");
    fputs("topic readwrite b/#\n", file);
    fclose(file);
    CHECK_OK(mqttkit_broker_reload_auth(broker));
    CHECK_OK(mqttkit_client_publish_sync(client, "b/x", (const uint8_t *)"yes", 3, 1, false, NULL, 10000, NULL));
    file = fopen(acl, "w");
    fputs("topic sometimes b/#\n", file);
    fclose(file);
    CHECK_RESULT(mqttkit_broker_reload_auth(broker), MQTTKIT_RESULT_INVALID_CONFIGURATION);
    char detail[256];
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "acl.conf:1:") != NULL);
    CHECK_OK(mqttkit_client_publish_sync(client, "b/y", (const uint8_t *)"still", 5, 1, false, NULL, 10000, NULL));
    mqttkit_client_free(client);
    mqttkit_broker_free(broker);
    CHECK_OK(mqttkit_wait_idle(10000));
    remove(acl);
    rmdir(dir);
}

/* Bad values: refused by the setter when wrong on their own, by start when combined. */
static void test_broker_config_setter_errors(void) {
    mqttkit_broker_config_t *config = NULL;
    CHECK_OK(mqttkit_broker_config_new(&config));
    CHECK_RESULT(mqttkit_broker_config_set_max_packet_size(config, 10), MQTTKIT_RESULT_INVALID_ARGUMENT);
    char detail[256];
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "max_packet_size") != NULL);
    CHECK_RESULT(mqttkit_broker_config_set_receive_maximum(config, 0), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_broker_config_set_max_inflight(config, 0), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_broker_config_set_max_queued(config, 0, 10), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_broker_config_set_connect_timeout(config, 0), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_broker_config_set_maximum_qos(config, 3), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_broker_config_set_storage(config, 7, NULL, 0), MQTTKIT_RESULT_INVALID_ARGUMENT);
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "durability") != NULL);
    CHECK_RESULT(mqttkit_broker_config_add_listener(config, "nowhere"), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_OK(mqttkit_broker_config_add_user(config, "bob", "x"));
    CHECK_RESULT(mqttkit_broker_config_add_user(config, "bob", "y"), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_broker_config_add_user(config, "", "y"), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_OK(mqttkit_broker_config_set_listener(config, "127.0.0.1:0"));

    mqttkit_broker_t *broker = NULL;
    CHECK_OK(mqttkit_broker_config_set_keep_alive_bounds(config, 100, 10));
    CHECK_RESULT(mqttkit_broker_start(config, &broker), MQTTKIT_RESULT_INVALID_CONFIGURATION);
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "keep_alive_min") != NULL);
    CHECK_OK(mqttkit_broker_config_set_keep_alive_bounds(config, 0, 0));
    CHECK_OK(mqttkit_broker_config_set_storage(config, MQTTKIT_DURABILITY_SYNC, NULL, 0));
    CHECK_RESULT(mqttkit_broker_start(config, &broker), MQTTKIT_RESULT_INVALID_CONFIGURATION);
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "data_dir") != NULL);
    CHECK(broker == NULL);
    mqttkit_broker_config_free(config);
}

static void on_retained(void *ud, const mqttkit_message_t *m) {
    inbox_t *inbox = ud;
    pthread_mutex_lock(&inbox->w.lock);
    if (mqttkit_message_retain(m)) inbox->messages++;
    pthread_cond_broadcast(&inbox->w.changed);
    pthread_mutex_unlock(&inbox->w.lock);
}

/* Durable storage in a data directory: a retained message survives a restart. */
static void test_broker_durable_storage_survives_a_restart(void) {
    char dir[] = "/tmp/mqttkit-c-broker-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    mqttkit_broker_config_t *config = NULL;
    CHECK_OK(mqttkit_broker_config_new(&config));
    CHECK_OK(mqttkit_broker_config_set_listener(config, "127.0.0.1:0"));
    CHECK_OK(mqttkit_broker_config_set_storage(config, MQTTKIT_DURABILITY_SYNC, dir, 0));
    mqttkit_broker_t *broker = NULL;
    CHECK_OK(mqttkit_broker_start(config, &broker));
    if (!broker) { mqttkit_broker_config_free(config); return; }
    mqttkit_client_t *client = broker_client(broker, 0, NULL, NULL);
    CHECK_OK(mqttkit_client_connect_sync(client, 10000, NULL));
    CHECK_OK(mqttkit_client_publish_sync(client, "durable/t", (const uint8_t *)"kept", 4, 1, true, NULL, 10000, NULL));
    mqttkit_client_free(client);
    mqttkit_broker_free(broker);

    CHECK_OK(mqttkit_broker_config_set_storage(config, MQTTKIT_DURABILITY_BATCHED, dir, 5));
    CHECK_OK(mqttkit_broker_start(config, &broker));
    mqttkit_broker_config_free(config);
    if (!broker) return;
    inbox_t inbox = {0};
    waiter_init(&inbox.w);
    client = broker_client(broker, 0, NULL, NULL);
    CHECK_OK(mqttkit_client_set_message_callback(client, on_retained, &inbox));
    CHECK_OK(mqttkit_client_connect_sync(client, 10000, NULL));
    CHECK_OK(mqttkit_client_subscribe_sync(client, "durable/#", 1, 10000, NULL));
    CHECK(WAIT_FOR(&inbox.w, 10000, inbox.messages == 1));
    CHECK_OK(mqttkit_client_publish_sync(client, "durable/t", NULL, 0, 1, true, NULL, 10000, NULL));
    mqttkit_client_free(client);
    mqttkit_broker_free(broker);
    waiter_destroy(&inbox.w);
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    CHECK(system(command) == 0);
}
typedef struct {
    waiter_t w;
    int completions;
    mqttkit_result result;
    uint8_t reason;
} done_t;

static void on_done(void *ud, const mqttkit_completion_t *completion) {
    done_t *d = ud;
    pthread_mutex_lock(&d->w.lock);
    d->completions++;
    d->result = completion->result;
    d->reason = completion->reason_code;
    pthread_cond_broadcast(&d->w.changed);
    pthread_mutex_unlock(&d->w.lock);
}

/* SCRAM-SHA-256 against the embedded broker's users: connect, re-authenticate through the
 * configured authenticator (method NULL) in both forms, a wrong password; and an automatic
 * subscription with its options. */
static void test_scram_reauthentication_and_auto_subscription(void) {
    mqttkit_broker_config_t *config = NULL;
    CHECK_OK(mqttkit_broker_config_new(&config));
    CHECK_OK(mqttkit_broker_config_set_listener(config, "127.0.0.1:0"));
    CHECK_OK(mqttkit_broker_config_set_allow_anonymous(config, false));
    CHECK_OK(mqttkit_broker_config_add_user(config, "carol", "s3cret"));
    mqttkit_broker_t *broker = NULL;
    CHECK_OK(mqttkit_broker_start(config, &broker));
    mqttkit_broker_config_free(config);
    if (!broker) return;
    char url[64];
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%u", mqttkit_broker_port(broker, 0));

    for (int wrong = 0; wrong <= 1; wrong++) {
        mqttkit_client_options_t *o = mqttkit_client_options_new(url);
        CHECK_OK(mqttkit_client_options_set_reconnect(o, false, 1000, 30000, 2.0, 0.2, 0));
        CHECK_OK(mqttkit_client_options_set_scram_sha256(o, "carol", wrong ? "guess" : "s3cret"));
        mqttkit_subscription_t auto_sub = {.filter = "scram/#", .qos = 1, .no_local = true};
        CHECK_OK(mqttkit_client_options_add_auto_subscription(o, &auto_sub));
        mqttkit_client_t *client = NULL;
        CHECK_OK(mqttkit_client_new(o, &client));
        mqttkit_client_options_free(o);
        if (wrong) {
            CHECK(mqttkit_client_connect_sync(client, 10000, NULL) != MQTTKIT_RESULT_OK);
            mqttkit_client_free(client);
            continue;
        }
        inbox_t inbox = {0};
        waiter_init(&inbox.w);
        CHECK_OK(mqttkit_client_set_message_callback(client, on_message, &inbox));
        CHECK_OK(mqttkit_client_connect_sync(client, 10000, NULL));
        uint8_t reason = 0xFF;
        CHECK_OK(mqttkit_client_auth_sync(client, true, NULL, NULL, 0, 10000, &reason));
        CHECK(reason == 0x00);
        done_t done = {0};
        waiter_init(&done.w);
        CHECK_OK(mqttkit_client_auth(client, true, NULL, NULL, 0, MQTTKIT_NO_TIMEOUT, on_done, &done));
        CHECK(WAIT_FOR(&done.w, 10000, done.completions == 1));
        CHECK_RESULT(done.result, MQTTKIT_RESULT_OK);
        CHECK(done.reason == 0x00);
        /* The automatic subscription is in place (No Local: our own message stays away, the
         * second client's arrives). */
        CHECK_OK(mqttkit_client_publish_sync(client, "scram/own", (const uint8_t *)"x", 1, 1, false, NULL, 10000, NULL));
        mqttkit_client_options_t *po = mqttkit_client_options_new(url);
        CHECK_OK(mqttkit_client_options_set_credentials(po, "carol", (const uint8_t *)"s3cret", 6));
        mqttkit_client_t *publisher = NULL;
        CHECK_OK(mqttkit_client_new(po, &publisher));
        mqttkit_client_options_free(po);
        CHECK_OK(mqttkit_client_connect_sync(publisher, 10000, NULL));
        CHECK_OK(mqttkit_client_publish_sync(publisher, "scram/other", (const uint8_t *)"y", 1, 1, false, NULL, 10000, NULL));
        CHECK(WAIT_FOR(&inbox.w, 10000, inbox.messages >= 1));
        mqttkit_client_free(publisher);
        mqttkit_client_free(client);
        CHECK(inbox.messages == 1);
        waiter_destroy(&done.w);
        waiter_destroy(&inbox.w);
    }
    mqttkit_broker_free(broker);
    CHECK_OK(mqttkit_wait_idle(10000));
}
#else
static void test_broker_is_unsupported_in_this_build(void) {
    mqttkit_broker_config_t *config = NULL;
    CHECK_RESULT(mqttkit_broker_config_new(&config), MQTTKIT_RESULT_UNSUPPORTED);
    CHECK(config == NULL);
    /* The setters cannot get a configuration in this build; a fake pointer is never read. */
    CHECK_RESULT(mqttkit_broker_config_set_max_connections((mqttkit_broker_config_t *)&config, 1),
                 MQTTKIT_RESULT_UNSUPPORTED);
}
#endif

static void test_broker_null_arguments(void) {
    mqttkit_broker_t *broker = NULL;
    CHECK_RESULT(mqttkit_broker_config_new(NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_from_toml(NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_listener(NULL, "127.0.0.1:0"), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_add_listener(NULL, "127.0.0.1:0"), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_max_connections(NULL, 1), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_max_packet_size(NULL, 100), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_receive_maximum(NULL, 1), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_max_inflight(NULL, 1), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_max_queued(NULL, 1, 1), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_max_retained_messages(NULL, 1), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_max_expiry(NULL, 1, 1), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_keep_alive_bounds(NULL, 1, 2), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_rate_limits(NULL, 1, 2, 3), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_topic_alias_maximum(NULL, 1), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_connect_timeout(NULL, 1), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_max_client_id_len(NULL, 1), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_maximum_qos(NULL, 1), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_features(NULL, true, true, true, true), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_response_information_prefix(NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_allow_anonymous(NULL, true), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_add_user(NULL, "u", "p"), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_add_user((mqttkit_broker_config_t *)&broker, NULL, "p"), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_config_set_storage(NULL, 0, NULL, 0), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_start(NULL, &broker), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_stats(NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_broker_reload_auth(NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK(mqttkit_broker_port(NULL, 0) == 0);
    mqttkit_broker_free(NULL);
    mqttkit_broker_config_free(NULL);
    (void)on_message;
}

int main(void) {
#ifdef MQTTKIT_TEST_BROKER
    RUN(test_embedded_broker_serves_a_client);
    RUN(test_broker_configuration_errors);
    RUN(test_broker_config_setters);
    RUN(test_broker_config_setter_errors);
    RUN(test_broker_acl_from_toml);
    RUN(test_broker_reload_auth);
    RUN(test_broker_durable_storage_survives_a_restart);
    RUN(test_scram_reauthentication_and_auto_subscription);
#else
    RUN(test_broker_is_unsupported_in_this_build);
#endif
    RUN(test_broker_null_arguments);
    return harness_summary();
}

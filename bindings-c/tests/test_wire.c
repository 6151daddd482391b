/* What libmqttkit puts on the wire and reads from it, checked against the fake server of
 * harness.h (Mosquitto does not show these to another client): every CONNECT option, the
 * MQTT 5 properties of subscribe, unsubscribe and disconnect, the DUP flag of a received
 * message, and AUTH in its fire-and-forget form, continued from inside the auth callback. */
#include "harness.h"

static int g_timeout_ms = 10000;

#define SAW(server, type, ...)                                                             \
    __extension__({                                                                        \
        static const unsigned char needle_[] = {__VA_ARGS__};                              \
        fake_server_saw((server), (type), needle_, sizeof needle_);                        \
    })

static mqttkit_client_t *connect_to(fake_server_t *server, mqttkit_client_options_t *o) {
    CHECK_OK(mqttkit_client_options_set_reconnect(o, false, 1000, 30000, 2.0, 0.2, 0));
    mqttkit_client_t *client = NULL;
    CHECK_OK(mqttkit_client_new(o, &client));
    mqttkit_client_options_free(o);
    CHECK_OK(mqttkit_client_connect_sync(client, (uint32_t)g_timeout_ms, NULL));
    CHECK(WAIT_FOR(&server->w, g_timeout_ms, server->count[1] >= 1));
    return client;
}

static mqttkit_client_options_t *options_for(fake_server_t *server) {
    char url[64];
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%d", server->port);
    return mqttkit_client_options_new(url);
}

static void test_every_connect_option_reaches_the_connect_packet(void) {
    fake_server_t server;
    CHECK(fake_server_start(&server) == 0);
    mqttkit_client_options_t *o = options_for(&server);
    CHECK_OK(mqttkit_client_options_set_client_id(o, "wire-c"));
    CHECK_OK(mqttkit_client_options_set_clean_start(o, false));
    CHECK_OK(mqttkit_client_options_set_keep_alive(o, 17));
    CHECK_OK(mqttkit_client_options_set_credentials(o, "user", (const uint8_t *)"pw", 2));
    CHECK_OK(mqttkit_client_options_set_session_expiry_interval(o, 300));
    CHECK_OK(mqttkit_client_options_set_receive_maximum(o, 33));
    CHECK_OK(mqttkit_client_options_set_maximum_packet_size(o, 65000));
    CHECK_OK(mqttkit_client_options_set_topic_alias_maximum(o, 7));
    CHECK_OK(mqttkit_client_options_set_request_response_information(o, true));
    CHECK_OK(mqttkit_client_options_set_request_problem_information(o, false));
    CHECK_OK(mqttkit_client_options_add_user_property(o, "k", "v"));
    CHECK_OK(mqttkit_client_options_set_will(o, "will/t", (const uint8_t *)"bye", 3, 1, true));
    CHECK_OK(mqttkit_client_options_set_will_delay_interval(o, 5));
    CHECK_OK(mqttkit_client_options_set_will_message_expiry(o, 60));
    CHECK_OK(mqttkit_client_options_set_will_content_type(o, "text/plain"));
    CHECK_OK(mqttkit_client_options_set_will_response_topic(o, "will/r"));
    CHECK_OK(mqttkit_client_options_set_will_correlation_data(o, (const uint8_t *)"c", 1));
    CHECK_OK(mqttkit_client_options_set_will_payload_utf8(o, true));
    CHECK_OK(mqttkit_client_options_add_will_user_property(o, "wk", "wv"));
    mqttkit_subscription_t auto_sub = {.filter = "auto/a", .qos = 1, .no_local = true, .retain_as_published = true,
                                       .retain_handling = 2};
    CHECK_OK(mqttkit_client_options_add_auto_subscription(o, &auto_sub));
    mqttkit_client_t *client = connect_to(&server, o);

    /* Protocol name, version 5, flags (user name, password, will retain, will QoS 1, will;
     * no clean start), keep alive 17. */
    CHECK(SAW(&server, 1, 0, 4, 'M', 'Q', 'T', 'T', 5, 0xEC, 0, 17));
    CHECK(SAW(&server, 1, 0x11, 0, 0, 0x01, 0x2C));       /* Session Expiry Interval 300 */
    CHECK(SAW(&server, 1, 0x21, 0, 33));                  /* Receive Maximum */
    CHECK(SAW(&server, 1, 0x27, 0, 0, 0xFD, 0xE8));       /* Maximum Packet Size 65000 */
    CHECK(SAW(&server, 1, 0x22, 0, 7));                   /* Topic Alias Maximum */
    CHECK(SAW(&server, 1, 0x19, 1));                      /* Request Response Information */
    CHECK(SAW(&server, 1, 0x17, 0));                      /* Request Problem Information */
    CHECK(SAW(&server, 1, 0x26, 0, 1, 'k', 0, 1, 'v'));   /* User Property */
    CHECK(SAW(&server, 1, 0, 6, 'w', 'i', 'r', 'e', '-', 'c'));
    CHECK(SAW(&server, 1, 0x18, 0, 0, 0, 5));             /* Will Delay Interval */
    CHECK(SAW(&server, 1, 0x02, 0, 0, 0, 60));            /* Message Expiry Interval */
    CHECK(SAW(&server, 1, 0x03, 0, 10, 't', 'e', 'x', 't', '/', 'p', 'l', 'a', 'i', 'n'));
    CHECK(SAW(&server, 1, 0x08, 0, 6, 'w', 'i', 'l', 'l', '/', 'r'));
    CHECK(SAW(&server, 1, 0x09, 0, 1, 'c'));
    CHECK(SAW(&server, 1, 0x01, 1));                      /* Payload Format Indicator */
    CHECK(SAW(&server, 1, 0x26, 0, 2, 'w', 'k', 0, 2, 'w', 'v'));
    CHECK(SAW(&server, 1, 0, 6, 'w', 'i', 'l', 'l', '/', 't', 0, 3, 'b', 'y', 'e'));
    CHECK(SAW(&server, 1, 0, 4, 'u', 's', 'e', 'r', 0, 2, 'p', 'w'));
    /* The automatic subscription, with QoS 1, No Local, Retain As Published, Retain
     * Handling 2. */
    CHECK(WAIT_FOR(&server.w, g_timeout_ms, server.count[8] == 1));
    CHECK(SAW(&server, 8, 0, 6, 'a', 'u', 't', 'o', '/', 'a', 0x2D));
    mqttkit_client_free(client);
    fake_server_stop(&server);
}

static void test_call_properties_reach_the_wire(void) {
    fake_server_t server;
    CHECK(fake_server_start(&server) == 0);
    mqttkit_client_options_t *o = options_for(&server);
    CHECK_OK(mqttkit_client_options_set_session_expiry_interval(o, 60));
    mqttkit_client_t *client = connect_to(&server, o);

    mqttkit_subscribe_options_t *so = mqttkit_subscribe_options_new();
    CHECK_OK(mqttkit_subscribe_options_set_subscription_identifier(so, 7));
    CHECK_OK(mqttkit_subscribe_options_add_user_property(so, "sub", "one"));
    mqttkit_subscription_t sub = {.filter = "w/a", .qos = 1, .no_local = true, .retain_as_published = true,
                                  .retain_handling = 1};
    CHECK_OK(mqttkit_client_subscribe_many(client, &sub, 1, so, 0, NULL, NULL));
    mqttkit_subscribe_options_free(so);
    CHECK(WAIT_FOR(&server.w, g_timeout_ms, server.count[8] == 1));
    CHECK(SAW(&server, 8, 0x0B, 7));
    CHECK(SAW(&server, 8, 0x26, 0, 3, 's', 'u', 'b', 0, 3, 'o', 'n', 'e'));
    CHECK(SAW(&server, 8, 0, 3, 'w', '/', 'a', 0x1D));

    mqttkit_unsubscribe_options_t *uo = mqttkit_unsubscribe_options_new();
    CHECK_OK(mqttkit_unsubscribe_options_add_user_property(uo, "unsub", "two"));
    const char *filters[] = {"w/a"};
    CHECK_OK(mqttkit_client_unsubscribe_many(client, filters, 1, uo, 0, NULL, NULL));
    mqttkit_unsubscribe_options_free(uo);
    CHECK(WAIT_FOR(&server.w, g_timeout_ms, server.count[10] == 1));
    CHECK(SAW(&server, 10, 0x26, 0, 5, 'u', 'n', 's', 'u', 'b', 0, 3, 't', 'w', 'o'));
    CHECK(SAW(&server, 10, 0, 3, 'w', '/', 'a'));

    mqttkit_disconnect_options_t *d = mqttkit_disconnect_options_new();
    CHECK_OK(mqttkit_disconnect_options_set_session_expiry_interval(d, 0));
    CHECK_OK(mqttkit_disconnect_options_set_reason_string(d, "bye"));
    CHECK_OK(mqttkit_disconnect_options_add_user_property(d, "why", "test"));
    CHECK_OK(mqttkit_client_disconnect_with_reason_sync(client, 0x04, d, (uint32_t)g_timeout_ms));
    mqttkit_disconnect_options_free(d);
    CHECK(WAIT_FOR(&server.w, g_timeout_ms, server.count[14] == 1));
    pthread_mutex_lock(&server.w.lock);
    CHECK(server.last_len[14] > 0 && server.last[14][0] == 0x04);
    pthread_mutex_unlock(&server.w.lock);
    CHECK(SAW(&server, 14, 0x11, 0, 0, 0, 0));
    CHECK(SAW(&server, 14, 0x1F, 0, 3, 'b', 'y', 'e'));
    CHECK(SAW(&server, 14, 0x26, 0, 3, 'w', 'h', 'y', 0, 4, 't', 'e', 's', 't'));
    mqttkit_client_free(client);
    fake_server_stop(&server);
}

typedef struct {
    waiter_t w;
    int messages;
    bool dup[2];
    int qos[2];
    uint16_t packet_id[2];
    int auth_events;
    uint8_t auth_reason[2];
    char auth_data[2][16];
    mqttkit_client_t *client;
    mqttkit_result continued;
} seen_t;

static void on_message(void *ud, const mqttkit_message_t *m) {
    seen_t *s = ud;
    pthread_mutex_lock(&s->w.lock);
    if (s->messages < 2 && strcmp(mqttkit_message_topic(m), "dup/t") == 0) {
        s->dup[s->messages] = mqttkit_message_dup(m);
        s->qos[s->messages] = mqttkit_message_qos(m);
        s->packet_id[s->messages] = mqttkit_message_packet_id(m);
        s->messages++;
    }
    pthread_cond_broadcast(&s->w.changed);
    pthread_mutex_unlock(&s->w.lock);
}

static void test_received_dup_flag(void) {
    fake_server_t server;
    CHECK(fake_server_start(&server) == 0);
    server.publish_dup = 1;
    seen_t seen;
    memset(&seen, 0, sizeof seen);
    waiter_init(&seen.w);
    mqttkit_client_t *client = connect_to(&server, options_for(&server));
    CHECK_OK(mqttkit_client_set_message_callback(client, on_message, &seen));
    CHECK_OK(mqttkit_client_subscribe(client, "dup/t", 1, 0, NULL, NULL));
    CHECK(WAIT_FOR(&seen.w, g_timeout_ms, seen.messages == 2));
    /* First the message, then it again flagged DUP (a redelivery under a new packet id). */
    CHECK(!seen.dup[0] && seen.qos[0] == 1 && seen.packet_id[0] == 1);
    CHECK(seen.dup[1] && seen.qos[1] == 1 && seen.packet_id[1] == 2);
    CHECK(!mqttkit_message_dup(NULL));
    CHECK(WAIT_FOR(&server.w, g_timeout_ms, server.count[4] == 2)); /* both acknowledged */
    mqttkit_client_free(client);
    fake_server_stop(&server);
    waiter_destroy(&seen.w);
}

/* The auth callback answers the server's AUTH Continue with AUTH Continue, fire-and-forget. */
static void on_auth(void *ud, uint8_t reason, const char *method, const uint8_t *data, size_t len) {
    seen_t *s = ud;
    (void)method;
    pthread_mutex_lock(&s->w.lock);
    int n = s->auth_events;
    if (n < 2) {
        s->auth_reason[n] = reason;
        snprintf(s->auth_data[n], sizeof s->auth_data[n], "%.*s", (int)len, (const char *)data);
    }
    s->auth_events++;
    mqttkit_client_t *client = s->client;
    pthread_mutex_unlock(&s->w.lock);
    mqttkit_result r = MQTTKIT_RESULT_OK;
    if (reason == 0x18) r = mqttkit_client_auth(client, false, "X", (const uint8_t *)"answer", 6, 0, NULL, NULL);
    pthread_mutex_lock(&s->w.lock);
    if (reason == 0x18) s->continued = r;
    pthread_cond_broadcast(&s->w.changed);
    pthread_mutex_unlock(&s->w.lock);
}

static void test_fire_and_forget_auth_continued_from_the_auth_callback(void) {
    fake_server_t server;
    CHECK(fake_server_start(&server) == 0);
    seen_t seen;
    memset(&seen, 0, sizeof seen);
    waiter_init(&seen.w);
    seen.continued = MQTTKIT_RESULT_INTERNAL;
    mqttkit_client_t *client = connect_to(&server, options_for(&server));
    seen.client = client;
    CHECK_OK(mqttkit_client_set_auth_callback(client, on_auth, &seen));
    CHECK_OK(mqttkit_client_auth(client, true, "X", (const uint8_t *)"go", 2, 0, NULL, NULL));
    CHECK(WAIT_FOR(&seen.w, g_timeout_ms, seen.auth_events == 2));
    CHECK_RESULT(seen.continued, MQTTKIT_RESULT_OK);
    CHECK(seen.auth_reason[0] == 0x18 && strcmp(seen.auth_data[0], "hi") == 0);
    CHECK(seen.auth_reason[1] == 0x00);
    CHECK(WAIT_FOR(&server.w, g_timeout_ms, server.count[15] == 2));
    pthread_mutex_lock(&server.w.lock);
    CHECK(server.last[15][0] == 0x18); /* the last AUTH sent: Continue ... */
    pthread_mutex_unlock(&server.w.lock);
    CHECK(SAW(&server, 15, 0x16, 0, 6, 'a', 'n', 's', 'w', 'e', 'r')); /* ... with our data */
    mqttkit_client_free(client);
    fake_server_stop(&server);
    waiter_destroy(&seen.w);
}

int main(void) {
    if (getenv("MQTTKIT_TEST_SLOW")) g_timeout_ms = 30000;
    RUN(test_every_connect_option_reaches_the_connect_packet);
    RUN(test_call_properties_reach_the_wire);
    RUN(test_received_dup_flag);
    RUN(test_fire_and_forget_auth_continued_from_the_auth_callback);
    CHECK_OK(mqttkit_wait_idle(1000));
    return harness_summary();
}

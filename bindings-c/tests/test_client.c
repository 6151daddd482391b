/* libmqttkit against a private Mosquitto: every operation in its asynchronous and blocking
 * form, every event Mosquitto can produce, message accessors, manual acknowledgement, calls
 * from inside callbacks (including disconnect and free), error codes. */
#include "harness.h"

static mosquitto_t g_broker;
static int g_timeout_ms = 10000;

/* Everything callbacks record, under w.lock. */
typedef struct {
    waiter_t w;
    int connected, disconnected, messages, published, subscribed, unsubscribed, pings, errors,
        lost, reconnects, completions;
    bool session_present;
    uint8_t disconnect_reason;
    mqttkit_result last_error;
    mqttkit_completion_t last; /* pointers inside are not kept */
    char last_message_text[256];
    char topic[128];
    char payload[256];
    size_t payload_len;
    int qos;
    bool retain;
    char content_type[64];
    char response_topic[64];
    char correlation[64];
    int payload_format;
    uint32_t expiry;
    bool has_expiry;
    char user_props[256];
    uint8_t granted[4];
    size_t granted_len;
    mqttkit_message_t *kept; /* a copy, for manual ack */
    /* reentrancy test */
    mqttkit_client_t *client;
    int reply_mode; /* 1: publish from callback, 2: sync calls, 3: disconnect, 4: free */
    mqttkit_result inner_result;
    bool freed_in_callback;
} ctx_t;

static void ctx_init(ctx_t *c) {
    memset(c, 0, sizeof *c);
    waiter_init(&c->w);
}

static void ctx_destroy(ctx_t *c) {
    mqttkit_message_free(c->kept);
    waiter_destroy(&c->w);
}

#define LOCKED(c, stmt)                                                                    \
    do {                                                                                   \
        pthread_mutex_lock(&(c)->w.lock);                                                  \
        stmt;                                                                              \
        pthread_cond_broadcast(&(c)->w.changed);                                           \
        pthread_mutex_unlock(&(c)->w.lock);                                                \
    } while (0)

static void on_connected(void *ud, bool session_present, const char *assigned) {
    ctx_t *c = ud;
    (void)assigned;
    LOCKED(c, { c->connected++; c->session_present = session_present; });
}

static void on_disconnected(void *ud, uint8_t reason, bool by_server) {
    ctx_t *c = ud;
    (void)by_server;
    LOCKED(c, { c->disconnected++; c->disconnect_reason = reason; });
}

static void copy_text(char *dst, size_t cap, const char *src, size_t len) {
    if (!src) { dst[0] = 0; return; }
    if (len >= cap) len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = 0;
}

static void on_message(void *ud, const mqttkit_message_t *m);

static void on_published(void *ud, uint16_t packet_id, uint8_t reason) {
    ctx_t *c = ud;
    (void)packet_id;
    LOCKED(c, { c->published++; c->last.reason_code = reason; });
}

static void on_subscribed(void *ud, uint16_t packet_id, const uint8_t *codes, size_t n) {
    ctx_t *c = ud;
    (void)packet_id;
    LOCKED(c, {
        c->subscribed++;
        c->granted_len = n < 4 ? n : 4;
        memcpy(c->granted, codes, c->granted_len);
    });
}

static void on_unsubscribed(void *ud, uint16_t packet_id, const uint8_t *codes, size_t n) {
    ctx_t *c = ud;
    (void)packet_id; (void)codes; (void)n;
    LOCKED(c, c->unsubscribed++);
}

static void on_ping(void *ud, uint64_t rtt) {
    ctx_t *c = ud;
    (void)rtt;
    LOCKED(c, c->pings++);
}

static void on_error(void *ud, mqttkit_result r, const char *msg) {
    ctx_t *c = ud;
    LOCKED(c, {
        c->errors++;
        c->last_error = r;
        snprintf(c->last_message_text, sizeof c->last_message_text, "%s", msg);
    });
}

static void on_lost(void *ud, mqttkit_result r, const char *msg) {
    ctx_t *c = ud;
    (void)msg;
    LOCKED(c, { c->lost++; c->last_error = r; });
}

static void on_reconnect(void *ud, uint32_t attempt, uint64_t delay_ms) {
    ctx_t *c = ud;
    (void)attempt; (void)delay_ms;
    LOCKED(c, c->reconnects++);
}

static void on_completion(void *ud, const mqttkit_completion_t *done) {
    ctx_t *c = ud;
    LOCKED(c, {
        c->completions++;
        c->last = *done;
        c->last.reason_codes = NULL;
        c->last.message = NULL;
        snprintf(c->last_message_text, sizeof c->last_message_text, "%s", done->message);
        if (done->reason_codes_len > 0) {
            c->granted_len = done->reason_codes_len < 4 ? done->reason_codes_len : 4;
            memcpy(c->granted, done->reason_codes, c->granted_len);
        }
    });
}

static void on_message(void *ud, const mqttkit_message_t *m) {
    ctx_t *c = ud;
    size_t len = 0;
    const uint8_t *payload = mqttkit_message_payload(m, &len);
    pthread_mutex_lock(&c->w.lock);
    c->messages++;
    snprintf(c->topic, sizeof c->topic, "%s", mqttkit_message_topic(m));
    copy_text(c->payload, sizeof c->payload, (const char *)payload, len);
    c->payload_len = len;
    c->qos = mqttkit_message_qos(m);
    c->retain = mqttkit_message_retain(m);
    const char *s = mqttkit_message_content_type(m, &len);
    copy_text(c->content_type, sizeof c->content_type, s, len);
    s = mqttkit_message_response_topic(m, &len);
    copy_text(c->response_topic, sizeof c->response_topic, s, len);
    s = (const char *)mqttkit_message_correlation_data(m, &len);
    copy_text(c->correlation, sizeof c->correlation, s, len);
    c->payload_format = mqttkit_message_payload_format(m);
    c->has_expiry = mqttkit_message_expiry(m, &c->expiry);
    c->user_props[0] = 0;
    for (size_t i = 0; i < mqttkit_message_user_property_count(m); i++) {
        const char *name, *value;
        size_t nl, vl;
        if (mqttkit_message_user_property(m, i, &name, &nl, &value, &vl) == MQTTKIT_RESULT_OK) {
            size_t used = strlen(c->user_props);
            snprintf(c->user_props + used, sizeof c->user_props - used, "%.*s=%.*s;", (int)nl, name,
                     (int)vl, value);
        }
    }
    if (mqttkit_message_needs_ack(m) && !c->kept) c->kept = mqttkit_message_copy(m);
    int mode = c->reply_mode;
    mqttkit_client_t *client = c->client;
    pthread_mutex_unlock(&c->w.lock);

    /* Calls from inside the callback (no lock held). */
    mqttkit_result r = MQTTKIT_RESULT_OK;
    if (mode == 1 && strcmp(mqttkit_message_topic(m), "reentrant/request") == 0) {
        r = mqttkit_client_publish(client, "reentrant/reply", (const uint8_t *)"pong", 4, 1, false, NULL, 0,
                                   on_completion, c);
    } else if (mode == 2) {
        r = mqttkit_client_publish_sync(client, "reentrant/sync", (const uint8_t *)"x", 1, 1, false, NULL,
                                        g_timeout_ms, NULL);
        if (r == MQTTKIT_RESULT_OK) r = mqttkit_client_ping_sync(client, g_timeout_ms, NULL);
        if (r == MQTTKIT_RESULT_OK) r = mqttkit_client_unsubscribe_sync(client, "reentrant/#", g_timeout_ms);
    } else if (mode == 3) {
        r = mqttkit_client_disconnect_sync(client, g_timeout_ms);
    } else if (mode == 4) {
        mqttkit_client_free(client);
        pthread_mutex_lock(&c->w.lock);
        c->freed_in_callback = true;
        c->client = NULL;
        pthread_mutex_unlock(&c->w.lock);
    }
    LOCKED(c, { if (mode) { c->inner_result = r; c->reply_mode = 0; } });
}

static mqttkit_client_t *make_client(ctx_t *c, const char *id, int version, bool auto_ack) {
    mqttkit_client_options_t *o = mqttkit_client_options_new(g_broker.url);
    CHECK_OK(mqttkit_client_options_set_client_id(o, id));
    CHECK_OK(mqttkit_client_options_set_protocol_version(o, (uint8_t)version));
    CHECK_OK(mqttkit_client_options_set_auto_ack(o, auto_ack));
    CHECK_OK(mqttkit_client_options_set_reconnect(o, true, 50, 200, 2.0, 0.0, 0));
    mqttkit_client_t *client = NULL;
    CHECK_OK(mqttkit_client_new(o, &client));
    mqttkit_client_options_free(o);
    if (!client) return NULL;
    CHECK_OK(mqttkit_client_set_connected_callback(client, on_connected, c));
    CHECK_OK(mqttkit_client_set_disconnected_callback(client, on_disconnected, c));
    CHECK_OK(mqttkit_client_set_message_callback(client, on_message, c));
    CHECK_OK(mqttkit_client_set_published_callback(client, on_published, c));
    CHECK_OK(mqttkit_client_set_subscribed_callback(client, on_subscribed, c));
    CHECK_OK(mqttkit_client_set_unsubscribed_callback(client, on_unsubscribed, c));
    CHECK_OK(mqttkit_client_set_ping_callback(client, on_ping, c));
    CHECK_OK(mqttkit_client_set_error_callback(client, on_error, c));
    CHECK_OK(mqttkit_client_set_connection_lost_callback(client, on_lost, c));
    CHECK_OK(mqttkit_client_set_reconnect_callback(client, on_reconnect, c));
    CHECK_OK(mqttkit_client_set_pending_cleared_callback(client, NULL, NULL));
    CHECK_OK(mqttkit_client_set_auth_callback(client, NULL, NULL));
    CHECK_OK(mqttkit_client_set_peer_certificate_callback(client, NULL, NULL));
    c->client = client;
    return client;
}

/* Waits for the next completion and checks its result. */
#define EXPECT_COMPLETION(c, n, expected)                                                  \
    do {                                                                                   \
        int want_ = (n);                                                                   \
        CHECK(WAIT_FOR(&(c)->w, g_timeout_ms, (c)->completions >= want_));                 \
        CHECK_RESULT((c)->last.result, expected);                                          \
    } while (0)

static void test_sync_operations_and_events(void) {
    ctx_t c;
    ctx_init(&c);
    mqttkit_client_t *client = make_client(&c, "c-sync", 5, true);
    bool session_present = true;
    CHECK_OK(mqttkit_client_connect_sync(client, g_timeout_ms, &session_present));
    CHECK(!session_present);
    CHECK(mqttkit_client_is_connected(client));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.connected == 1));
    CHECK_RESULT(mqttkit_client_connect_sync(client, g_timeout_ms, NULL), MQTTKIT_RESULT_ALREADY_CONNECTED);

    uint8_t granted = 9;
    CHECK_OK(mqttkit_client_subscribe_sync(client, "sync/#", 2, g_timeout_ms, &granted));
    CHECK(granted == 2);
    uint16_t packet_id = 0;
    for (int qos = 0; qos <= 2; qos++) {
        char text[16];
        snprintf(text, sizeof text, "qos%d", qos);
        CHECK_OK(mqttkit_client_publish_sync(client, "sync/a", (const uint8_t *)text, strlen(text), qos, false,
                                             NULL, g_timeout_ms, &packet_id));
        CHECK(qos == 0 ? packet_id == 0 : packet_id > 0);
        CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.messages == qos + 1));
        pthread_mutex_lock(&c.w.lock);
        CHECK(strcmp(c.topic, "sync/a") == 0);
        CHECK(strcmp(c.payload, text) == 0);
        CHECK(c.qos == qos);
        CHECK(!c.retain);
        pthread_mutex_unlock(&c.w.lock);
    }
    /* Empty payload with a NULL pointer. */
    CHECK_OK(mqttkit_client_publish_sync(client, "sync/empty", NULL, 0, 1, false, NULL, g_timeout_ms, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.messages == 4 && c.payload_len == 0));
    uint64_t rtt = 0;
    CHECK_OK(mqttkit_client_ping_sync(client, g_timeout_ms, &rtt));
    CHECK_OK(mqttkit_client_ping_sync(client, 0, NULL));
    CHECK_OK(mqttkit_client_ping_sync(client, MQTTKIT_NO_TIMEOUT, NULL));
    CHECK_OK(mqttkit_client_unsubscribe_sync(client, "sync/#", g_timeout_ms));
    CHECK_OK(mqttkit_client_disconnect_sync(client, g_timeout_ms));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.disconnected == 1));
    CHECK(!mqttkit_client_is_connected(client));
    /* The client can connect again. */
    CHECK_OK(mqttkit_client_connect_sync(client, 0, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.connected == 2));
    mqttkit_client_free(client);
    CHECK(c.errors == 0);
    ctx_destroy(&c);
}

static void test_async_operations_with_completions(void) {
    ctx_t c;
    ctx_init(&c);
    mqttkit_client_t *client = make_client(&c, "c-async", 5, true);
    int n = 0;
    CHECK_OK(mqttkit_client_connect(client, 0, on_completion, &c));
    EXPECT_COMPLETION(&c, ++n, MQTTKIT_RESULT_OK);
    CHECK(!c.last.session_present);
    CHECK(c.last.reason_code == 0);
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.connected == 1));

    CHECK_OK(mqttkit_client_subscribe(client, "async/#", 1, 0, on_completion, &c));
    EXPECT_COMPLETION(&c, ++n, MQTTKIT_RESULT_OK);
    CHECK(c.last.packet_id > 0);
    CHECK(c.last.reason_codes_len == 1 && c.granted[0] == 1);

    for (int qos = 0; qos <= 2; qos++) {
        CHECK_OK(mqttkit_client_publish(client, "async/x", (const uint8_t *)"hi", 2, qos, false, NULL, 0,
                                        on_completion, &c));
        EXPECT_COMPLETION(&c, ++n, MQTTKIT_RESULT_OK);
        CHECK(qos == 0 ? c.last.packet_id == 0 : c.last.packet_id > 0);
        CHECK(c.last.reason_code == 0);
        CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.messages == qos + 1));
    }
    CHECK(c.qos == 1); /* QoS 2 publication, subscription granted QoS 1 */

    CHECK_OK(mqttkit_client_ping(client, 0, on_completion, &c));
    EXPECT_COMPLETION(&c, ++n, MQTTKIT_RESULT_OK);
    CHECK_OK(mqttkit_client_unsubscribe(client, "async/#", 0, on_completion, &c));
    EXPECT_COMPLETION(&c, ++n, MQTTKIT_RESULT_OK);
    CHECK(c.last.packet_id > 0);

    /* An argument error is returned directly and the callback never runs. */
    CHECK_RESULT(mqttkit_client_subscribe(client, "bad/#/filter", 0, 0, on_completion, &c),
                 MQTTKIT_RESULT_INVALID_ARGUMENT);

    CHECK_OK(mqttkit_client_disconnect(client, 0, on_completion, &c));
    EXPECT_COMPLETION(&c, ++n, MQTTKIT_RESULT_OK);
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.disconnected == 1));
    mqttkit_client_free(client);
    CHECK(c.completions == n);
    ctx_destroy(&c);
}

static void test_fire_and_forget_operations_report_events(void) {
    ctx_t c;
    ctx_init(&c);
    mqttkit_client_t *client = make_client(&c, "c-nowait", 5, true);
    CHECK_OK(mqttkit_client_connect(client, 0, NULL, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.connected == 1));
    CHECK_OK(mqttkit_client_subscribe(client, "nowait/#", 2, 0, NULL, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.subscribed == 1));
    CHECK(c.granted_len == 1 && c.granted[0] == 2);
    for (int i = 0; i < 10; i++)
        CHECK_OK(mqttkit_client_publish(client, "nowait/m", (const uint8_t *)"x", 1, 1, false, NULL, 0, NULL, NULL));
    CHECK_OK(mqttkit_client_publish(client, "nowait/m", (const uint8_t *)"x", 1, 0, false, NULL, 0, NULL, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.published == 10 && c.messages == 11));
    CHECK_OK(mqttkit_client_ping(client, 0, NULL, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.pings == 1));
    CHECK_OK(mqttkit_client_unsubscribe(client, "nowait/#", 0, NULL, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.unsubscribed == 1));
    CHECK_OK(mqttkit_client_disconnect(client, 0, NULL, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.disconnected == 1));
    CHECK(c.disconnect_reason == 0);
    mqttkit_client_free(client);
    ctx_destroy(&c);
}

static void test_mqtt5_properties_and_retain(void) {
    ctx_t c;
    ctx_init(&c);
    mqttkit_client_t *client = make_client(&c, "c-props", 5, true);
    CHECK_OK(mqttkit_client_connect_sync(client, g_timeout_ms, NULL));
    mqttkit_publish_options_t *p = mqttkit_publish_options_new();
    CHECK_OK(mqttkit_publish_options_set_content_type(p, "text/plain"));
    CHECK_OK(mqttkit_publish_options_set_response_topic(p, "props/reply"));
    CHECK_OK(mqttkit_publish_options_set_correlation_data(p, (const uint8_t *)"corr-1", 6));
    CHECK_OK(mqttkit_publish_options_set_message_expiry(p, 3600));
    CHECK_OK(mqttkit_publish_options_set_payload_utf8(p, true));
    CHECK_OK(mqttkit_publish_options_add_user_property(p, "k1", "v1"));
    CHECK_OK(mqttkit_publish_options_add_user_property(p, "k2", "v2"));
    /* Retained: published before the subscription exists. */
    CHECK_OK(mqttkit_client_publish_sync(client, "props/retained", (const uint8_t *)"kept", 4, 1, true, p,
                                         g_timeout_ms, NULL));
    mqttkit_publish_options_free(p);
    CHECK_OK(mqttkit_client_subscribe_sync(client, "props/#", 1, g_timeout_ms, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.messages == 1));
    pthread_mutex_lock(&c.w.lock);
    CHECK(strcmp(c.topic, "props/retained") == 0);
    CHECK(strcmp(c.payload, "kept") == 0);
    CHECK(c.retain);
    CHECK(strcmp(c.content_type, "text/plain") == 0);
    CHECK(strcmp(c.response_topic, "props/reply") == 0);
    CHECK(strcmp(c.correlation, "corr-1") == 0);
    CHECK(c.payload_format == 1);
    CHECK(c.has_expiry && c.expiry > 3500 && c.expiry <= 3600);
    CHECK(strcmp(c.user_props, "k1=v1;k2=v2;") == 0);
    pthread_mutex_unlock(&c.w.lock);
    /* Clear the retained message. */
    CHECK_OK(mqttkit_client_publish_sync(client, "props/retained", NULL, 0, 1, true, NULL, g_timeout_ms, NULL));
    mqttkit_client_free(client);
    ctx_destroy(&c);
}

static void test_manual_ack_and_message_copy(void) {
    ctx_t c;
    ctx_init(&c);
    mqttkit_client_t *client = make_client(&c, "c-ack", 5, false);
    CHECK_OK(mqttkit_client_connect_sync(client, g_timeout_ms, NULL));
    CHECK_OK(mqttkit_client_subscribe_sync(client, "ack/#", 1, g_timeout_ms, NULL));
    CHECK_OK(mqttkit_client_publish_sync(client, "ack/1", (const uint8_t *)"a", 1, 1, false, NULL, g_timeout_ms, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.messages == 1 && c.kept != NULL));
    pthread_mutex_lock(&c.w.lock);
    mqttkit_message_t *kept = c.kept;
    c.kept = NULL;
    pthread_mutex_unlock(&c.w.lock);
    if (kept) {
        CHECK(strcmp(mqttkit_message_topic(kept), "ack/1") == 0);
        CHECK(mqttkit_message_needs_ack(kept));
        CHECK(mqttkit_message_packet_id(kept) > 0);
        CHECK_RESULT(mqttkit_message_user_property(kept, 5, NULL, NULL, NULL, NULL), MQTTKIT_RESULT_INVALID_ARGUMENT);
        CHECK_OK(mqttkit_message_ack(kept)); /* from the test thread, after the callback */
        mqttkit_message_free(kept);
    }
    /* The connection keeps working after the manual ack. */
    CHECK_OK(mqttkit_client_ping_sync(client, g_timeout_ms, NULL));
    mqttkit_client_free(client);
    ctx_destroy(&c);
}

static void test_calls_from_inside_callbacks(void) {
    ctx_t c;
    ctx_init(&c);
    mqttkit_client_t *client = make_client(&c, "c-reentrant", 5, true);
    CHECK_OK(mqttkit_client_connect_sync(client, g_timeout_ms, NULL));
    CHECK_OK(mqttkit_client_subscribe_sync(client, "reentrant/#", 1, g_timeout_ms, NULL));

    /* 1: an asynchronous publish from the message callback. */
    LOCKED(&c, c.reply_mode = 1);
    CHECK_OK(mqttkit_client_publish_sync(client, "reentrant/request", (const uint8_t *)"ping", 4, 1, false, NULL,
                                         g_timeout_ms, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.completions == 1 && strcmp(c.topic, "reentrant/reply") == 0));
    CHECK_RESULT(c.inner_result, MQTTKIT_RESULT_OK);

    /* 2: blocking calls from the message callback. */
    LOCKED(&c, c.reply_mode = 2);
    int before = c.messages;
    CHECK_OK(mqttkit_client_publish(client, "reentrant/go", (const uint8_t *)"x", 1, 0, false, NULL, 0, NULL, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.reply_mode == 0 && c.messages > before));
    CHECK_RESULT(c.inner_result, MQTTKIT_RESULT_OK);

    /* 3: disconnect from the message callback. */
    CHECK_OK(mqttkit_client_subscribe_sync(client, "reentrant/#", 1, g_timeout_ms, NULL));
    LOCKED(&c, c.reply_mode = 3);
    CHECK_OK(mqttkit_client_publish(client, "reentrant/bye", (const uint8_t *)"x", 1, 0, false, NULL, 0, NULL, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.reply_mode == 0 && c.disconnected == 1));
    CHECK_RESULT(c.inner_result, MQTTKIT_RESULT_OK);
    CHECK(!mqttkit_client_is_connected(client));

    /* 4: free the client from its own callback. */
    CHECK_OK(mqttkit_client_connect_sync(client, g_timeout_ms, NULL));
    CHECK_OK(mqttkit_client_subscribe_sync(client, "reentrant/#", 1, g_timeout_ms, NULL));
    LOCKED(&c, c.reply_mode = 4);
    CHECK_OK(mqttkit_client_publish(client, "reentrant/free", (const uint8_t *)"x", 1, 0, false, NULL, 0, NULL, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.freed_in_callback));
    CHECK_OK(mqttkit_wait_idle((uint32_t)g_timeout_ms));
    ctx_destroy(&c);
}

static void test_free_fails_pending_operations_exactly_once(void) {
    silent_server_t silent;
    CHECK(silent_server_start(&silent) == 0);
    char url[64];
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%d", silent.port);
    ctx_t c;
    ctx_init(&c);
    mqttkit_client_options_t *o = mqttkit_client_options_new(url);
    mqttkit_client_t *client = NULL;
    CHECK_OK(mqttkit_client_new(o, &client));
    mqttkit_client_options_free(o);
    /* The server never answers: connect stays pending until the client is freed. */
    CHECK_OK(mqttkit_client_connect(client, 0, on_completion, &c));
    mqttkit_client_free(client);
    CHECK(c.completions == 1); /* ran before free returned */
    CHECK(c.last.result != MQTTKIT_RESULT_OK);
    ctx_destroy(&c);
    silent_server_stop(&silent);
}

static void test_errors(void) {
    ctx_t c;
    ctx_init(&c);
    /* Timeout: a server that accepts TCP but never sends CONNACK. */
    silent_server_t silent;
    CHECK(silent_server_start(&silent) == 0);
    char url[64];
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%d", silent.port);
    mqttkit_client_options_t *o = mqttkit_client_options_new(url);
    CHECK_OK(mqttkit_client_options_set_reconnect(o, false, 1000, 30000, 2.0, 0.2, 0));
    mqttkit_client_t *client = NULL;
    CHECK_OK(mqttkit_client_new(o, &client));
    mqttkit_client_options_free(o);
    CHECK_RESULT(mqttkit_client_connect_sync(client, 300, NULL), MQTTKIT_RESULT_TIMEOUT);
    char detail[256];
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "timed out") != NULL);
    mqttkit_client_free(client);
    silent_server_stop(&silent);

    /* Network error, reported to a completion and as an error event (fire-and-forget). */
    int closed_port = free_port();
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%d", closed_port);
    o = mqttkit_client_options_new(url);
    CHECK_OK(mqttkit_client_options_set_reconnect(o, false, 1000, 30000, 2.0, 0.2, 0));
    CHECK_OK(mqttkit_client_new(o, &client));
    mqttkit_client_options_free(o);
    CHECK_OK(mqttkit_client_set_error_callback(client, on_error, &c));
    CHECK_OK(mqttkit_client_connect(client, 0, on_completion, &c));
    EXPECT_COMPLETION(&c, 1, MQTTKIT_RESULT_NETWORK);
    CHECK(strlen(c.last_message_text) > 0);
    CHECK_OK(mqttkit_client_connect(client, 0, NULL, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.errors >= 1));
    CHECK_RESULT(c.last_error, MQTTKIT_RESULT_NETWORK);
    mqttkit_client_free(client);

    /* MQTT 3.1.1 has no AUTH: invalid argument, both forms. */
    ctx_t d;
    ctx_init(&d);
    client = make_client(&d, "c-v311", 4, true);
    CHECK_OK(mqttkit_client_connect_sync(client, g_timeout_ms, NULL));
    CHECK_RESULT(mqttkit_client_auth_sync(client, true, "SCRAM-SHA-256", NULL, 0, g_timeout_ms, NULL),
                 MQTTKIT_RESULT_INVALID_ARGUMENT);
    mqttkit_result r = mqttkit_client_auth(client, true, "SCRAM-SHA-256", (const uint8_t *)"x", 1, 0, on_completion, &d);
    if (r == MQTTKIT_RESULT_OK) {
        EXPECT_COMPLETION(&d, 1, MQTTKIT_RESULT_INVALID_ARGUMENT);
    } else {
        CHECK_RESULT(r, MQTTKIT_RESULT_INVALID_ARGUMENT);
    }
    /* A v3.1.1 subscription works as usual. */
    CHECK_OK(mqttkit_client_subscribe_sync(client, "v311/#", 1, g_timeout_ms, NULL));
    CHECK_OK(mqttkit_client_publish_sync(client, "v311/a", (const uint8_t *)"z", 1, 1, false, NULL, g_timeout_ms, NULL));
    CHECK(WAIT_FOR(&d.w, g_timeout_ms, d.messages == 1));
    mqttkit_client_free(client);
    ctx_destroy(&d);
    ctx_destroy(&c);
}

static void test_connection_lost_and_reconnect(void) {
    ctx_t c;
    ctx_init(&c);
    mqttkit_client_t *client = make_client(&c, "c-lost", 5, true);
    CHECK_OK(mqttkit_client_connect_sync(client, g_timeout_ms, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.connected == 1));
    int port = g_broker.port;
    mosquitto_stop(&g_broker);
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.lost == 1));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.reconnects >= 1));
    CHECK(mosquitto_start(&g_broker, port) == 0);
    CHECK(WAIT_FOR(&c.w, 3 * g_timeout_ms, c.connected == 2));
    CHECK_OK(mqttkit_client_ping_sync(client, g_timeout_ms, NULL));
    mqttkit_client_free(client);
    ctx_destroy(&c);
}

static uint32_t g_last_sub_id;

static void on_message_sub_id(void *ud, const mqttkit_message_t *m) {
    ctx_t *c = ud;
    pthread_mutex_lock(&c->w.lock);
    g_last_sub_id = mqttkit_message_subscription_identifier_count(m) > 0 ? mqttkit_message_subscription_identifier(m, 0) : 0;
    pthread_mutex_unlock(&c->w.lock);
    on_message(ud, m);
}

static void test_subscribe_many_unsubscribe_many_and_disconnect_with_reason(void) {
    ctx_t c;
    ctx_init(&c);
    mqttkit_client_t *client = make_client(&c, "c-many", 5, true);
    CHECK_OK(mqttkit_client_set_message_callback(client, on_message_sub_id, &c));
    CHECK_OK(mqttkit_client_connect_sync(client, g_timeout_ms, NULL));
    CHECK_OK(mqttkit_client_publish_sync(client, "many/retained", (const uint8_t *)"r", 1, 1, true, NULL, g_timeout_ms, NULL));

    mqttkit_subscription_t subs[2] = {
        {.filter = "many/own", .qos = 1, .no_local = true},
        {.filter = "many/retained", .qos = 2, .retain_handling = 2},
    };
    uint8_t codes[2] = {9, 9};
    mqttkit_subscribe_options_t *so = mqttkit_subscribe_options_new();
    CHECK_OK(mqttkit_subscribe_options_set_subscription_identifier(so, 7));
    CHECK_OK(mqttkit_subscribe_options_add_user_property(so, "sub", "one"));
    CHECK_OK(mqttkit_client_subscribe_many_sync(client, subs, 2, so, g_timeout_ms, codes));
    CHECK(codes[0] == 1 && codes[1] == 2);
    mqttkit_subscription_t plain = {.filter = "many/plain", .qos = 1};
    CHECK_OK(mqttkit_subscribe_options_set_subscription_identifier(so, 9));
    CHECK_OK(mqttkit_client_subscribe_many(client, &plain, 1, so, g_timeout_ms, on_completion, &c));
    mqttkit_subscribe_options_free(so); /* copied by the call */
    EXPECT_COMPLETION(&c, 1, MQTTKIT_RESULT_OK);
    CHECK(c.last.reason_codes_len == 1 && c.granted[0] == 1);
    CHECK_RESULT(mqttkit_client_subscribe_many(client, subs, 0, NULL, 0, NULL, NULL), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_client_subscribe_many(client, NULL, 1, NULL, 0, NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    mqttkit_subscription_t bad = {.filter = "many/x", .qos = 1, .retain_handling = 3};
    CHECK_RESULT(mqttkit_client_subscribe_many_sync(client, &bad, 1, NULL, 0, NULL), MQTTKIT_RESULT_INVALID_ARGUMENT);

    /* No Local drops our own "many/own"; the broker keeps order, so once "many/plain" (sent
     * after it) arrived, "many/own" would have arrived before it. Retain Handling 2: no
     * retained message was sent at subscribe. */
    CHECK_OK(mqttkit_client_publish_sync(client, "many/own", (const uint8_t *)"o", 1, 1, false, NULL, g_timeout_ms, NULL));
    CHECK_OK(mqttkit_client_publish_sync(client, "many/plain", (const uint8_t *)"p", 1, 1, false, NULL, g_timeout_ms, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.messages >= 1));
    pthread_mutex_lock(&c.w.lock);
    CHECK(c.messages == 1);
    CHECK(strcmp(c.topic, "many/plain") == 0);
    CHECK(g_last_sub_id == 9);
    pthread_mutex_unlock(&c.w.lock);

    const char *filters[] = {"many/own", "many/retained"};
    mqttkit_unsubscribe_options_t *uo = mqttkit_unsubscribe_options_new();
    CHECK_OK(mqttkit_unsubscribe_options_add_user_property(uo, "unsub", "two"));
    CHECK_OK(mqttkit_client_unsubscribe_many_sync(client, filters, 2, uo, g_timeout_ms));
    const char *last[] = {"many/plain"};
    CHECK_OK(mqttkit_client_unsubscribe_many(client, last, 1, uo, g_timeout_ms, on_completion, &c));
    mqttkit_unsubscribe_options_free(uo);
    EXPECT_COMPLETION(&c, 2, MQTTKIT_RESULT_OK);
    CHECK(c.last.reason_codes_len == 1 && c.granted[0] == 0);
    CHECK_RESULT(mqttkit_client_unsubscribe_many_sync(client, filters, 0, NULL, 0), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_OK(mqttkit_client_publish_sync(client, "many/retained", NULL, 0, 1, true, NULL, g_timeout_ms, NULL));

    /* A client with a will and every will property, disconnecting with reason 0x04 and
     * DISCONNECT properties: the server publishes the will with its properties. */
    CHECK_OK(mqttkit_client_subscribe_sync(client, "many/will", 1, g_timeout_ms, NULL));
    mqttkit_client_options_t *o = mqttkit_client_options_new(g_broker.url);
    CHECK_OK(mqttkit_client_options_set_will_content_type(o, "text/plain"));
    CHECK_OK(mqttkit_client_options_set_will(o, "many/will", (const uint8_t *)"gone", 4, 1, false));
    CHECK_OK(mqttkit_client_options_set_will_delay_interval(o, 0));
    CHECK_OK(mqttkit_client_options_set_will_payload_utf8(o, true));
    CHECK_OK(mqttkit_client_options_set_will_message_expiry(o, 600));
    CHECK_OK(mqttkit_client_options_set_will_response_topic(o, "many/answer"));
    CHECK_OK(mqttkit_client_options_set_will_correlation_data(o, (const uint8_t *)"w-1", 3));
    CHECK_OK(mqttkit_client_options_add_will_user_property(o, "why", "test"));
    CHECK_OK(mqttkit_client_options_add_will_user_property(o, "n", "2"));
    mqttkit_client_t *willing = NULL;
    CHECK_OK(mqttkit_client_new(o, &willing));
    mqttkit_client_options_free(o);
    CHECK_OK(mqttkit_client_connect_sync(willing, g_timeout_ms, NULL));
    CHECK_RESULT(mqttkit_client_disconnect_with_reason_sync(willing, 0x05, NULL, g_timeout_ms), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_client_disconnect_with_reason_sync(willing, 0x02, NULL, g_timeout_ms), MQTTKIT_RESULT_INVALID_ARGUMENT);
    mqttkit_disconnect_options_t *d = mqttkit_disconnect_options_new();
    CHECK_OK(mqttkit_disconnect_options_set_reason_string(d, "going away on purpose"));
    CHECK_OK(mqttkit_disconnect_options_add_user_property(d, "bye", "now"));
    CHECK_OK(mqttkit_client_disconnect_with_reason_sync(willing, 0x04, d, g_timeout_ms));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.messages == 2));
    pthread_mutex_lock(&c.w.lock);
    CHECK(strcmp(c.topic, "many/will") == 0 && strcmp(c.payload, "gone") == 0);
    CHECK(strcmp(c.content_type, "text/plain") == 0);
    CHECK(strcmp(c.response_topic, "many/answer") == 0);
    CHECK(strcmp(c.correlation, "w-1") == 0);
    CHECK(c.payload_format == 1);
    CHECK(c.has_expiry && c.expiry > 500 && c.expiry <= 600);
    CHECK(strcmp(c.user_props, "why=test;n=2;") == 0);
    pthread_mutex_unlock(&c.w.lock);
    mqttkit_client_free(willing);

    CHECK_OK(mqttkit_client_disconnect_with_reason(client, 0x00, d, g_timeout_ms, on_completion, &c));
    mqttkit_disconnect_options_free(d);
    EXPECT_COMPLETION(&c, 3, MQTTKIT_RESULT_OK);
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.disconnected == 1));
    mqttkit_client_free(client);
    ctx_destroy(&c);
}

static int g_cleared;

static void on_cleared(void *ud, size_t count) {
    ctx_t *c = ud;
    LOCKED(c, g_cleared += (int)count);
}

/* A server that loses the session: in-flight operations are failed with an event. */
static void test_pending_operations_cleared_after_session_loss(void) {
    fake_server_t server;
    CHECK(fake_server_start(&server) == 0);
    char url[64];
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%d", server.port);
    ctx_t c;
    ctx_init(&c);
    g_cleared = 0;
    mqttkit_client_options_t *o = mqttkit_client_options_new(url);
    CHECK_OK(mqttkit_client_options_set_client_id(o, "c-cleared"));
    CHECK_OK(mqttkit_client_options_set_clean_start(o, false));
    CHECK_OK(mqttkit_client_options_set_session_expiry_interval(o, 300));
    CHECK_OK(mqttkit_client_options_set_reconnect(o, true, 20, 100, 2.0, 0.0, 0));
    mqttkit_client_t *client = NULL;
    CHECK_OK(mqttkit_client_new(o, &client));
    mqttkit_client_options_free(o);
    CHECK_OK(mqttkit_client_set_connected_callback(client, on_connected, &c));
    CHECK_OK(mqttkit_client_set_connection_lost_callback(client, on_lost, &c));
    CHECK_OK(mqttkit_client_set_reconnect_callback(client, on_reconnect, &c));
    CHECK_OK(mqttkit_client_set_pending_cleared_callback(client, on_cleared, &c));
    CHECK_OK(mqttkit_client_connect_sync(client, g_timeout_ms, NULL));
    /* QoS 2: the fake server sends PUBREC but never PUBCOMP; without the session the
     * exchange cannot complete after the reconnect. */
    CHECK_OK(mqttkit_client_publish(client, "pending/1", (const uint8_t *)"x", 1, 2, false, NULL, 0, on_completion, &c));
    CHECK(WAIT_FOR(&server.w, g_timeout_ms, server.pubrels == 1));
    fake_server_drop(&server);
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.lost == 1));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.reconnects >= 1));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.connected >= 2));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, g_cleared == 1 && c.completions == 1));
    CHECK(c.last.result != MQTTKIT_RESULT_OK);
    mqttkit_client_free(client);
    fake_server_stop(&server);
    ctx_destroy(&c);
}

static char g_auth_method[16];
static char g_auth_data[16];
static uint8_t g_auth_reason;

static void on_auth(void *ud, uint8_t reason, const char *method, const uint8_t *data, size_t len) {
    ctx_t *c = ud;
    LOCKED(c, {
        g_auth_reason = reason;
        snprintf(g_auth_method, sizeof g_auth_method, "%s", method ? method : "");
        copy_text(g_auth_data, sizeof g_auth_data, (const char *)data, len);
        c->errors += 100; /* marks the event */
    });
}

/* Enhanced authentication against a fake server: Re-authenticate is answered with AUTH
 * Continue (the call completes with reason 0x18, and an auth event reports it too), Continue
 * is answered with Success. */
static mqttkit_client_t *fake_client(fake_server_t *server, ctx_t *c) {
    char url[64];
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%d", server->port);
    mqttkit_client_options_t *o = mqttkit_client_options_new(url);
    CHECK_OK(mqttkit_client_options_set_reconnect(o, false, 1000, 30000, 2.0, 0.2, 0));
    mqttkit_client_t *client = NULL;
    CHECK_OK(mqttkit_client_new(o, &client));
    mqttkit_client_options_free(o);
    CHECK_OK(mqttkit_client_set_auth_callback(client, on_auth, c));
    CHECK_OK(mqttkit_client_connect_sync(client, g_timeout_ms, NULL));
    return client;
}

static void test_auth_both_forms_and_auth_event(void) {
    fake_server_t server;
    CHECK(fake_server_start(&server) == 0);
    ctx_t c;
    ctx_init(&c);
    mqttkit_client_t *client = fake_client(&server, &c);
    CHECK_OK(mqttkit_client_auth(client, true, "X", (const uint8_t *)"go", 2, 0, on_completion, &c));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.errors >= 100));
    pthread_mutex_lock(&c.w.lock);
    CHECK(g_auth_reason == 0x18);
    CHECK(strcmp(g_auth_method, "X") == 0);
    CHECK(strcmp(g_auth_data, "hi") == 0);
    pthread_mutex_unlock(&c.w.lock);
    EXPECT_COMPLETION(&c, 1, MQTTKIT_RESULT_OK);
    CHECK(c.last.reason_code == 0x18);
    mqttkit_client_free(client);
    CHECK(c.completions == 1);

    client = fake_client(&server, &c);
    uint8_t reason = 0xFF;
    CHECK_OK(mqttkit_client_auth_sync(client, false, "X", NULL, 0, g_timeout_ms, &reason));
    CHECK(reason == 0x00);
    CHECK_OK(mqttkit_client_auth(client, false, "X", (const uint8_t *)"again", 5, 0, on_completion, &c));
    EXPECT_COMPLETION(&c, 2, MQTTKIT_RESULT_OK);
    CHECK(c.last.reason_code == 0x00);
    mqttkit_client_free(client);
    fake_server_stop(&server);
    ctx_destroy(&c);
}

/* A C authenticator: records what the server sent and answers. */
typedef struct {
    int starts, responds, finishes;
    char challenge[16], final_data[16];
    bool reject;
} auth_state_t;

static mqttkit_result auth_start(void *ud, mqttkit_auth_data_t *out) {
    auth_state_t *a = ud;
    a->starts++;
    return mqttkit_auth_data_set(out, (const uint8_t *)"init", 4);
}

static mqttkit_result auth_respond(void *ud, const uint8_t *challenge, size_t len, mqttkit_auth_data_t *out) {
    auth_state_t *a = ud;
    a->responds++;
    copy_text(a->challenge, sizeof a->challenge, (const char *)challenge, len);
    return mqttkit_auth_data_set(out, (const uint8_t *)"answer", 6);
}

static mqttkit_result auth_finish(void *ud, const uint8_t *data, size_t len) {
    auth_state_t *a = ud;
    a->finishes++;
    copy_text(a->final_data, sizeof a->final_data, (const char *)data, len);
    return a->reject ? MQTTKIT_RESULT_AUTH_FAILED : MQTTKIT_RESULT_OK;
}

static void test_enhanced_authentication_with_a_c_authenticator(void) {
    fake_server_t server;
    CHECK(fake_server_start(&server) == 0);
    server.auth_connect = 1;
    char url[64];
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%d", server.port);
    for (int reject = 0; reject <= 1; reject++) {
        auth_state_t state;
        memset(&state, 0, sizeof state);
        state.reject = reject;
        mqttkit_authenticator_t authenticator = {auth_start, auth_respond, auth_finish};
        mqttkit_client_options_t *o = mqttkit_client_options_new(url);
        CHECK_OK(mqttkit_client_options_set_authenticator(o, "X", &authenticator, &state));
        CHECK_OK(mqttkit_client_options_set_reconnect(o, false, 1000, 30000, 2.0, 0.2, 0));
        CHECK_RESULT(mqttkit_client_options_set_authenticator(o, "X", NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
        mqttkit_client_t *client = NULL;
        CHECK_OK(mqttkit_client_new(o, &client));
        mqttkit_client_options_free(o);
        CHECK_RESULT(mqttkit_client_connect_sync(client, g_timeout_ms, NULL),
                     reject ? MQTTKIT_RESULT_AUTH_FAILED : MQTTKIT_RESULT_OK);
        mqttkit_client_free(client); /* after this no callback runs: state is ours again */
        CHECK(state.starts == 1 && state.responds == 1 && state.finishes == 1);
        CHECK(strcmp(state.challenge, "hi") == 0);
        CHECK(strcmp(state.final_data, "ok") == 0);
    }
    CHECK_RESULT(mqttkit_auth_data_set(NULL, NULL, 0), MQTTKIT_RESULT_NULL_PARAMETER);
    fake_server_stop(&server);
}

/* Waits for completion number `n` and checks that it is a timeout naming `ms`. */
#define EXPECT_TIMEOUT_AFTER(c, n, ms)                                                     \
    do {                                                                                   \
        EXPECT_COMPLETION(c, n, MQTTKIT_RESULT_TIMEOUT);                                   \
        CHECK(strstr((c)->last_message_text, "after " ms " ms") != NULL);                  \
    } while (0)

/* Per-call timeouts on the asynchronous forms: a server that never acknowledges anything
 * but CONNECT; the client's own timeouts are 100 ms, each call says otherwise. */
static void test_per_call_timeouts_of_asynchronous_forms(void) {
    fake_server_t server;
    CHECK(fake_server_start(&server) == 0);
    char url[64];
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%d", server.port);
    ctx_t c;
    ctx_init(&c);
    mqttkit_client_options_t *o = mqttkit_client_options_new(url);
    CHECK_OK(mqttkit_client_options_set_reconnect(o, false, 1000, 30000, 2.0, 0.2, 0));
    CHECK_OK(mqttkit_client_options_set_timeouts(o, 10000, 100, 100, 100, 100, 100));
    mqttkit_client_t *client = NULL;
    CHECK_OK(mqttkit_client_new(o, &client));
    mqttkit_client_options_free(o);
    CHECK_OK(mqttkit_client_connect_sync(client, g_timeout_ms, NULL));
    int n = 0;
    CHECK_OK(mqttkit_client_ping(client, 0, on_completion, &c));
    EXPECT_TIMEOUT_AFTER(&c, ++n, "100");
    CHECK_OK(mqttkit_client_ping(client, 300, on_completion, &c));
    EXPECT_TIMEOUT_AFTER(&c, ++n, "300");
    CHECK_OK(mqttkit_client_publish(client, "t/1", (const uint8_t *)"x", 1, 1, false, NULL, 250, on_completion, &c));
    EXPECT_TIMEOUT_AFTER(&c, ++n, "250");
    CHECK_OK(mqttkit_client_subscribe(client, "t/#", 1, 260, on_completion, &c));
    EXPECT_TIMEOUT_AFTER(&c, ++n, "260");
    mqttkit_subscription_t sub = {.filter = "u/#", .qos = 0};
    CHECK_OK(mqttkit_client_subscribe_many(client, &sub, 1, NULL, 270, on_completion, &c));
    EXPECT_TIMEOUT_AFTER(&c, ++n, "270");
    CHECK_OK(mqttkit_client_unsubscribe(client, "t/#", 280, on_completion, &c));
    EXPECT_TIMEOUT_AFTER(&c, ++n, "280");
    const char *filters[] = {"u/#"};
    CHECK_OK(mqttkit_client_unsubscribe_many(client, filters, 1, NULL, 290, on_completion, &c));
    EXPECT_TIMEOUT_AFTER(&c, ++n, "290");
    /* The blocking forms take the same per-call limits. */
    CHECK_RESULT(mqttkit_client_ping_sync(client, 150, NULL), MQTTKIT_RESULT_TIMEOUT);
    char detail[256];
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "after 150 ms") != NULL);
    /* No limit: this ping outlives a limited one sent after it, and ends only when the
     * client is freed. */
    CHECK_OK(mqttkit_client_ping(client, MQTTKIT_NO_TIMEOUT, on_completion, &c));
    CHECK_OK(mqttkit_client_ping(client, 200, on_completion, &c));
    EXPECT_TIMEOUT_AFTER(&c, ++n, "200");
    CHECK(c.completions == n);
    mqttkit_client_free(client);
    CHECK(c.completions == n + 1);
    CHECK(c.last.result != MQTTKIT_RESULT_OK && c.last.result != MQTTKIT_RESULT_TIMEOUT);
    fake_server_stop(&server);

    /* connect: a server that never sends CONNACK. */
    silent_server_t silent;
    CHECK(silent_server_start(&silent) == 0);
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%d", silent.port);
    o = mqttkit_client_options_new(url);
    CHECK_OK(mqttkit_client_options_set_reconnect(o, false, 1000, 30000, 2.0, 0.2, 0));
    CHECK_OK(mqttkit_client_new(o, &client));
    mqttkit_client_options_free(o);
    CHECK_OK(mqttkit_client_connect(client, 200, on_completion, &c));
    EXPECT_TIMEOUT_AFTER(&c, n + 2, "200");
    mqttkit_client_free(client);
    silent_server_stop(&silent);
    ctx_destroy(&c);
}

/* DISCONNECT properties take effect: a Session Expiry Interval of 0 sent with DISCONNECT
 * ends the session the client asked the server to keep at CONNECT. */
static void test_disconnect_properties_end_the_session(void) {
    ctx_t c;
    ctx_init(&c);
    mqttkit_client_options_t *o = mqttkit_client_options_new(g_broker.url);
    CHECK_OK(mqttkit_client_options_set_client_id(o, "c-session-expiry"));
    CHECK_OK(mqttkit_client_options_set_clean_start(o, false));
    CHECK_OK(mqttkit_client_options_set_session_expiry_interval(o, 300));
    mqttkit_client_t *client = NULL;
    CHECK_OK(mqttkit_client_new(o, &client));
    mqttkit_client_options_free(o);
    bool present = true;
    /* A session left over from an earlier run of this test ends with the first DISCONNECT. */
    CHECK_OK(mqttkit_client_connect_sync(client, g_timeout_ms, NULL));
    mqttkit_disconnect_options_t *end = mqttkit_disconnect_options_new();
    CHECK_OK(mqttkit_disconnect_options_set_session_expiry_interval(end, 0));
    CHECK_OK(mqttkit_client_disconnect_with_reason_sync(client, 0x00, end, g_timeout_ms));
    CHECK_OK(mqttkit_client_connect_sync(client, g_timeout_ms, &present));
    CHECK(!present);
    /* A plain disconnect keeps it... */
    CHECK_OK(mqttkit_client_disconnect_sync(client, g_timeout_ms));
    CHECK_OK(mqttkit_client_connect_sync(client, g_timeout_ms, &present));
    CHECK(present);
    /* ...a DISCONNECT with Session Expiry Interval 0 (asynchronous form) ends it. */
    CHECK_OK(mqttkit_disconnect_options_set_reason_string(end, "done"));
    CHECK_OK(mqttkit_disconnect_options_add_user_property(end, "k", "v"));
    CHECK_OK(mqttkit_client_disconnect_with_reason(client, 0x00, end, MQTTKIT_NO_TIMEOUT, on_completion, &c));
    mqttkit_disconnect_options_free(end);
    EXPECT_COMPLETION(&c, 1, MQTTKIT_RESULT_OK);
    CHECK_OK(mqttkit_client_connect_sync(client, MQTTKIT_NO_TIMEOUT, &present));
    CHECK(!present);
    mqttkit_client_free(client);
    ctx_destroy(&c);
}

int main(void) {
    if (getenv("MQTTKIT_TEST_SLOW")) g_timeout_ms = 30000;
    if (mosquitto_start(&g_broker, 0) != 0) {
        fprintf(stderr, "cannot start mosquitto\n");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_sync_operations_and_events);
    RUN(test_async_operations_with_completions);
    RUN(test_fire_and_forget_operations_report_events);
    RUN(test_mqtt5_properties_and_retain);
    RUN(test_manual_ack_and_message_copy);
    RUN(test_subscribe_many_unsubscribe_many_and_disconnect_with_reason);
    RUN(test_calls_from_inside_callbacks);
    RUN(test_free_fails_pending_operations_exactly_once);
    RUN(test_errors);
    RUN(test_pending_operations_cleared_after_session_loss);
    RUN(test_auth_both_forms_and_auth_event);
    RUN(test_per_call_timeouts_of_asynchronous_forms);
    RUN(test_disconnect_properties_end_the_session);
    RUN(test_enhanced_authentication_with_a_c_authenticator);
    RUN(test_connection_lost_and_reconnect);
    mosquitto_stop(&g_broker);
    CHECK_OK(mqttkit_wait_idle(1000));
    return harness_summary();
}

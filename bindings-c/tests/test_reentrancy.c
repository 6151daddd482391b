/* Every client call from inside callbacks, against a private Mosquitto: each operation in
 * both forms and the callback setters from a message callback, a chain of operations each
 * started from the previous one's completion callback (ending with free inside a
 * completion), connect from the disconnected callback, and an asynchronous disconnect from
 * a message callback. (test_client.c covers disconnect_sync and free from a message
 * callback; test_wire.c auth from the auth callback.) */
#include "harness.h"

static mosquitto_t g_broker;
static int g_timeout_ms = 10000;

typedef struct {
    waiter_t w;
    mqttkit_client_t *client;
    int completions, failed_completions, connected, disconnected, messages, chain_step;
    mqttkit_result last_completion;
    mqttkit_result inside[24]; /* results of the calls made inside the callback */
    int inside_count;
    bool inside_done, freed;
} ctx_t;

static void ctx_init(ctx_t *c) {
    memset(c, 0, sizeof *c);
    waiter_init(&c->w);
}

static void changed(ctx_t *c) {
    pthread_cond_broadcast(&c->w.changed);
    pthread_mutex_unlock(&c->w.lock);
}

static void on_done(void *ud, const mqttkit_completion_t *done) {
    ctx_t *c = ud;
    pthread_mutex_lock(&c->w.lock);
    c->completions++;
    c->last_completion = done->result;
    if (done->result != MQTTKIT_RESULT_OK) c->failed_completions++;
    changed(c);
}

static void on_connected(void *ud, bool session_present, const char *assigned) {
    ctx_t *c = ud;
    (void)session_present; (void)assigned;
    pthread_mutex_lock(&c->w.lock);
    c->connected++;
    changed(c);
}

static void record(ctx_t *c, mqttkit_result r) {
    if (c->inside_count < 24) c->inside[c->inside_count++] = r;
}

static void on_ping(void *ud, uint64_t round_trip_us) {
    (void)ud; (void)round_trip_us;
}

/* On "r/all": every operation, both forms, and the setters. On "r/bye": disconnect. */
static void on_message(void *ud, const mqttkit_message_t *m) {
    ctx_t *c = ud;
    mqttkit_client_t *client = c->client; /* set before connecting, never changed */
    const char *topic = mqttkit_message_topic(m);
    pthread_mutex_lock(&c->w.lock);
    c->messages++;
    changed(c);
    if (strcmp(topic, "r/bye") == 0) {
        mqttkit_result r = mqttkit_client_disconnect(client, 0, on_done, c);
        pthread_mutex_lock(&c->w.lock);
        record(c, r);
        c->inside_done = true;
        changed(c);
        return;
    }
    if (strcmp(topic, "r/all") != 0) return;
    uint32_t t = (uint32_t)g_timeout_ms;
    mqttkit_result r[24];
    int n = 0;
    mqttkit_subscription_t subs[1] = {{.filter = "r/many", .qos = 1}};
    const char *filters[1] = {"r/many"};
    uint8_t granted = 0;
    r[n++] = mqttkit_client_is_connected(client) ? MQTTKIT_RESULT_OK : MQTTKIT_RESULT_NOT_CONNECTED;
    r[n++] = mqttkit_client_dropped_messages(client) == 0 ? MQTTKIT_RESULT_OK : MQTTKIT_RESULT_INTERNAL;
    r[n++] = mqttkit_client_subscribe(client, "r/x", 1, 0, on_done, c);
    r[n++] = mqttkit_client_subscribe_sync(client, "r/y", 1, t, &granted);
    r[n++] = mqttkit_client_subscribe_many(client, subs, 1, NULL, 0, on_done, c);
    r[n++] = mqttkit_client_subscribe_many_sync(client, subs, 1, NULL, t, &granted);
    r[n++] = mqttkit_client_unsubscribe(client, "r/x", 0, on_done, c);
    r[n++] = mqttkit_client_unsubscribe_sync(client, "r/y", t);
    r[n++] = mqttkit_client_unsubscribe_many(client, filters, 1, NULL, 0, on_done, c);
    r[n++] = mqttkit_client_unsubscribe_many_sync(client, filters, 1, NULL, t);
    r[n++] = mqttkit_client_publish(client, "other/t", (const uint8_t *)"a", 1, 1, false, NULL, 0, on_done, c);
    r[n++] = mqttkit_client_publish_sync(client, "other/t", (const uint8_t *)"b", 1, 2, false, NULL, t, NULL);
    r[n++] = mqttkit_client_publish(client, "other/t", (const uint8_t *)"c", 1, 0, false, NULL, 0, NULL, NULL);
    r[n++] = mqttkit_client_ping(client, 0, on_done, c);
    r[n++] = mqttkit_client_ping_sync(client, t, NULL);
    r[n++] = mqttkit_client_set_ping_callback(client, on_ping, c);
    r[n++] = mqttkit_client_set_message_callback(client, on_message, c);
    r[n++] = mqttkit_client_set_connected_callback(client, on_connected, c);
    /* Already connected: the asynchronous form reports it to its callback. */
    r[n++] = mqttkit_client_connect_sync(client, t, NULL) == MQTTKIT_RESULT_ALREADY_CONNECTED
                 ? MQTTKIT_RESULT_OK
                 : MQTTKIT_RESULT_INTERNAL;
    r[n++] = mqttkit_client_connect(client, 0, on_done, c);
    pthread_mutex_lock(&c->w.lock);
    for (int i = 0; i < n; i++) record(c, r[i]);
    c->inside_done = true;
    changed(c);
}

static mqttkit_client_t *make_client(ctx_t *c, const char *id) {
    mqttkit_client_options_t *o = mqttkit_client_options_new(g_broker.url);
    CHECK_OK(mqttkit_client_options_set_client_id(o, id));
    CHECK_OK(mqttkit_client_options_set_reconnect(o, false, 1000, 30000, 2.0, 0.2, 0));
    mqttkit_client_t *client = NULL;
    CHECK_OK(mqttkit_client_new(o, &client));
    mqttkit_client_options_free(o);
    c->client = client;
    CHECK_OK(mqttkit_client_set_message_callback(client, on_message, c));
    CHECK_OK(mqttkit_client_set_connected_callback(client, on_connected, c));
    return client;
}

static void test_every_operation_in_both_forms_from_a_message_callback(void) {
    ctx_t c;
    ctx_init(&c);
    mqttkit_client_t *client = make_client(&c, "c-inside-all");
    CHECK_OK(mqttkit_client_connect_sync(client, (uint32_t)g_timeout_ms, NULL));
    CHECK_OK(mqttkit_client_subscribe_sync(client, "r/#", 1, (uint32_t)g_timeout_ms, NULL));
    CHECK_OK(mqttkit_client_publish(client, "r/all", (const uint8_t *)"go", 2, 1, false, NULL, 0, NULL, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.inside_done && c.completions == 7));
    CHECK(c.inside_count == 20);
    for (int i = 0; i < c.inside_count; i++) {
        if (c.inside[i] != MQTTKIT_RESULT_OK) fprintf(stderr, "  call %d inside the callback:\n", i);
        CHECK_RESULT(c.inside[i], MQTTKIT_RESULT_OK);
    }
    /* Six operations succeeded; connect reported ALREADY_CONNECTED to its callback. */
    CHECK(c.failed_completions == 1);

    /* An asynchronous disconnect from inside a message callback. */
    pthread_mutex_lock(&c.w.lock);
    c.inside_done = false;
    c.inside_count = 0;
    pthread_mutex_unlock(&c.w.lock);
    CHECK_OK(mqttkit_client_publish(client, "r/bye", (const uint8_t *)"x", 1, 0, false, NULL, 0, NULL, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.inside_done && c.completions == 8));
    CHECK_RESULT(c.inside[0], MQTTKIT_RESULT_OK);
    CHECK_RESULT(c.last_completion, MQTTKIT_RESULT_OK);
    CHECK(!mqttkit_client_is_connected(client));
    mqttkit_client_free(client);
    waiter_destroy(&c.w);
}

/* Each completion starts the next operation; the last one frees the client. */
static void on_chain(void *ud, const mqttkit_completion_t *done) {
    ctx_t *c = ud;
    pthread_mutex_lock(&c->w.lock);
    int step = c->chain_step++;
    if (done->result != MQTTKIT_RESULT_OK) c->failed_completions++;
    pthread_mutex_unlock(&c->w.lock);
    mqttkit_client_t *client = c->client;
    mqttkit_result r = MQTTKIT_RESULT_OK;
    switch (step) {
    case 0: r = mqttkit_client_subscribe(client, "chain/#", 1, 0, on_chain, c); break;
    case 1: r = mqttkit_client_publish(client, "chain/a", (const uint8_t *)"x", 1, 1, false, NULL, 0, on_chain, c); break;
    case 2: r = mqttkit_client_ping(client, 0, on_chain, c); break;
    case 3: r = mqttkit_client_disconnect(client, 0, on_chain, c); break;
    case 4:
        r = mqttkit_client_connect_sync(client, (uint32_t)g_timeout_ms, NULL);
        if (r == MQTTKIT_RESULT_OK) r = mqttkit_client_disconnect_with_reason(client, 0x00, NULL, 0, on_chain, c);
        break;
    default:
        mqttkit_client_free(client);
        pthread_mutex_lock(&c->w.lock);
        c->freed = true;
        changed(c);
        return;
    }
    pthread_mutex_lock(&c->w.lock);
    record(c, r);
    changed(c);
}

static void test_operations_chained_from_completion_callbacks(void) {
    ctx_t c;
    ctx_init(&c);
    make_client(&c, "c-inside-chain");
    CHECK_OK(mqttkit_client_connect(c.client, 0, on_chain, &c));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.freed));
    CHECK(c.chain_step == 6);
    CHECK(c.failed_completions == 0);
    CHECK(c.inside_count == 5);
    for (int i = 0; i < c.inside_count; i++) CHECK_RESULT(c.inside[i], MQTTKIT_RESULT_OK);
    CHECK_OK(mqttkit_wait_idle((uint32_t)g_timeout_ms));
    waiter_destroy(&c.w);
}

/* Reconnecting by hand: the first disconnected event connects again. */
static void on_disconnected(void *ud, uint8_t reason, bool by_server) {
    ctx_t *c = ud;
    (void)reason; (void)by_server;
    pthread_mutex_lock(&c->w.lock);
    int first = c->disconnected++ == 0;
    changed(c);
    if (first) {
        mqttkit_result r = mqttkit_client_connect(c->client, 0, NULL, NULL);
        pthread_mutex_lock(&c->w.lock);
        record(c, r);
        changed(c);
    }
}

static void test_connect_from_the_disconnected_callback(void) {
    ctx_t c;
    ctx_init(&c);
    mqttkit_client_t *client = make_client(&c, "c-inside-reconnect");
    CHECK_OK(mqttkit_client_set_disconnected_callback(client, on_disconnected, &c));
    CHECK_OK(mqttkit_client_connect_sync(client, (uint32_t)g_timeout_ms, NULL));
    CHECK_OK(mqttkit_client_disconnect_sync(client, (uint32_t)g_timeout_ms));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.connected == 2 && c.inside_count == 1));
    CHECK_RESULT(c.inside[0], MQTTKIT_RESULT_OK);
    CHECK_OK(mqttkit_client_ping_sync(client, (uint32_t)g_timeout_ms, NULL));
    mqttkit_client_free(client);
    waiter_destroy(&c.w);
}

int main(void) {
    if (getenv("MQTTKIT_TEST_SLOW")) g_timeout_ms = 30000;
    if (mosquitto_start(&g_broker, 0) != 0) {
        fprintf(stderr, "cannot start mosquitto\n");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_every_operation_in_both_forms_from_a_message_callback);
    RUN(test_operations_chained_from_completion_callbacks);
    RUN(test_connect_from_the_disconnected_callback);
    mosquitto_stop(&g_broker);
    CHECK_OK(mqttkit_wait_idle(1000));
    return harness_summary();
}

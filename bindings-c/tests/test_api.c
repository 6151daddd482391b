/* libmqttkit without a network: version, result codes, last error, NULL and invalid
 * arguments, options validation, the panic boundary, free(NULL). */
#include "harness.h"

static void test_version_matches_header(void) {
    const char *v = mqttkit_version();
    CHECK(v != NULL);
    CHECK(strcmp(v, MQTTKIT_VERSION) == 0);
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", MQTTKIT_VERSION_MAJOR, MQTTKIT_VERSION_MINOR,
             MQTTKIT_VERSION_PATCH);
    CHECK(strcmp(v, expected) == 0);
    const char *cargo = getenv("MQTTKIT_EXPECTED_VERSION");
    if (cargo) CHECK(strcmp(v, cargo) == 0);
}

static void test_result_codes_are_stable_and_named(void) {
    CHECK(MQTTKIT_RESULT_OK == 0);
    CHECK(MQTTKIT_RESULT_TIMEOUT == 1);
    CHECK(MQTTKIT_RESULT_CONNECTION_REFUSED == 2);
    CHECK(MQTTKIT_RESULT_CONNECTION_LOST == 3);
    CHECK(MQTTKIT_RESULT_NOT_CONNECTED == 4);
    CHECK(MQTTKIT_RESULT_ALREADY_CONNECTED == 5);
    CHECK(MQTTKIT_RESULT_NETWORK == 6);
    CHECK(MQTTKIT_RESULT_PROTOCOL_VIOLATION == 7);
    CHECK(MQTTKIT_RESULT_PACKET_PARSING == 8);
    CHECK(MQTTKIT_RESULT_PUBLISH_FAILED == 9);
    CHECK(MQTTKIT_RESULT_SUBSCRIBE_FAILED == 10);
    CHECK(MQTTKIT_RESULT_UNSUBSCRIBE_FAILED == 11);
    CHECK(MQTTKIT_RESULT_BUFFER_FULL == 12);
    CHECK(MQTTKIT_RESULT_CHANNEL_CLOSED == 13);
    CHECK(MQTTKIT_RESULT_PACKET_ID_EXHAUSTED == 14);
    CHECK(MQTTKIT_RESULT_INVALID_CONFIGURATION == 15);
    CHECK(MQTTKIT_RESULT_INVALID_ARGUMENT == 16);
    CHECK(MQTTKIT_RESULT_AUTH_FAILED == 17);
    CHECK(MQTTKIT_RESULT_INTERNAL == 18);
    CHECK(MQTTKIT_RESULT_NULL_PARAMETER == 100);
    CHECK(MQTTKIT_RESULT_PANIC == 101);
    CHECK(MQTTKIT_RESULT_UNSUPPORTED == 102);
    static const char *names[] = {"OK", "TIMEOUT", "CONNECTION_REFUSED", "CONNECTION_LOST",
                                  "NOT_CONNECTED", "ALREADY_CONNECTED", "NETWORK",
                                  "PROTOCOL_VIOLATION", "PACKET_PARSING", "PUBLISH_FAILED",
                                  "SUBSCRIBE_FAILED", "UNSUBSCRIBE_FAILED", "BUFFER_FULL",
                                  "CHANNEL_CLOSED", "PACKET_ID_EXHAUSTED", "INVALID_CONFIGURATION",
                                  "INVALID_ARGUMENT", "AUTH_FAILED", "INTERNAL"};
    for (int i = 0; i <= 18; i++) CHECK(strcmp(mqttkit_result_str(i), names[i]) == 0);
    CHECK(strcmp(mqttkit_result_str(100), "NULL_PARAMETER") == 0);
    CHECK(strcmp(mqttkit_result_str(101), "PANIC") == 0);
    CHECK(strcmp(mqttkit_result_str(102), "UNSUPPORTED") == 0);
    CHECK(strcmp(mqttkit_result_str(-1), "UNKNOWN") == 0);
    CHECK(strcmp(mqttkit_result_str(19), "UNKNOWN") == 0);
}

static void test_last_error_is_per_thread_and_truncates(void) {
    CHECK_RESULT(mqttkit_client_options_set_client_id(NULL, "x"), MQTTKIT_RESULT_NULL_PARAMETER);
    size_t need = mqttkit_last_error(NULL, 0);
    CHECK(need > 0);
    char full[256];
    CHECK(mqttkit_last_error(full, sizeof full) == need);
    CHECK(strstr(full, "options") != NULL);
    char small[5];
    CHECK(mqttkit_last_error(small, sizeof small) == need);
    CHECK(strlen(small) == 4);
    CHECK(strncmp(small, full, 4) == 0);
}

static void *other_thread_last_error(void *arg) {
    size_t *len = arg;
    *len = mqttkit_last_error(NULL, 0);
    return NULL;
}

static void test_last_error_of_another_thread_is_empty(void) {
    CHECK_RESULT(mqttkit_client_connect(NULL, 0, NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    size_t len = 99;
    pthread_t t;
    pthread_create(&t, NULL, other_thread_last_error, &len);
    pthread_join(t, NULL);
    CHECK(len == 0);
}

static void test_null_arguments_are_refused(void) {
    CHECK(mqttkit_client_options_new(NULL) == NULL);
    mqttkit_client_options_t *o = mqttkit_client_options_new("mqtt://127.0.0.1:1");
    CHECK(o != NULL);
    mqttkit_client_t *c = NULL;
    CHECK_RESULT(mqttkit_client_new(NULL, &c), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_new(o, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK(c == NULL);
    CHECK_RESULT(mqttkit_client_options_set_client_id(o, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_set_will(o, NULL, NULL, 0, 0, false), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_set_will(o, "w", NULL, 3, 0, false), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_add_user_property(o, "a", NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_validate(NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_set_keep_alive(NULL, 5), MQTTKIT_RESULT_NULL_PARAMETER);

    CHECK_RESULT(mqttkit_client_connect(NULL, 0, NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_connect_sync(NULL, 0, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_disconnect(NULL, 0, NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_disconnect_sync(NULL, 0), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_publish(NULL, "t", NULL, 0, 0, false, NULL, 0, NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_publish_sync(NULL, "t", NULL, 0, 0, false, NULL, 0, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_subscribe(NULL, "t", 0, 0, NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_subscribe_sync(NULL, "t", 0, 0, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_unsubscribe(NULL, "t", 0, NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_unsubscribe_sync(NULL, "t", 0), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_ping(NULL, 0, NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_ping_sync(NULL, 0, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_auth(NULL, true, "m", NULL, 0, 0, NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_auth_sync(NULL, true, "m", NULL, 0, 0, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_set_message_callback(NULL, NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK(!mqttkit_client_is_connected(NULL));
    CHECK(mqttkit_client_dropped_messages(NULL) == 0);

    CHECK_OK(mqttkit_client_new(o, &c));
    CHECK(c != NULL);
    CHECK_RESULT(mqttkit_client_publish(c, NULL, NULL, 0, 0, false, NULL, 0, NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_publish(c, "t", NULL, 4, 0, false, NULL, 0, NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_subscribe_sync(c, NULL, 0, 0, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_auth(c, false, NULL, NULL, 0, 0, NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_auth_sync(c, false, NULL, NULL, 0, 0, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_auth(c, true, NULL, (const uint8_t *)"x", 1, 0, NULL, NULL), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_client_subscribe_many(c, NULL, 1, NULL, 0, NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_unsubscribe_many_sync(c, NULL, 1, NULL, 0), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_disconnect_with_reason(NULL, 0, NULL, 0, NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_disconnect_with_reason_sync(NULL, 0, NULL, 0), MQTTKIT_RESULT_NULL_PARAMETER);
    mqttkit_client_free(c);
    mqttkit_client_options_free(o);

    CHECK(mqttkit_message_topic(NULL) == NULL);
    size_t len = 7;
    CHECK(mqttkit_message_payload(NULL, &len) == NULL && len == 0);
    CHECK(mqttkit_message_qos(NULL) == 0);
    CHECK(!mqttkit_message_retain(NULL));
    CHECK(mqttkit_message_payload_format(NULL) == -1);
    CHECK(mqttkit_message_user_property_count(NULL) == 0);
    CHECK_RESULT(mqttkit_message_user_property(NULL, 0, NULL, NULL, NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_message_ack(NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK(mqttkit_message_copy(NULL) == NULL);
    CHECK_RESULT(mqttkit_publish_options_set_content_type(NULL, "x"), MQTTKIT_RESULT_NULL_PARAMETER);
}

static void test_free_null_is_a_no_op(void) {
    mqttkit_client_options_free(NULL);
    mqttkit_client_free(NULL);
    mqttkit_publish_options_free(NULL);
    mqttkit_message_free(NULL);
    CHECK(1);
}

static void test_invalid_arguments(void) {
    mqttkit_client_options_t *o = mqttkit_client_options_new("mqtt://127.0.0.1:1");
    const char bad_utf8[] = {'a', (char)0xff, 0};
    CHECK_RESULT(mqttkit_client_options_set_client_id(o, bad_utf8), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_client_options_set_protocol_version(o, 3), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_client_options_set_will(o, "w", NULL, 0, 3, false), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_client_options_add_auto_subscribe(o, "a/#", -1), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_OK(mqttkit_client_options_validate(o));
    mqttkit_client_t *c = NULL;
    CHECK_OK(mqttkit_client_new(o, &c));
    CHECK_RESULT(mqttkit_client_publish(c, "a/+", NULL, 0, 0, false, NULL, 0, NULL, NULL), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_client_publish(c, "a/b", NULL, 0, 3, false, NULL, 0, NULL, NULL), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_client_publish_sync(c, "", NULL, 0, 0, false, NULL, 0, NULL), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_client_subscribe(c, "a/#/b", 0, 0, NULL, NULL), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_client_subscribe_sync(c, "a/b", 7, 0, NULL), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_client_subscribe_sync(c, bad_utf8, 0, 0, NULL), MQTTKIT_RESULT_INVALID_ARGUMENT);
    char detail[256];
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "UTF-8") != NULL);
    mqttkit_client_free(c);
    mqttkit_client_options_free(o);

    mqttkit_publish_options_t *p = mqttkit_publish_options_new();
    CHECK(p != NULL);
    CHECK_RESULT(mqttkit_publish_options_set_topic_alias(p, 0), MQTTKIT_RESULT_INVALID_ARGUMENT);
    mqttkit_publish_options_free(p);
}

static void test_invalid_configuration(void) {
    mqttkit_client_options_t *o = mqttkit_client_options_new("mqtt://127.0.0.1:1");
    CHECK_OK(mqttkit_client_options_set_protocol_version(o, 4));
    CHECK_OK(mqttkit_client_options_set_session_expiry_interval(o, 60));
    CHECK_RESULT(mqttkit_client_options_validate(o), MQTTKIT_RESULT_INVALID_CONFIGURATION);
    char detail[256];
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "session_expiry_interval") != NULL);
    mqttkit_client_t *c = (mqttkit_client_t *)0x1;
    CHECK_RESULT(mqttkit_client_new(o, &c), MQTTKIT_RESULT_INVALID_CONFIGURATION);
    CHECK(c == (mqttkit_client_t *)0x1); /* out-parameter untouched on failure */
    mqttkit_client_options_free(o);

    o = mqttkit_client_options_new("gopher://nowhere");
    CHECK_RESULT(mqttkit_client_options_validate(o), MQTTKIT_RESULT_INVALID_CONFIGURATION);
    mqttkit_client_options_free(o);

    o = mqttkit_client_options_new("mqtt://127.0.0.1:1");
    CHECK_OK(mqttkit_client_options_set_reconnect(o, true, 5000, 1000, 2.0, 0.1, 0));
    CHECK_RESULT(mqttkit_client_options_validate(o), MQTTKIT_RESULT_INVALID_CONFIGURATION);
    mqttkit_client_options_free(o);
}

static void test_every_option_setter(void) {
    mqttkit_client_options_t *o = mqttkit_client_options_new("mqtt://127.0.0.1:1");
    const uint8_t password[] = {'p', 'w'};
    CHECK_OK(mqttkit_client_options_set_client_id(o, "every-option"));
    CHECK_OK(mqttkit_client_options_set_protocol_version(o, 5));
    CHECK_OK(mqttkit_client_options_set_clean_start(o, true));
    CHECK_OK(mqttkit_client_options_set_keep_alive(o, 30));
    CHECK_OK(mqttkit_client_options_set_credentials(o, "user", password, sizeof password));
    CHECK_OK(mqttkit_client_options_set_will(o, "will/topic", (const uint8_t *)"bye", 3, 1, true));
    CHECK_OK(mqttkit_client_options_set_session_expiry_interval(o, 0));
    CHECK_OK(mqttkit_client_options_set_sessionless(o, false));
    CHECK_OK(mqttkit_client_options_set_auto_ack(o, true));
    CHECK_OK(mqttkit_client_options_set_maximum_packet_size(o, 1 << 20));
    CHECK_OK(mqttkit_client_options_set_request_response_information(o, false));
    CHECK_OK(mqttkit_client_options_set_request_problem_information(o, true));
    CHECK_OK(mqttkit_client_options_set_receive_maximum(o, 100));
    CHECK_OK(mqttkit_client_options_set_max_inflight(o, 100));
    CHECK_OK(mqttkit_client_options_set_topic_alias_maximum(o, 10));
    CHECK_OK(mqttkit_client_options_set_auto_topic_alias(o, true));
    CHECK_OK(mqttkit_client_options_set_command_queue_size(o, 64));
    CHECK_OK(mqttkit_client_options_set_tcp_nodelay(o, true));
    CHECK_OK(mqttkit_client_options_set_offline_buffer(o, true, 10));
    CHECK_OK(mqttkit_client_options_set_reconnect(o, true, 100, 1000, 2.0, 0.2, 3));
    CHECK_OK(mqttkit_client_options_set_timeouts(o, 1000, 1000, 1000, 1000, 1000, 1000));
    CHECK_OK(mqttkit_client_options_add_user_property(o, "k", "v"));
    CHECK_OK(mqttkit_client_options_add_auto_subscribe(o, "auto/#", 1));
    CHECK_OK(mqttkit_client_options_set_will_delay_interval(o, 5));
    CHECK_OK(mqttkit_client_options_set_will_payload_utf8(o, true));
    CHECK_OK(mqttkit_client_options_set_will_message_expiry(o, 60));
    CHECK_OK(mqttkit_client_options_set_will_content_type(o, "text/plain"));
    CHECK_OK(mqttkit_client_options_set_will_response_topic(o, "will/reply"));
    CHECK_OK(mqttkit_client_options_set_will_correlation_data(o, (const uint8_t *)"c", 1));
    CHECK_OK(mqttkit_client_options_add_will_user_property(o, "wk", "wv"));
    CHECK_OK(mqttkit_client_options_validate(o));
    mqttkit_client_t *c = NULL;
    CHECK_OK(mqttkit_client_new(o, &c));
    mqttkit_client_options_free(o); /* the client keeps what it needs */
    CHECK(!mqttkit_client_is_connected(c));
    mqttkit_client_free(c);

    mqttkit_publish_options_t *p = mqttkit_publish_options_new();
    CHECK_OK(mqttkit_publish_options_set_content_type(p, "text/plain"));
    CHECK_OK(mqttkit_publish_options_set_response_topic(p, "reply/here"));
    CHECK_OK(mqttkit_publish_options_set_correlation_data(p, (const uint8_t *)"id", 2));
    CHECK_OK(mqttkit_publish_options_set_message_expiry(p, 60));
    CHECK_OK(mqttkit_publish_options_set_payload_utf8(p, true));
    CHECK_OK(mqttkit_publish_options_set_topic_alias(p, 1));
    CHECK_OK(mqttkit_publish_options_add_user_property(p, "a", "b"));
    mqttkit_publish_options_free(p);

    mqttkit_subscribe_options_t *so = mqttkit_subscribe_options_new();
    CHECK(so != NULL);
    CHECK_OK(mqttkit_subscribe_options_set_subscription_identifier(so, 268435455));
    CHECK_RESULT(mqttkit_subscribe_options_set_subscription_identifier(so, 0), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_subscribe_options_set_subscription_identifier(so, 268435456), MQTTKIT_RESULT_INVALID_ARGUMENT);
    char detail[256];
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "subscription identifier") != NULL);
    CHECK_OK(mqttkit_subscribe_options_add_user_property(so, "a", "b"));
    CHECK_RESULT(mqttkit_subscribe_options_add_user_property(so, "a", NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    mqttkit_subscribe_options_free(so);
    mqttkit_unsubscribe_options_t *uo = mqttkit_unsubscribe_options_new();
    CHECK(uo != NULL);
    CHECK_OK(mqttkit_unsubscribe_options_add_user_property(uo, "a", "b"));
    mqttkit_unsubscribe_options_free(uo);
    mqttkit_disconnect_options_t *d = mqttkit_disconnect_options_new();
    CHECK(d != NULL);
    CHECK_OK(mqttkit_disconnect_options_set_session_expiry_interval(d, 0));
    CHECK_OK(mqttkit_disconnect_options_set_reason_string(d, "bye"));
    CHECK_OK(mqttkit_disconnect_options_set_server_reference(d, "other:1883"));
    CHECK_OK(mqttkit_disconnect_options_add_user_property(d, "a", "b"));
    mqttkit_disconnect_options_free(d);
}

/* Options objects refuse NULL; every _free accepts it. */
static void test_call_options_and_new_setters_refuse_null(void) {
    CHECK_RESULT(mqttkit_subscribe_options_set_subscription_identifier(NULL, 1), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_subscribe_options_add_user_property(NULL, "a", "b"), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_unsubscribe_options_add_user_property(NULL, "a", "b"), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_disconnect_options_set_session_expiry_interval(NULL, 1), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_disconnect_options_set_reason_string(NULL, "x"), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_disconnect_options_set_server_reference(NULL, "x"), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_disconnect_options_add_user_property(NULL, "a", "b"), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_set_will_delay_interval(NULL, 1), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_set_will_payload_utf8(NULL, true), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_set_will_message_expiry(NULL, 1), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_set_will_content_type(NULL, "x"), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_set_will_response_topic(NULL, "x"), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_set_will_correlation_data(NULL, NULL, 0), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_add_will_user_property(NULL, "a", "b"), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_add_tls_ca_pem(NULL, NULL, 0), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_add_tls_ca_file(NULL, "x"), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_set_tls_client_cert_pem(NULL, NULL, 0, NULL, 0), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_set_tls_client_cert_file(NULL, "a", "b"), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_set_tls_server_name(NULL, "x"), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_add_tls_alpn(NULL, "mqtt"), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_set_tls_insecure_skip_verify(NULL, true), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_set_scram_sha256(NULL, "u", "p"), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_add_auto_subscription(NULL, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    mqttkit_client_options_t *o = mqttkit_client_options_new("mqtts://127.0.0.1:1");
    CHECK_RESULT(mqttkit_client_options_set_will_content_type(o, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_set_will_correlation_data(o, NULL, 3), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_add_tls_ca_file(o, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_set_tls_client_cert_file(o, "a", NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_add_tls_alpn(o, ""), MQTTKIT_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(mqttkit_client_options_set_scram_sha256(o, "u", NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    CHECK_RESULT(mqttkit_client_options_add_auto_subscription(o, NULL), MQTTKIT_RESULT_NULL_PARAMETER);
    mqttkit_subscription_t bad = {.filter = "a/#/b", .qos = 1};
    CHECK_OK(mqttkit_client_options_add_auto_subscription(o, &bad));
    CHECK_RESULT(mqttkit_client_options_validate(o), MQTTKIT_RESULT_INVALID_CONFIGURATION);
    bad.retain_handling = 9;
    CHECK_RESULT(mqttkit_client_options_add_auto_subscription(o, &bad), MQTTKIT_RESULT_INVALID_ARGUMENT);
    mqttkit_client_options_free(o);
    mqttkit_subscribe_options_free(NULL);
    mqttkit_unsubscribe_options_free(NULL);
    mqttkit_disconnect_options_free(NULL);
}

/* Will properties need a will, and MQTT 5. */
static void test_will_properties_need_a_v5_will(void) {
    mqttkit_client_options_t *o = mqttkit_client_options_new("mqtt://127.0.0.1:1");
    CHECK_OK(mqttkit_client_options_set_will_delay_interval(o, 5));
    CHECK_RESULT(mqttkit_client_options_validate(o), MQTTKIT_RESULT_INVALID_CONFIGURATION);
    char detail[256];
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "mqttkit_client_options_set_will") != NULL);
    CHECK_OK(mqttkit_client_options_set_will(o, "w", NULL, 0, 0, false));
    CHECK_OK(mqttkit_client_options_validate(o));
    CHECK_OK(mqttkit_client_options_set_protocol_version(o, 4));
    CHECK_RESULT(mqttkit_client_options_validate(o), MQTTKIT_RESULT_INVALID_CONFIGURATION);
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "MQTT 5") != NULL);
    mqttkit_client_options_free(o);
}

/* Broken PEM texts and files fail at the setter with a message naming what was wrong; TLS
 * settings need an mqtts:// URL. */
static void test_tls_settings_errors(void) {
    char detail[256];
    mqttkit_client_options_t *o = mqttkit_client_options_new("mqtts://127.0.0.1:1");
    const char broken[] = "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n";
    CHECK_RESULT(mqttkit_client_options_add_tls_ca_pem(o, (const uint8_t *)broken, strlen(broken)),
                 MQTTKIT_RESULT_INVALID_ARGUMENT);
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "CA certificate") != NULL);
    const char none[] = "just text, no PEM";
    CHECK_RESULT(mqttkit_client_options_add_tls_ca_pem(o, (const uint8_t *)none, strlen(none)),
                 MQTTKIT_RESULT_INVALID_ARGUMENT);
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "no certificate") != NULL);
    CHECK_RESULT(mqttkit_client_options_add_tls_ca_file(o, "/nonexistent/ca.pem"), MQTTKIT_RESULT_INVALID_ARGUMENT);
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "/nonexistent/ca.pem") != NULL);
    CHECK_RESULT(mqttkit_client_options_set_tls_client_cert_pem(o, (const uint8_t *)none, strlen(none),
                                                                (const uint8_t *)none, strlen(none)),
                 MQTTKIT_RESULT_INVALID_ARGUMENT);
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "client certificate") != NULL);
    CHECK_RESULT(mqttkit_client_options_set_tls_client_cert_file(o, "/nonexistent/c.pem", "/nonexistent/k.pem"),
                 MQTTKIT_RESULT_INVALID_ARGUMENT);
    /* Failed setters leave nothing behind: the options still work. */
    CHECK_OK(mqttkit_client_options_validate(o));
    CHECK_OK(mqttkit_client_options_set_tls_server_name(o, "not a valid name!"));
    CHECK_RESULT(mqttkit_client_options_validate(o), MQTTKIT_RESULT_INVALID_CONFIGURATION);
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "server name") != NULL);
    mqttkit_client_options_free(o);

    o = mqttkit_client_options_new("mqtt://127.0.0.1:1");
    CHECK_OK(mqttkit_client_options_set_tls_insecure_skip_verify(o, true));
    CHECK_OK(mqttkit_client_options_add_tls_alpn(o, "mqtt"));
    CHECK_RESULT(mqttkit_client_options_validate(o), MQTTKIT_RESULT_INVALID_CONFIGURATION);
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "mqtts://") != NULL);
    mqttkit_client_options_free(o);
}

static void test_panic_is_caught_at_the_boundary(void) {
    CHECK_RESULT(mqttkit_debug_panic(), MQTTKIT_RESULT_PANIC);
    char detail[256];
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "panic") != NULL);
    /* The library keeps working after a caught panic. */
    CHECK(strcmp(mqttkit_result_str(0), "OK") == 0);
}

static void test_operations_on_an_unconnected_client(void) {
    mqttkit_client_options_t *o = mqttkit_client_options_new("mqtt://127.0.0.1:1");
    CHECK_OK(mqttkit_client_options_set_offline_buffer(o, false, 0));
    CHECK_OK(mqttkit_client_options_set_reconnect(o, false, 1000, 30000, 2.0, 0.2, 0));
    mqttkit_client_t *c = NULL;
    CHECK_OK(mqttkit_client_new(o, &c));
    mqttkit_client_options_free(o);
    CHECK_RESULT(mqttkit_client_publish_sync(c, "a", (const uint8_t *)"x", 1, 1, false, NULL, 2000, NULL),
                 MQTTKIT_RESULT_NOT_CONNECTED);
    CHECK_RESULT(mqttkit_client_ping_sync(c, 2000, NULL), MQTTKIT_RESULT_NOT_CONNECTED);
    /* Nothing listens on port 1. */
    CHECK_RESULT(mqttkit_client_connect_sync(c, 5000, NULL), MQTTKIT_RESULT_NETWORK);
    mqttkit_client_free(c);
    CHECK_OK(mqttkit_wait_idle(5000));
}

int main(void) {
    RUN(test_version_matches_header);
    RUN(test_result_codes_are_stable_and_named);
    RUN(test_last_error_is_per_thread_and_truncates);
    RUN(test_last_error_of_another_thread_is_empty);
    RUN(test_null_arguments_are_refused);
    RUN(test_free_null_is_a_no_op);
    RUN(test_invalid_arguments);
    RUN(test_invalid_configuration);
    RUN(test_every_option_setter);
    RUN(test_call_options_and_new_setters_refuse_null);
    RUN(test_will_properties_need_a_v5_will);
    RUN(test_tls_settings_errors);
    RUN(test_panic_is_caught_at_the_boundary);
    RUN(test_operations_on_an_unconnected_client);
    return harness_summary();
}

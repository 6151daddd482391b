/* libmqttkit over TLS (mqtts://) against a private Mosquitto with two TLS listeners: one
 * that only authenticates itself, one that requires a client certificate (mutual TLS).
 * The certificates (ca.pem, server.pem/.key, client.pem/.key) are made by test.sh with
 * openssl into the directory named by MQTTKIT_TEST_TLS_DIR; without it every case is
 * reported as SKIPPED. */
#include "harness.h"

static const char *g_dir;
static int g_timeout_ms = 10000;
static pid_t g_mosquitto;
static int g_port, g_mtls_port;
static char g_conf[128];

typedef struct {
    waiter_t w;
    int messages;
    int certificates;
    size_t certificate_len;
    unsigned char certificate_first_byte;
} tls_ctx_t;

static void on_message(void *ud, const mqttkit_message_t *m) {
    tls_ctx_t *c = ud;
    (void)m;
    pthread_mutex_lock(&c->w.lock);
    c->messages++;
    pthread_cond_broadcast(&c->w.changed);
    pthread_mutex_unlock(&c->w.lock);
}

static void on_certificate(void *ud, const uint8_t *der, size_t len) {
    tls_ctx_t *c = ud;
    pthread_mutex_lock(&c->w.lock);
    c->certificates++;
    c->certificate_len = len;
    c->certificate_first_byte = len > 0 ? der[0] : 0;
    pthread_cond_broadcast(&c->w.changed);
    pthread_mutex_unlock(&c->w.lock);
}

static void path_of(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", g_dir, name);
}

/* Reads a whole file into a malloc'd buffer (NULL on failure). */
static uint8_t *read_all(const char *name, size_t *len) {
    char path[512];
    path_of(path, sizeof path, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = malloc(65536);
    *len = buf ? fread(buf, 1, 65536, f) : 0;
    fclose(f);
    return buf;
}

static int start_tls_mosquitto(void) {
    g_port = free_port();
    g_mtls_port = free_port();
    if (g_port <= 0 || g_mtls_port <= 0 || g_port == g_mtls_port) return -1;
    snprintf(g_conf, sizeof g_conf, "/tmp/mqttkit-c-tls-%d.conf", g_port);
    FILE *f = fopen(g_conf, "w");
    if (!f) return -1;
    fprintf(f, "allow_anonymous true\npersistence false\nlog_type none\n");
    for (int i = 0; i < 2; i++) {
        fprintf(f, "listener %d 127.0.0.1\ncafile %s/ca.pem\ncertfile %s/server.pem\nkeyfile %s/server.key\n",
                i == 0 ? g_port : g_mtls_port, g_dir, g_dir, g_dir);
        if (i == 1) fprintf(f, "require_certificate true\n");
    }
    fclose(f);
    const char *bin = getenv("MOSQUITTO") ? getenv("MOSQUITTO") : "/usr/sbin/mosquitto";
    char *argv[] = {(char *)bin, (char *)"-c", g_conf, NULL};
    if (posix_spawn(&g_mosquitto, bin, NULL, NULL, argv, environ) != 0) return -1;
    for (int i = 0; i < 1000; i++) {
        if (port_accepts(g_port) && port_accepts(g_mtls_port)) return 0;
        struct timespec step = {0, 10 * 1000000L};
        nanosleep(&step, NULL);
    }
    return -1;
}

static void stop_tls_mosquitto(void) {
    if (g_mosquitto > 0) {
        kill(g_mosquitto, SIGTERM);
        waitpid(g_mosquitto, NULL, 0);
    }
    unlink(g_conf);
}

static mqttkit_client_options_t *options_for(int port) {
    char url[64];
    snprintf(url, sizeof url, "mqtts://127.0.0.1:%d", port);
    mqttkit_client_options_t *o = mqttkit_client_options_new(url);
    CHECK_OK(mqttkit_client_options_set_reconnect(o, false, 1000, 30000, 2.0, 0.2, 0));
    return o;
}

/* Connects with `o` (freed here); returns the connect result and keeps the last error. */
static mqttkit_result try_connect(mqttkit_client_options_t *o, char *detail, size_t cap) {
    mqttkit_client_t *client = NULL;
    mqttkit_result r = mqttkit_client_new(o, &client);
    mqttkit_client_options_free(o);
    if (r != MQTTKIT_RESULT_OK) return r;
    r = mqttkit_client_connect_sync(client, (uint32_t)g_timeout_ms, NULL);
    mqttkit_last_error(detail, cap);
    mqttkit_client_free(client);
    return r;
}

/* Server authentication with the CA from a file: a full round trip, and the peer
 * certificate event with the server's DER certificate. */
static void test_mqtts_with_ca_file_round_trip(void) {
    tls_ctx_t c;
    memset(&c, 0, sizeof c);
    waiter_init(&c.w);
    mqttkit_client_options_t *o = options_for(g_port);
    char path[512];
    path_of(path, sizeof path, "ca.pem");
    CHECK_OK(mqttkit_client_options_add_tls_ca_file(o, path));
    mqttkit_client_t *client = NULL;
    CHECK_OK(mqttkit_client_new(o, &client));
    mqttkit_client_options_free(o);
    CHECK_OK(mqttkit_client_set_message_callback(client, on_message, &c));
    CHECK_OK(mqttkit_client_set_peer_certificate_callback(client, on_certificate, &c));
    CHECK_OK(mqttkit_client_connect_sync(client, (uint32_t)g_timeout_ms, NULL));
    CHECK_OK(mqttkit_client_subscribe_sync(client, "tls/#", 1, (uint32_t)g_timeout_ms, NULL));
    CHECK_OK(mqttkit_client_publish_sync(client, "tls/a", (const uint8_t *)"secret", 6, 1, false, NULL,
                                         (uint32_t)g_timeout_ms, NULL));
    CHECK(WAIT_FOR(&c.w, g_timeout_ms, c.messages == 1 && c.certificates >= 1));
    CHECK(c.certificate_len > 100 && c.certificate_first_byte == 0x30); /* DER SEQUENCE */
    mqttkit_client_free(client);
    waiter_destroy(&c.w);
}

/* The CA from memory, verified against another name than the URL's host, with ALPN. */
static void test_mqtts_with_ca_pem_server_name_and_alpn(void) {
    size_t len = 0;
    uint8_t *ca = read_all("ca.pem", &len);
    CHECK(ca != NULL && len > 0);
    char detail[512];
    mqttkit_client_options_t *o = options_for(g_port);
    CHECK_OK(mqttkit_client_options_add_tls_ca_pem(o, ca, len));
    CHECK_OK(mqttkit_client_options_set_tls_server_name(o, "localhost"));
    CHECK_OK(mqttkit_client_options_add_tls_alpn(o, "mqtt"));
    CHECK_RESULT(try_connect(o, detail, sizeof detail), MQTTKIT_RESULT_OK);

    /* A name the certificate does not carry is refused. */
    o = options_for(g_port);
    CHECK_OK(mqttkit_client_options_add_tls_ca_pem(o, ca, len));
    CHECK_OK(mqttkit_client_options_set_tls_server_name(o, "wrong.example"));
    mqttkit_result r = try_connect(o, detail, sizeof detail);
    CHECK(r == MQTTKIT_RESULT_NETWORK);
    CHECK(strstr(detail, "certificate") != NULL);
    free(ca);
}

/* Without our CA the server is not trusted (the Mozilla roots do not know it), unless
 * verification is switched off. */
static void test_untrusted_server_and_insecure_skip_verify(void) {
    char detail[512];
    mqttkit_result r = try_connect(options_for(g_port), detail, sizeof detail);
    CHECK(r == MQTTKIT_RESULT_NETWORK);
    CHECK(strstr(detail, "certificate") != NULL);
    mqttkit_client_options_t *o = options_for(g_port);
    CHECK_OK(mqttkit_client_options_set_tls_insecure_skip_verify(o, true));
    CHECK_RESULT(try_connect(o, detail, sizeof detail), MQTTKIT_RESULT_OK);
}

/* Mutual TLS: the second listener requires a client certificate signed by the CA. */
static void test_mutual_tls(void) {
    char ca[512], cert[512], key[512], detail[512];
    path_of(ca, sizeof ca, "ca.pem");
    path_of(cert, sizeof cert, "client.pem");
    path_of(key, sizeof key, "client.key");

    mqttkit_client_options_t *o = options_for(g_mtls_port);
    CHECK_OK(mqttkit_client_options_add_tls_ca_file(o, ca));
    CHECK(try_connect(o, detail, sizeof detail) != MQTTKIT_RESULT_OK);

    o = options_for(g_mtls_port);
    CHECK_OK(mqttkit_client_options_add_tls_ca_file(o, ca));
    CHECK_OK(mqttkit_client_options_set_tls_client_cert_file(o, cert, key));
    CHECK_RESULT(try_connect(o, detail, sizeof detail), MQTTKIT_RESULT_OK);

    size_t cert_len = 0, key_len = 0;
    uint8_t *cert_pem = read_all("client.pem", &cert_len);
    uint8_t *key_pem = read_all("client.key", &key_len);
    CHECK(cert_pem && key_pem);
    o = options_for(g_mtls_port);
    CHECK_OK(mqttkit_client_options_add_tls_ca_file(o, ca));
    CHECK_OK(mqttkit_client_options_set_tls_client_cert_pem(o, cert_pem, cert_len, key_pem, key_len));
    CHECK_RESULT(try_connect(o, detail, sizeof detail), MQTTKIT_RESULT_OK);

    /* A key that does not belong to the certificate is refused by the setter. */
    size_t other_len = 0;
    uint8_t *other_key = read_all("server.key", &other_len);
    o = options_for(g_mtls_port);
    CHECK_RESULT(mqttkit_client_options_set_tls_client_cert_pem(o, cert_pem, cert_len, other_key, other_len),
                 MQTTKIT_RESULT_INVALID_ARGUMENT);
    mqttkit_last_error(detail, sizeof detail);
    CHECK(strstr(detail, "client certificate and key") != NULL);
    mqttkit_client_options_free(o);
    free(other_key);
    free(cert_pem);
    free(key_pem);
}

int main(void) {
    if (getenv("MQTTKIT_TEST_SLOW")) g_timeout_ms = 30000;
    g_dir = getenv("MQTTKIT_TEST_TLS_DIR");
    if (!g_dir || !*g_dir) {
        printf("SKIPPED: test_tls (MQTTKIT_TEST_TLS_DIR is not set; test.sh sets it when openssl can make "
               "the certificates)\n");
        return harness_summary();
    }
    if (start_tls_mosquitto() != 0) {
        fprintf(stderr, "cannot start mosquitto with TLS listeners\n");
        stop_tls_mosquitto();
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_mqtts_with_ca_file_round_trip);
    RUN(test_mqtts_with_ca_pem_server_name_and_alpn);
    RUN(test_untrusted_server_and_insecure_skip_verify);
    RUN(test_mutual_tls);
    stop_tls_mosquitto();
    CHECK_OK(mqttkit_wait_idle(1000));
    return harness_summary();
}

/* Publish throughput, mqttkit vs libmosquitto, side by side (not a test).
 *
 * Rows: QoS 0 and QoS 1, 64-byte payloads, MQTT 3.1.1, one client, against
 *   - sink:      a do-nothing MQTT listener in this program (CONNACK, PUBACK, PINGRESP only)
 *   - mosquitto: a private Mosquitto on a free port (no subscribers)
 * QoS 0 counts until every message is written to the socket (mqttkit: a PINGRESP after the
 * last publish; libmosquitto: on_publish for the last one). QoS 1 counts until every PUBACK
 * arrived (published events / on_publish). Both clients use fire-and-forget publishes; for
 * QoS 1 the publishing loop keeps at most INFLIGHT messages unacknowledged (libmosquitto
 * slows down badly when a whole run is queued at once: 42k msg/s against the sink).
 *
 * Build and run: bash bindings-c/bench/run.sh  (release build, installs into a temp prefix)
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <mosquitto.h>
#include <mqttkit.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define PAYLOAD 64
#define TOPIC "bench/topic"
#define INFLIGHT 1000 /* QoS 1 window of both clients */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- the sink ---------------------------------------------------------------------------- */

static void *sink_connection(void *arg) {
    int fd = (int)(intptr_t)arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    size_t cap = 1 << 20, len = 0;
    unsigned char *buf = malloc(cap);
    unsigned char *out = malloc(cap);
    int v5 = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n <= 0) break;
        len += (size_t)n;
        size_t pos = 0, olen = 0;
        int closing = 0;
        while (len - pos >= 2) {
            size_t i = pos + 1, rem = 0, mult = 1;
            int complete = 0;
            while (i < len && i < pos + 5) {
                rem += (buf[i] & 127) * mult;
                mult *= 128;
                if (!(buf[i++] & 128)) { complete = 1; break; }
            }
            if (!complete || len - i < rem) break;
            unsigned type = buf[pos] >> 4;
            unsigned char *body = buf + i;
            if (type == 1) { /* CONNECT */
                v5 = rem > 6 && body[6] == 5;
                if (v5) { memcpy(out + olen, "\x20\x03\x00\x00\x00", 5); olen += 5; }
                else { memcpy(out + olen, "\x20\x02\x00\x00", 4); olen += 4; }
            } else if (type == 3) { /* PUBLISH */
                unsigned qos = (buf[pos] >> 1) & 3;
                if (qos > 0) {
                    size_t tl = ((size_t)body[0] << 8) | body[1];
                    out[olen++] = qos == 1 ? 0x40 : 0x50;
                    out[olen++] = 2;
                    out[olen++] = body[2 + tl];
                    out[olen++] = body[3 + tl];
                }
            } else if (type == 6) { /* PUBREL -> PUBCOMP */
                out[olen++] = 0x70; out[olen++] = 2; out[olen++] = body[0]; out[olen++] = body[1];
            } else if (type == 12) { /* PINGREQ */
                out[olen++] = 0xD0; out[olen++] = 0;
            } else if (type == 14) { /* DISCONNECT */
                closing = 1;
            }
            pos = i + rem;
            if (olen > cap - 16) {
                if (write(fd, out, olen) < 0) closing = 1;
                olen = 0;
            }
        }
        if (olen > 0 && write(fd, out, olen) < 0) closing = 1;
        memmove(buf, buf + pos, len - pos);
        len -= pos;
        if (closing) break;
    }
    (void)v5;
    close(fd);
    free(buf);
    free(out);
    return NULL;
}

static void *sink_accept(void *arg) {
    int listener = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) break;
        pthread_t t;
        pthread_create(&t, NULL, sink_connection, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
    return NULL;
}

static int start_sink(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) || listen(fd, 16) ||
        getsockname(fd, (struct sockaddr *)&addr, &len))
        return -1;
    pthread_t t;
    pthread_create(&t, NULL, sink_accept, (void *)(intptr_t)fd);
    pthread_detach(t);
    return ntohs(addr.sin_port);
}

/* ---- private brokers: Mosquitto and mqttkit's, each its own process ---------------------- */

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    bind(fd, (struct sockaddr *)&addr, sizeof addr);
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);
    return ntohs(addr.sin_port);
}

/* Starts `argv` and waits (at most 10 s) until it accepts connections on `port`. */
static int spawn_broker(char *const argv[], int port, pid_t *pid) {
    if (posix_spawn(pid, argv[0], NULL, NULL, argv, environ)) return -1;
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    for (int i = 0; i < 1000; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        int ok = connect(s, (struct sockaddr *)&addr, sizeof addr) == 0;
        close(s);
        if (ok) return port;
        struct timespec step = {0, 10 * 1000000L};
        nanosleep(&step, NULL);
    }
    return -1;
}

static void stop_broker(pid_t pid) {
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static pid_t mosquitto_pid;
static char mosquitto_conf[64];

static int start_mosquitto(void) {
    int port = free_port();
    snprintf(mosquitto_conf, sizeof mosquitto_conf, "/tmp/mqttkit-c-bench-%d.conf", port);
    FILE *f = fopen(mosquitto_conf, "w");
    fprintf(f, "listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nlog_type none\n"
               "max_queued_messages 0\nmax_inflight_messages 0\n", port);
    fclose(f);
    char *argv[] = {(char *)"/usr/sbin/mosquitto", (char *)"-c", mosquitto_conf, NULL};
    return spawn_broker(argv, port, &mosquitto_pid);
}

static pid_t mqttkit_broker_pid;

/* `mqttkit broker` (the release CLI named by $MQTTKIT_BROKER_BIN; run.sh builds it). */
static int start_mqttkit_broker(void) {
    const char *bin = getenv("MQTTKIT_BROKER_BIN");
    if (bin == NULL) return -1;
    int port = free_port();
    char bind_addr[32];
    snprintf(bind_addr, sizeof bind_addr, "127.0.0.1:%d", port);
    char *argv[] = {(char *)bin, (char *)"broker", (char *)"--bind", bind_addr, (char *)"--log", (char *)"error", NULL};
    return spawn_broker(argv, port, &mqttkit_broker_pid);
}

/* ---- completion counting ---------------------------------------------------------------- */

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static long acked;

static void count_one(void) {
    pthread_mutex_lock(&done_lock);
    acked++;
    pthread_cond_broadcast(&done_cond);
    pthread_mutex_unlock(&done_lock);
}

/* QoS 1: the publisher keeps at most INFLIGHT messages unacknowledged (both clients), so
 * neither queues the whole run in memory. */
static void wait_window(long sent) {
    pthread_mutex_lock(&done_lock);
    while (sent - acked >= INFLIGHT) pthread_cond_wait(&done_cond, &done_lock);
    pthread_mutex_unlock(&done_lock);
}

static int wait_acked(long n, int seconds) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += seconds;
    pthread_mutex_lock(&done_lock);
    int rc = 0;
    while (acked < n && rc == 0) rc = pthread_cond_timedwait(&done_cond, &done_lock, &deadline);
    int ok = acked >= n;
    pthread_mutex_unlock(&done_lock);
    return ok;
}

/* ---- mqttkit ------------------------------------------------------------------------------ */

static void on_published(void *ud, uint16_t packet_id, uint8_t reason) {
    (void)ud; (void)packet_id; (void)reason;
    count_one();
}

static double run_mqttkit(int port, int qos, long n) {
    char url[64];
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%d", port);
    mqttkit_client_options_t *o = mqttkit_client_options_new(url);
    mqttkit_client_options_set_protocol_version(o, 4);
    mqttkit_client_options_set_client_id(o, "bench-mqttkit");
    mqttkit_client_options_set_command_queue_size(o, 8192);
    mqttkit_client_options_set_max_inflight(o, INFLIGHT);
    mqttkit_client_options_set_timeouts(o, 10000, 60000, 10000, 10000, 60000, 10000);
    mqttkit_client_t *c = NULL;
    if (mqttkit_client_new(o, &c) != MQTTKIT_RESULT_OK) return -1;
    mqttkit_client_options_free(o);
    mqttkit_client_set_published_callback(c, on_published, NULL);
    if (mqttkit_client_connect_sync(c, 10000, NULL) != MQTTKIT_RESULT_OK) return -1;
    uint8_t payload[PAYLOAD];
    memset(payload, 'x', sizeof payload);
    acked = 0;
    double start = now();
    for (long i = 0; i < n; i++) {
        if (qos > 0) wait_window(i);
        mqttkit_result r = mqttkit_client_publish(c, TOPIC, payload, sizeof payload, qos, false, NULL, 0, NULL, NULL);
        if (r != MQTTKIT_RESULT_OK) {
            fprintf(stderr, "mqttkit publish: %s\n", mqttkit_result_str(r));
            return -1;
        }
    }
    int ok = qos == 0 ? mqttkit_client_ping_sync(c, 60000, NULL) == MQTTKIT_RESULT_OK : wait_acked(n, 120);
    double elapsed = now() - start;
    mqttkit_client_free(c);
    return ok ? (double)n / elapsed : -1;
}

/* ---- libmosquitto ------------------------------------------------------------------------- */

static void mosq_on_publish(struct mosquitto *m, void *ud, int mid) {
    (void)m; (void)ud; (void)mid;
    count_one();
}

static double run_mosquitto(int port, int qos, long n) {
    struct mosquitto *m = mosquitto_new("bench-libmosquitto", true, NULL);
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_max_inflight_messages_set(m, INFLIGHT);
    mosquitto_publish_callback_set(m, mosq_on_publish);
    if (mosquitto_connect(m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) return -1;
    mosquitto_loop_start(m);
    uint8_t payload[PAYLOAD];
    memset(payload, 'x', sizeof payload);
    acked = 0;
    double start = now();
    for (long i = 0; i < n; i++) {
        if (qos > 0) wait_window(i);
        int rc = mosquitto_publish(m, NULL, TOPIC, PAYLOAD, payload, qos, false);
        if (rc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "mosquitto_publish: %s\n", mosquitto_strerror(rc));
            return -1;
        }
    }
    int ok = wait_acked(n, 120);
    double elapsed = now() - start;
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    return ok ? (double)n / elapsed : -1;
}

int main(int argc, char **argv) {
    long n0 = argc > 1 ? atol(argv[1]) : 500000;
    long n1 = argc > 2 ? atol(argv[2]) : 200000;
    signal(SIGPIPE, SIG_IGN);
    mosquitto_lib_init();
    int sink = start_sink();
    int broker = start_mosquitto();
    int ours = start_mqttkit_broker();
    if (sink < 0 || broker < 0 || ours < 0) {
        fprintf(stderr, "cannot start the sink, mosquitto or mqttkit broker ($MQTTKIT_BROKER_BIN)\n");
        return 1;
    }
    printf("mqttkit %s vs libmosquitto %d, %d-byte payload, MQTT 3.1.1, one client\n\n", mqttkit_version(),
           mosquitto_lib_version(NULL, NULL, NULL), PAYLOAD);
    printf("| target    | QoS | messages | mqttkit msg/s | libmosquitto msg/s | ratio |\n");
    printf("|-----------|-----|----------|---------------|--------------------|-------|\n");
    struct { const char *name; int port; } targets[] = {{"sink", sink}, {"mosquitto", broker}, {"mqttkit", ours}};
    for (int t = 0; t < 3; t++) {
        for (int qos = 0; qos <= 1; qos++) {
            long n = qos == 0 ? n0 : n1;
            double ours = run_mqttkit(targets[t].port, qos, n);
            double theirs = run_mosquitto(targets[t].port, qos, n);
            printf("| %-9s | %d   | %8ld | %13.0f | %18.0f | %5.2f |\n", targets[t].name, qos, n, ours, theirs,
                   theirs > 0 ? ours / theirs : 0.0);
            fflush(stdout);
        }
    }
    stop_broker(mosquitto_pid);
    unlink(mosquitto_conf);
    stop_broker(mqttkit_broker_pid);
    mosquitto_lib_cleanup();
    if (mqttkit_wait_idle(10000) != MQTTKIT_RESULT_OK) fprintf(stderr, "mqttkit threads still running\n");
    return 0;
}

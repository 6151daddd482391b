/* Minimal test harness for the libmqttkit C tests: checks, test registration, a private
 * Mosquitto on a free port, and a condition variable to wait for events with a bounded
 * timeout (no fixed sleeps). */
#ifndef MQTTKIT_TEST_HARNESS_H
#define MQTTKIT_TEST_HARNESS_H

#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mqttkit.h>

extern char **environ;

static int g_case_failed;
static int g_passed, g_failed;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            g_case_failed = 1;                                                             \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                                  \
    } while (0)

#define CHECK_RESULT(expr, expected)                                                       \
    do {                                                                                   \
        mqttkit_result r_ = (expr);                                                        \
        if (r_ != (expected)) {                                                            \
            char detail_[256];                                                             \
            mqttkit_last_error(detail_, sizeof detail_);                                   \
            g_case_failed = 1;                                                             \
            fprintf(stderr, "  %s:%d: %s -> %s, expected %s (last error: %s)\n", __FILE__, \
                    __LINE__, #expr, mqttkit_result_str(r_), mqttkit_result_str(expected), \
                    detail_);                                                              \
        }                                                                                  \
    } while (0)

#define CHECK_OK(expr) CHECK_RESULT(expr, MQTTKIT_RESULT_OK)

#define RUN(test)                                                                          \
    do {                                                                                   \
        g_case_failed = 0;                                                                 \
        fprintf(stderr, "%s ...\n", #test);                                                \
        test();                                                                            \
        if (g_case_failed) {                                                               \
            g_failed++;                                                                    \
            fprintf(stderr, "%s FAILED\n", #test);                                         \
        } else {                                                                           \
            g_passed++;                                                                    \
        }                                                                                  \
    } while (0)

static inline int harness_summary(void) {
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}

/* ---- waiting for events ---------------------------------------------------------------- */

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
} waiter_t;

static inline void waiter_init(waiter_t *w) {
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->changed, NULL);
}

static inline void waiter_destroy(waiter_t *w) {
    pthread_cond_destroy(&w->changed);
    pthread_mutex_destroy(&w->lock);
}

/* Waits until `cond` (an expression read under w->lock) holds, at most `ms`; evaluates to
 * whether it holds. */
#define WAIT_FOR(w, ms, cond)                                                              \
    __extension__({                                                                        \
        struct timespec deadline_;                                                         \
        clock_gettime(CLOCK_REALTIME, &deadline_);                                         \
        deadline_.tv_sec += (ms) / 1000;                                                   \
        deadline_.tv_nsec += ((ms) % 1000) * 1000000L;                                     \
        if (deadline_.tv_nsec >= 1000000000L) {                                            \
            deadline_.tv_sec++;                                                            \
            deadline_.tv_nsec -= 1000000000L;                                              \
        }                                                                                  \
        pthread_mutex_lock(&(w)->lock);                                                    \
        int rc_ = 0;                                                                       \
        while (!(cond) && rc_ != ETIMEDOUT)                                                \
            rc_ = pthread_cond_timedwait(&(w)->changed, &(w)->lock, &deadline_);           \
        int ok_ = (cond) ? 1 : 0;                                                          \
        pthread_mutex_unlock(&(w)->lock);                                                  \
        ok_;                                                                               \
    })

/* ---- a private Mosquitto --------------------------------------------------------------- */

static inline int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(addr.sin_port);
}

static inline int port_accepts(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

typedef struct {
    pid_t pid;
    int port;
    char conf[64];
    char url[64];
} mosquitto_t;

/* Starts Mosquitto on `port` (0: a free one); waits (bounded) until it accepts connections. */
static inline int mosquitto_start(mosquitto_t *m, int port) {
    memset(m, 0, sizeof *m);
    m->port = port > 0 ? port : free_port();
    if (m->port <= 0) return -1;
    snprintf(m->conf, sizeof m->conf, "/tmp/mqttkit-c-test-%d.conf", m->port);
    FILE *f = fopen(m->conf, "w");
    if (!f) return -1;
    fprintf(f, "listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nlog_type none\n", m->port);
    fclose(f);
    const char *bin = getenv("MOSQUITTO") ? getenv("MOSQUITTO") : "/usr/sbin/mosquitto";
    char *argv[] = {(char *)bin, (char *)"-c", m->conf, NULL};
    if (posix_spawn(&m->pid, bin, NULL, NULL, argv, environ) != 0) return -1;
    snprintf(m->url, sizeof m->url, "mqtt://127.0.0.1:%d", m->port);
    /* Bounded readiness poll: up to 10 s in 10 ms steps. */
    for (int i = 0; i < 1000; i++) {
        if (port_accepts(m->port)) return 0;
        struct timespec step = {0, 10 * 1000000L};
        nanosleep(&step, NULL);
    }
    return -1;
}

static inline void mosquitto_stop(mosquitto_t *m) {
    if (m->pid > 0) {
        kill(m->pid, SIGTERM);
        waitpid(m->pid, NULL, 0);
        m->pid = 0;
    }
    if (m->conf[0]) unlink(m->conf);
}

/* A TCP listener that accepts connections and never answers (for timeouts). */
typedef struct {
    int fd;
    int port;
} silent_server_t;

static inline int silent_server_start(silent_server_t *s) {
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s->fd, 8) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&addr, &len) != 0)
        return -1;
    s->port = ntohs(addr.sin_port);
    return 0;
}

static inline void silent_server_stop(silent_server_t *s) {
    if (s->fd >= 0) close(s->fd);
}

/* A fake MQTT 5 server: answers every CONNECT with CONNACK (no session present) and every
 * QoS 2 PUBLISH with PUBREC, every AUTH with AUTH Continue (method "X", data "hi"), and
 * never completes anything else (no PUBACK, no PUBCOMP, no PINGRESP). Connections are
 * served one at a time; fake_server_drop() closes the current one. Under w.lock: `pubrels`
 * counts PUBREL packets received, `count[type]` every packet by type, and `last[type]`
 * (`last_len[type]` bytes) holds the body of the latest one of each type. */
#define FAKE_PACKET_MAX 1024
typedef struct {
    int fd;
    int port;
    int conn;
    int accepted;
    int pubrels;
    int auth_connect; /* answer CONNECT with AUTH Continue, then CONNACK with data "ok" */
    int publish_dup;  /* answer SUBSCRIBE with QoS 1 PUBLISHes "dup/t": id 1, then id 2 flagged DUP */
    int count[16];
    unsigned char last[16][FAKE_PACKET_MAX];
    size_t last_len[16];
    pthread_t thread;
    waiter_t w;
} fake_server_t;

/* Whether the latest packet of `type` the fake server got contains `len` bytes `needle`. */
static inline int fake_server_saw(fake_server_t *s, unsigned type, const void *needle, size_t len) {
    pthread_mutex_lock(&s->w.lock);
    int found = 0;
    for (size_t at = 0; !found && at + len <= s->last_len[type]; at++)
        found = memcmp(s->last[type] + at, needle, len) == 0;
    pthread_mutex_unlock(&s->w.lock);
    return found;
}

static inline void *fake_server_run(void *arg) {
    fake_server_t *s = arg;
    for (;;) {
        int conn = accept(s->fd, NULL, NULL);
        if (conn < 0) break;
        pthread_mutex_lock(&s->w.lock);
        s->conn = conn;
        s->accepted++;
        pthread_mutex_unlock(&s->w.lock);
        unsigned char buf[8192];
        size_t len = 0;
        int connected = 0;
        ssize_t n;
        while ((n = read(conn, buf + len, sizeof buf - len)) > 0) {
            len += (size_t)n;
            size_t pos = 0;
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
                pthread_mutex_lock(&s->w.lock);
                s->count[type]++;
                s->last_len[type] = rem < FAKE_PACKET_MAX ? rem : FAKE_PACKET_MAX;
                memcpy(s->last[type], body, s->last_len[type]);
                pthread_cond_broadcast(&s->w.changed);
                pthread_mutex_unlock(&s->w.lock);
                static const unsigned char auth_continue[] = {0xF0, 0x0B, 0x18, 0x09, 0x15, 0x00, 0x01, 'X',
                                                              0x16, 0x00, 0x02, 'h', 'i'};
                if (type == 1 && s->auth_connect) {
                    if (write(conn, auth_continue, sizeof auth_continue) < 0) break;
                } else if (type == 1) {
                    static const unsigned char connack[] = {0x20, 0x03, 0x00, 0x00, 0x00};
                    if (write(conn, connack, sizeof connack) < 0) break;
                    connected = 1;
                } else if (type == 15 && !connected) {
                    /* AUTH during CONNECT -> CONNACK Success with method "X", data "ok". */
                    static const unsigned char connack[] = {0x20, 0x0C, 0x00, 0x00, 0x09, 0x15, 0x00, 0x01, 'X',
                                                            0x16, 0x00, 0x02, 'o', 'k'};
                    if (write(conn, connack, sizeof connack) < 0) break;
                    connected = 1;
                } else if (type == 3 && ((buf[pos] >> 1) & 3) == 2) {
                    size_t topic_len = ((size_t)body[0] << 8) | body[1];
                    unsigned char pubrec[] = {0x50, 0x02, body[2 + topic_len], body[3 + topic_len]};
                    if (write(conn, pubrec, sizeof pubrec) < 0) break;
                } else if (type == 15 && rem > 0 && body[0] == 0x19) {
                    /* AUTH Re-authenticate -> AUTH Continue, method "X", data "hi". */
                    if (write(conn, auth_continue, sizeof auth_continue) < 0) break;
                } else if (type == 15) {
                    /* AUTH Continue -> AUTH Success. */
                    static const unsigned char success[] = {0xF0, 0x02, 0x00, 0x00};
                    if (write(conn, success, sizeof success) < 0) break;
                } else if (type == 8 && s->publish_dup) {
                    static const unsigned char dup[] = {
                        0x32, 0x0F, 0x00, 0x05, 'd', 'u', 'p', '/', 't', 0x00, 0x01, 0x00, 'o', 'n', 'c', 'e', '!',
                        0x3A, 0x0F, 0x00, 0x05, 'd', 'u', 'p', '/', 't', 0x00, 0x02, 0x00, 'a', 'g', 'a', 'i', 'n'};
                    if (write(conn, dup, sizeof dup) < 0) break;
                } else if (type == 6) {
                    pthread_mutex_lock(&s->w.lock);
                    s->pubrels++;
                    pthread_cond_broadcast(&s->w.changed);
                    pthread_mutex_unlock(&s->w.lock);
                }
                pos = i + rem;
            }
            memmove(buf, buf + pos, len - pos);
            len -= pos;
            if (len == sizeof buf) break;
        }
        pthread_mutex_lock(&s->w.lock);
        s->conn = -1;
        pthread_mutex_unlock(&s->w.lock);
        close(conn);
    }
    return NULL;
}

static inline int fake_server_start(fake_server_t *s) {
    memset(s, 0, sizeof *s);
    s->conn = -1;
    waiter_init(&s->w);
    silent_server_t listener;
    if (silent_server_start(&listener) != 0) return -1;
    s->fd = listener.fd;
    s->port = listener.port;
    return pthread_create(&s->thread, NULL, fake_server_run, s);
}

static inline void fake_server_drop(fake_server_t *s) {
    pthread_mutex_lock(&s->w.lock);
    if (s->conn >= 0) shutdown(s->conn, SHUT_RDWR);
    pthread_mutex_unlock(&s->w.lock);
}

static inline void fake_server_stop(fake_server_t *s) {
    shutdown(s->fd, SHUT_RDWR);
    fake_server_drop(s);
    pthread_join(s->thread, NULL);
    close(s->fd);
    waiter_destroy(&s->w);
}

#endif

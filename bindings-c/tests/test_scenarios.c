/* The cross-language scenarios of tests/scenarios/ (format in its README), run with the C
 * API against a fresh embedded broker per file; Rust, Python and Node run the same files
 * with their own APIs. The folder is $MQTTKIT_SCENARIOS, or tests/scenarios from the
 * repository root (where test.sh runs). */
#include "harness.h"

#include <dirent.h>

#define MAX_ARGS 8
#define MAX_CLIENTS 8
#define INBOX_SIZE 32
#define RECEIVE_MS 10000

/* A received message, copied out of the callback. */
typedef struct {
    char *topic;
    char *payload;
    uint8_t qos;
    bool retain;
} received_t;

/* One scenario client and the messages it received and no step has taken yet. */
typedef struct {
    char name[32];
    mqttkit_client_t *client;
    waiter_t w;
    received_t inbox[INBOX_SIZE];
    size_t head, count;
    bool overflow;
} actor_t;

/* One line of a scenario: `verb client key=value ...` (pointers into the line buffer). */
typedef struct {
    int line;
    const char *verb, *client;
    const char *keys[MAX_ARGS], *values[MAX_ARGS];
    int argc;
} step_t;

static char *copy(const char *text, size_t len) {
    char *out = malloc(len + 1);
    memcpy(out, text, len);
    out[len] = '\0';
    return out;
}

static void on_message(void *user_data, const mqttkit_message_t *message) {
    actor_t *actor = user_data;
    size_t len = 0;
    const uint8_t *payload = mqttkit_message_payload(message, &len);
    const char *topic = mqttkit_message_topic(message);
    pthread_mutex_lock(&actor->w.lock);
    if (actor->count == INBOX_SIZE) {
        actor->overflow = true;
    } else {
        received_t *slot = &actor->inbox[(actor->head + actor->count) % INBOX_SIZE];
        slot->topic = copy(topic, strlen(topic));
        slot->payload = copy((const char *)payload, len);
        slot->qos = mqttkit_message_qos(message);
        slot->retain = mqttkit_message_retain(message);
        actor->count++;
    }
    pthread_cond_broadcast(&actor->w.changed);
    pthread_mutex_unlock(&actor->w.lock);
}

/* Takes the next received message of `actor` into `out` (caller frees its strings). */
static bool take(actor_t *actor, received_t *out) {
    if (!WAIT_FOR(&actor->w, RECEIVE_MS, actor->count > 0)) return false;
    pthread_mutex_lock(&actor->w.lock);
    *out = actor->inbox[actor->head];
    actor->head = (actor->head + 1) % INBOX_SIZE;
    actor->count--;
    pthread_mutex_unlock(&actor->w.lock);
    return true;
}

static void free_received(received_t *message) {
    free(message->topic);
    free(message->payload);
}

/* Splits `text` (modified in place) into a step; false for a blank or comment line. */
static bool parse_step(int line, char *text, step_t *step) {
    char *comment = strstr(text, " #");
    if (comment) *comment = '\0';
    char *save = NULL;
    char *word = strtok_r(text, " \t\r\n", &save);
    if (!word || word[0] == '#') return false;
    memset(step, 0, sizeof *step);
    step->line = line;
    step->verb = word;
    step->client = strtok_r(NULL, " \t\r\n", &save);
    while ((word = strtok_r(NULL, " \t\r\n", &save)) && step->argc < MAX_ARGS) {
        char *eq = strchr(word, '=');
        if (!eq) {
            fprintf(stderr, "  line %d: `%s` is not key=value\n", line, word);
            g_case_failed = 1;
            continue;
        }
        *eq = '\0';
        step->keys[step->argc] = word;
        step->values[step->argc++] = eq + 1;
    }
    return true;
}

static const char *arg(const step_t *step, const char *key) {
    for (int i = 0; i < step->argc; i++)
        if (strcmp(step->keys[i], key) == 0) return step->values[i];
    return NULL;
}

/* -1 when absent, else 0/1 for false/true. */
static int flag(const step_t *step, const char *key) {
    const char *value = arg(step, key);
    return value ? strcmp(value, "true") == 0 : -1;
}

#define STEP_CHECK(cond, ...)                                                              \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "  %s:%d `%s %s`: ", name, step->line, step->verb, step->client); \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fprintf(stderr, "\n");                                                         \
            g_case_failed = 1;                                                             \
            return false;                                                                  \
        }                                                                                  \
    } while (0)

#define STEP_OK(expr)                                                                      \
    do {                                                                                   \
        mqttkit_result r_ = (expr);                                                        \
        char detail_[256];                                                                 \
        mqttkit_last_error(detail_, sizeof detail_);                                       \
        STEP_CHECK(r_ == MQTTKIT_RESULT_OK, "%s -> %s (%s)", #expr, mqttkit_result_str(r_), detail_); \
    } while (0)

static bool connect_actor(const char *name, const char *url, const step_t *step, actor_t *actor) {
    const char *version = arg(step, "version");
    const char *expiry = arg(step, "expiry");
    mqttkit_client_options_t *options = mqttkit_client_options_new(url);
    mqttkit_result set = mqttkit_client_options_set_client_id(options, step->client);
    if (set == MQTTKIT_RESULT_OK)
        set = mqttkit_client_options_set_protocol_version(options, version && strcmp(version, "3.1.1") == 0 ? 4 : 5);
    if (set == MQTTKIT_RESULT_OK) set = mqttkit_client_options_set_clean_start(options, flag(step, "clean") != 0);
    if (set == MQTTKIT_RESULT_OK) set = mqttkit_client_options_set_reconnect(options, false, 1000, 30000, 2.0, 0.2, 0);
    if (set == MQTTKIT_RESULT_OK && expiry)
        set = mqttkit_client_options_set_session_expiry_interval(options, (uint32_t)atoi(expiry));
    if (set == MQTTKIT_RESULT_OK) set = mqttkit_client_new(options, &actor->client);
    mqttkit_client_options_free(options);
    STEP_OK(set);
    snprintf(actor->name, sizeof actor->name, "%s", step->client);
    STEP_OK(mqttkit_client_set_message_callback(actor->client, on_message, actor));
    bool present = false;
    STEP_OK(mqttkit_client_connect_sync(actor->client, 10000, &present));
    STEP_CHECK(flag(step, "present") < 0 || (int)present == flag(step, "present"), "Session Present %d", present);
    char fence[64];
    snprintf(fence, sizeof fence, "fence/%s", step->client);
    STEP_OK(mqttkit_client_subscribe_sync(actor->client, fence, 1, 10000, NULL));
    return true;
}

static void close_actor(actor_t *actor) {
    mqttkit_client_free(actor->client);
    actor->client = NULL;
    actor->name[0] = '\0';
    while (actor->count > 0) {
        free_received(&actor->inbox[actor->head]);
        actor->head = (actor->head + 1) % INBOX_SIZE;
        actor->count--;
    }
}

static bool expect_message(const char *name, const step_t *step, actor_t *actor, const char *topic,
                           const char *payload) {
    received_t got;
    STEP_CHECK(!actor->overflow, "more than %d messages waiting", INBOX_SIZE);
    STEP_CHECK(take(actor, &got), "no message within %d ms", RECEIVE_MS);
    bool same = strcmp(got.topic, topic) == 0 && (!payload || strcmp(got.payload, payload) == 0);
    const char *qos = arg(step, "qos");
    bool qos_ok = !payload || !qos || got.qos == atoi(qos);
    bool retain_ok = !payload || flag(step, "retain") < 0 || (int)got.retain == flag(step, "retain");
    if (!(same && qos_ok && retain_ok))
        fprintf(stderr, "  %s:%d: received %s \"%s\" QoS %u retain %d\n", name, step->line, got.topic,
                got.payload, got.qos, got.retain);
    free_received(&got);
    STEP_CHECK(same && qos_ok && retain_ok, "expected %s \"%s\"", topic, payload ? payload : "(fence)");
    return true;
}

static bool run_step(const char *name, const char *url, const step_t *step, actor_t *actors) {
    actor_t *actor = NULL, *free_slot = NULL;
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (strcmp(actors[i].name, step->client) == 0) actor = &actors[i];
        if (!free_slot && actors[i].name[0] == '\0') free_slot = &actors[i];
    }
    if (strcmp(step->verb, "connect") == 0) {
        STEP_CHECK(free_slot, "more than %d clients", MAX_CLIENTS);
        return connect_actor(name, url, step, free_slot);
    }
    STEP_CHECK(actor, "not connected");
    mqttkit_client_t *client = actor->client;
    if (strcmp(step->verb, "subscribe") == 0) {
        const char *granted = arg(step, "granted");
        mqttkit_subscription_t subscription = {
            .filter = arg(step, "filter"), .qos = atoi(arg(step, "qos")), .no_local = flag(step, "no_local") == 1};
        uint8_t code = 0xFF;
        STEP_OK(mqttkit_client_subscribe_many_sync(client, &subscription, 1, NULL, 10000, &code));
        STEP_CHECK(code == atoi(granted ? granted : arg(step, "qos")), "SUBACK %u", code);
    } else if (strcmp(step->verb, "unsubscribe") == 0) {
        STEP_OK(mqttkit_client_unsubscribe_sync(client, arg(step, "filter"), 10000));
    } else if (strcmp(step->verb, "publish") == 0) {
        const char *payload = arg(step, "payload");
        STEP_OK(mqttkit_client_publish_sync(client, arg(step, "topic"), (const uint8_t *)payload, strlen(payload),
                                            atoi(arg(step, "qos")), flag(step, "retain") == 1, NULL, 10000, NULL));
    } else if (strcmp(step->verb, "receive") == 0) {
        return expect_message(name, step, actor, arg(step, "topic"), arg(step, "payload"));
    } else if (strcmp(step->verb, "nothing") == 0) {
        char fence[64];
        snprintf(fence, sizeof fence, "fence/%s", step->client);
        STEP_OK(mqttkit_client_publish_sync(client, fence, (const uint8_t *)"fence", 5, 1, false, NULL, 10000, NULL));
        return expect_message(name, step, actor, fence, NULL);
    } else if (strcmp(step->verb, "disconnect") == 0) {
        STEP_OK(mqttkit_client_disconnect_sync(client, 10000));
        close_actor(actor);
    } else {
        STEP_CHECK(false, "unknown step");
    }
    return true;
}

static void run_file(const char *folder, const char *name) {
    char path[512], text[512];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    FILE *file = fopen(path, "r");
    CHECK(file != NULL);
    if (!file) return;
    mqttkit_broker_config_t *config = NULL;
    CHECK_OK(mqttkit_broker_config_new(&config));
    CHECK_OK(mqttkit_broker_config_set_listener(config, "127.0.0.1:0"));
    mqttkit_broker_t *broker = NULL;
    CHECK_OK(mqttkit_broker_start(config, &broker));
    mqttkit_broker_config_free(config);
    char url[64];
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%u", mqttkit_broker_port(broker, 0));
    actor_t actors[MAX_CLIENTS];
    memset(actors, 0, sizeof actors);
    for (int i = 0; i < MAX_CLIENTS; i++) waiter_init(&actors[i].w);
    step_t step;
    for (int line = 1; broker && fgets(text, sizeof text, file); line++) {
        if (parse_step(line, text, &step) && !run_step(name, url, &step, actors)) break;
    }
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (actors[i].client) close_actor(&actors[i]);
        waiter_destroy(&actors[i].w);
    }
    fclose(file);
    mqttkit_broker_free(broker);
}

static const char *scenario_folder(void) {
    const char *folder = getenv("MQTTKIT_SCENARIOS");
    return folder ? folder : "tests/scenarios";
}

static void test_every_scenario_file(void) {
    DIR *dir = opendir(scenario_folder());
    CHECK(dir != NULL);
    if (!dir) return;
    int files = 0;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        size_t len = strlen(entry->d_name);
        if (len > 9 && strcmp(entry->d_name + len - 9, ".scenario") == 0) {
            fprintf(stderr, "  scenario %s\n", entry->d_name);
            run_file(scenario_folder(), entry->d_name);
            files++;
        }
    }
    closedir(dir);
    CHECK(files >= 4);
    CHECK_OK(mqttkit_wait_idle(10000));
}

static void test_a_step_names_its_verb_client_and_arguments(void) {
    char text[] = "publish pub topic=a/b qos=1 payload= # trailing comment\n";
    step_t step;
    CHECK(parse_step(3, text, &step));
    CHECK(strcmp(step.verb, "publish") == 0 && strcmp(step.client, "pub") == 0 && step.argc == 3);
    CHECK(strcmp(arg(&step, "topic"), "a/b") == 0 && strcmp(arg(&step, "payload"), "") == 0);
    char comment[] = "   # only a comment\n";
    CHECK(!parse_step(4, comment, &step));
}

int main(void) {
    RUN(test_a_step_names_its_verb_client_and_arguments);
#ifdef MQTTKIT_TEST_BROKER
    RUN(test_every_scenario_file);
#endif
    return harness_summary();
}

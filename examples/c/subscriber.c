/* Subscribes to a filter and prints messages until COUNT have arrived (at most 10 s).
 * Callbacks run on mqttkit's dispatch thread; the main thread waits on a condition variable.
 *
 *   cc subscriber.c $(pkg-config --cflags --libs mqttkit) -o subscriber
 *   ./subscriber mqtt://127.0.0.1:1883 'sensors/#' 5
 */
#define _POSIX_C_SOURCE 200809L
#include <mqttkit.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t arrived;
    int received;
} inbox_t;

static void on_message(void *user_data, const mqttkit_message_t *message) {
    inbox_t *inbox = user_data;
    size_t len = 0;
    const uint8_t *payload = mqttkit_message_payload(message, &len);
    printf("%s: %.*s%s\n", mqttkit_message_topic(message), (int)len, (const char *)payload,
           mqttkit_message_retain(message) ? " (retained)" : "");
    fflush(stdout);
    pthread_mutex_lock(&inbox->lock);
    inbox->received++;
    pthread_cond_signal(&inbox->arrived);
    pthread_mutex_unlock(&inbox->lock);
}

int main(int argc, char **argv) {
    const char *url = argc > 1 ? argv[1] : "mqtt://127.0.0.1:1883";
    const char *filter = argc > 2 ? argv[2] : "examples/c/#";
    int count = argc > 3 ? atoi(argv[3]) : 1;
    inbox_t inbox = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

    mqttkit_client_options_t *options = mqttkit_client_options_new(url);
    mqttkit_client_t *client = NULL;
    mqttkit_result result = mqttkit_client_new(options, &client);
    mqttkit_client_options_free(options);
    if (result != MQTTKIT_RESULT_OK) {
        fprintf(stderr, "mqttkit_client_new: %s\n", mqttkit_result_str(result));
        return 1;
    }
    mqttkit_client_set_message_callback(client, on_message, &inbox);
    uint8_t granted = 0;
    if ((result = mqttkit_client_connect_sync(client, 5000, NULL)) != MQTTKIT_RESULT_OK ||
        (result = mqttkit_client_subscribe_sync(client, filter, 1, 5000, &granted)) != MQTTKIT_RESULT_OK) {
        char detail[256];
        mqttkit_last_error(detail, sizeof detail);
        fprintf(stderr, "failed: %s (%s)\n", mqttkit_result_str(result), detail);
        mqttkit_client_free(client);
        return 1;
    }

    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&inbox.lock);
    int rc = 0;
    while (inbox.received < count && rc == 0) rc = pthread_cond_timedwait(&inbox.arrived, &inbox.lock, &deadline);
    int received = inbox.received;
    pthread_mutex_unlock(&inbox.lock);

    mqttkit_client_free(client); /* disconnects; no callback runs after this returns */
    if (received < count) {
        fprintf(stderr, "timed out: %d of %d messages\n", received, count);
        return 1;
    }
    return 0;
}

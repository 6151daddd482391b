// The header compiles as C++ (extern "C", no C-only constructs) and links.
#include <mqttkit.h>

#include <cstdio>
#include <cstring>

int main() {
    static_assert(sizeof(mqttkit_result) == 4, "mqttkit_result is an int32_t");
    mqttkit_completion_cb callback = nullptr;
    (void)callback;
    if (std::strcmp(mqttkit_version(), MQTTKIT_VERSION) != 0) return 1;
    mqttkit_client_options_t *options = mqttkit_client_options_new("mqtt://127.0.0.1:1883");
    if (mqttkit_client_options_validate(options) != MQTTKIT_RESULT_OK) return 1;
    mqttkit_client_options_free(options);
    std::printf("C++: mqttkit %s, %s\n", mqttkit_version(), mqttkit_result_str(MQTTKIT_RESULT_TIMEOUT));
    return 0;
}

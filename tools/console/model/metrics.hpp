// Process-wide counters of one console process, shown by GET /metrics (Prometheus text).
//
// Why plain atomics: the MQTT callback thread, the HTTP threads and the scheduler all count, and
// a counter must never cost a lock on the device-message path. Gauges that come from the store
// (tasks per state, devices online) are read by the /metrics handler itself.
#pragma once

#include <atomic>
#include <cstdint>

namespace console {

struct Metrics {
    // MQTT side
    std::atomic<std::int64_t> mqtt_connected{0};           ///< gauge: 1 when connected
    std::atomic<std::int64_t> mqtt_messages_received{0};   ///< device messages taken in
    std::atomic<std::int64_t> mqtt_messages_processed{0};  ///< device messages applied
    std::atomic<std::int64_t> mqtt_messages_malformed{0};  ///< refused: bad topic or payload
    std::atomic<std::int64_t> mqtt_unknown_device{0};      ///< refused: device not registered
    std::atomic<std::int64_t> mqtt_queue_depth{0};         ///< gauge: received, not yet applied
    std::atomic<std::int64_t> mqtt_messages_dropped{0};    ///< refused: the queue was full
    std::atomic<std::int64_t> mqtt_batch_failures{0};      ///< batches whose commit failed
    std::atomic<std::int64_t> mqtt_published{0};           ///< pushes and get_replies sent
    std::atomic<std::int64_t> mqtt_publish_failures{0};
    // engine
    std::atomic<std::int64_t> pushes_sent{0};
    std::atomic<std::int64_t> scheduler{0};  ///< gauge: 1 in the scheduler process
    std::atomic<std::int64_t> ticks{0};
    // HTTP side
    std::atomic<std::int64_t> http_requests{0};
    std::atomic<std::int64_t> http_unauthorized{0};
    std::atomic<std::int64_t> http_errors{0};  ///< answers with status >= 400
    std::atomic<std::int64_t> sse_clients{0};  ///< gauge
};

}  // namespace console

// OtaClient::Impl: the byte source of each download target. HTTPS targets use the application's
// source; jobs with `dProtocol: "mqtt"` use the client's own MqttByteSource on its channel, so
// the C interface and the linkkit flow (which only give an HTTPS source) download MQTT jobs
// unchanged.
#include <string>

#include "core/client_impl.hpp"

namespace ota::detail {

std::string ClientMachine::select_source() {
    const DownloadTarget& t = target();
    if (t.protocol == DownloadProtocol::mqtt) {
        mqtt_source_.set_stream(t.stream_id, t.stream_file_id, t.size);
        attempt_.use_source(mqtt_source_);
    } else {
        attempt_.use_source(http_source_);
    }
    return source_url(t);
}

}  // namespace ota::detail

#include "stats.hpp"

namespace ota::fleet {

void SampleSet::add(double) {}
void SampleSet::merge(const SampleSet&) {}
std::optional<double> SampleSet::percentile(double) const {
    return std::nullopt;
}
std::optional<double> SampleSet::max() const {
    return std::nullopt;
}
std::optional<double> SampleSet::mean() const {
    return std::nullopt;
}
void SampleSet::sort() const {}
SampleSummary summarize(const SampleSet&) {
    return {};
}
std::optional<double> DeviceRecord::download_mib_per_s() const {
    return std::nullopt;
}
FleetAggregate FleetSummary::aggregate() const {
    return {};
}
Error merge(const std::vector<FleetSummary>&, FleetSummary&) {
    return {Status::internal, "todo"};
}
std::string format_report(const FleetSummary&) {
    return {};
}
std::string device_csv(const FleetSummary&) {
    return {};
}
Error write_text_file(const std::string&, std::string_view) {
    return {Status::internal, "todo"};
}
Error read_text_file(const std::string&, std::string&) {
    return {Status::internal, "todo"};
}

}  // namespace ota::fleet

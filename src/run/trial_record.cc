#include "run/trial_record.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <stdexcept>

namespace lorahub::run {
namespace {

// JSON has no NaN or inf (nlohmann writes null): non-finite values are null
// and read back as NaN (a diverged evaluation's loss, a failed trial's accuracy).
nlohmann::json to_value(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
nlohmann::json to_value(const std::vector<double>& v) {
  nlohmann::json out = nlohmann::json::array();
  for (double x : v) out.push_back(to_value(x));
  return out;
}
nlohmann::json to_value(const std::vector<std::vector<double>>& v) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& row : v) out.push_back(to_value(row));
  return out;
}
template <typename T>
nlohmann::json to_value(const T& v) {
  return nlohmann::json(v);
}

void from_value(const nlohmann::json& j, double& out) { out = j.is_null() ? std::nan("") : j.get<double>(); }
void from_value(const nlohmann::json& j, std::vector<double>& out) {
  out.clear();
  for (const auto& x : j.get_ref<const nlohmann::json::array_t&>()) from_value(x, out.emplace_back());
}
void from_value(const nlohmann::json& j, std::vector<std::vector<double>>& out) {
  out.clear();
  for (const auto& row : j.get_ref<const nlohmann::json::array_t&>()) from_value(row, out.emplace_back());
}
template <typename T>
void from_value(const nlohmann::json& j, T& out) {
  out = j.get<T>();
}

const char* expected(const std::string&) { return "a string"; }
const char* expected(const int64_t&) { return "an integer"; }
const char* expected(const double&) { return "a number (or null)"; }
template <typename T>
const char* expected(const std::vector<T>&) {
  return "a list";
}

}  // namespace

nlohmann::json to_json(const TrialRecord& r) {
  nlohmann::json j = nlohmann::json::object();
  for_each_field(r, [&](const FieldInfo& f, const auto& value) { j[f.json] = to_value(value); });
  return j;
}

TrialRecord record_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument(std::string("trial record: expected a JSON object, found ") + j.type_name());
  TrialRecord r;
  for_each_field(r, [&](const FieldInfo& f, auto& value) {
    const auto it = j.find(f.json);
    if (it == j.end()) {
      if (f.optional) return;
      throw std::invalid_argument(std::string("trial record: field '") + f.json + "' missing");
    }
    try {
      from_value(*it, value);
    } catch (const nlohmann::json::exception& e) {
      throw std::invalid_argument(std::string("trial record: field '") + f.json + "': expected " + expected(value) +
                                  ", found " + it->type_name() + " (" + e.what() + ")");
    }
  });
  if (r.status != "done" && r.status != "failed") {
    throw std::invalid_argument("trial record " + r.id + ": field 'status': expected done or failed, found '" + r.status + "'");
  }
  return r;
}

}  // namespace lorahub::run

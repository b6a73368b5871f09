#include "run/work_unit.h"

#include <nlohmann/json.hpp>

#include <limits>
#include <set>
#include <stdexcept>
#include <type_traits>

namespace lorahub::run {
namespace {

using nlohmann::json;

// ---- values: one to_value and one read per member type ----
// read() throws std::invalid_argument "expected ..., found ..."; the message
// reader puts the field's key in front.

[[noreturn]] void mismatch(const char* expected, const json& found) {
  throw std::invalid_argument(std::string("expected ") + expected + ", found " + found.type_name());
}

template <typename E, size_t N>
void read_name(const json& j, const util::Name<E> (&table)[N], E& out) {
  if (!j.is_string()) mismatch("a name", j);
  const auto& text = j.get_ref<const std::string&>();
  for (const auto& e : table) {
    if (text == e.name) {
      out = e.value;
      return;
    }
  }
  throw std::invalid_argument("expected one of " + util::names_list(table) + ", found \"" + text + "\"");
}

void read(const json& j, std::string& out) {
  if (!j.is_string()) mismatch("a string", j);
  out = j.get<std::string>();
}
void read(const json& j, int64_t& out) {
  if (!j.is_number_integer() ||
      (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
    mismatch("an integer", j);
  }
  out = j.get<int64_t>();
}
void read(const json& j, uint64_t& out) {
  if (!j.is_number_unsigned()) mismatch("a non-negative integer", j);
  out = j.get<uint64_t>();
}
void read(const json& j, double& out) {
  if (!j.is_number()) mismatch("a number", j);
  out = j.get<double>();
}
void read(const json& j, bool& out) {
  if (!j.is_boolean()) mismatch("true or false", j);
  out = j.get<bool>();
}
void read(const json& j, UnitKind& out) { read_name(j, kUnitKindNames, out); }
void read(const json& j, PromptStyle& out) { read_name(j, kPromptStyleNames, out); }
void read(const json& j, Training& out) { read_name(j, kTrainingNames, out); }
void read(const json& j, ResultStatus& out) { read_name(j, kResultStatusNames, out); }
void read(const json& j, learn::LossNormalization& out) { read_name(j, learn::kLossNames, out); }
void read(const json& j, lora::Method& out) { read_name(j, lora::kMethodNames, out); }
void read(const json& j, lora::MajoritySign& out) { read_name(j, lora::kMajoritySignNames, out); }
void read(const json& j, MergeSpec& out) {
  if (!j.is_object()) mismatch("an object {method, density, majority_sign, seed}", j);
  if (j.size() != 4 || !j.contains("method") || !j.contains("density") || !j.contains("majority_sign") ||
      !j.contains("seed")) {
    throw std::invalid_argument("expected the keys method, density, majority_sign and seed, found " + j.dump());
  }
  read(j.at("method"), out.method);
  read(j.at("density"), out.density);
  read(j.at("majority_sign"), out.majority_sign);
  read(j.at("seed"), out.seed);
}
template <typename T>
void read(const json& j, std::vector<T>& out) {
  if (!j.is_array()) mismatch("a list", j);
  out.clear();
  for (const auto& x : j) read(x, out.emplace_back());
}
template <typename T>
void read(const json& j, std::optional<T>& out) {
  read(j, out.emplace());
}

template <typename T>
json to_value(const T& v) {
  return json(v);
}
json to_value(UnitKind v) { return util::name_of(kUnitKindNames, v); }
json to_value(PromptStyle v) { return util::name_of(kPromptStyleNames, v); }
json to_value(Training v) { return util::name_of(kTrainingNames, v); }
json to_value(ResultStatus v) { return util::name_of(kResultStatusNames, v); }
json to_value(learn::LossNormalization v) { return util::name_of(learn::kLossNames, v); }
json to_value(lora::Method v) { return util::name_of(lora::kMethodNames, v); }
json to_value(const MergeSpec& m) {
  return {{"method", to_value(m.method)},
          {"density", m.density},
          {"majority_sign", util::name_of(lora::kMajoritySignNames, m.majority_sign)},
          {"seed", m.seed}};
}

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};

// ---- messages: the fields a kind carries, written and read through one list ----

bool carried(const UnitField& f, UnitKind kind, bool ok) {
  return (f.kinds & kind_bit(kind)) != 0 && (ok || !f.ok_only);
}

template <typename Message, typename ForEach>
std::vector<uint8_t> write_message(const Message& m, bool ok, ForEach for_each) {
  json j = {{"kind", to_value(m.kind)}};
  for_each(m, [&](const UnitField& f, const auto& value) {
    if (!carried(f, m.kind, ok)) return;
    if constexpr (IsOptional<std::decay_t<decltype(value)>>::value) {
      if (value) j[f.key] = to_value(*value);
    } else {
      j[f.key] = to_value(value);
    }
  });
  return json::to_cbor(j);
}

// `what`: "work unit" or "unit result"; `ok(m)`: whether the fields read so
// far make it a successful result (results carry their payload only then).
template <typename Message, typename ForEach, typename IsOk>
Message read_message(const std::vector<uint8_t>& bytes, const std::string& what, ForEach for_each, IsOk ok) {
  json j;
  try {
    j = json::from_cbor(bytes);
  } catch (const json::exception& e) {
    throw std::invalid_argument(what + ": not a CBOR message (" + e.what() + ")");
  }
  if (!j.is_object()) throw std::invalid_argument(what + ": expected an object, found " + j.type_name());
  Message m;
  auto fail = [&](const std::string& key, const std::string& problem) {
    throw std::invalid_argument(what + (m.trial.empty() ? "" : " " + m.trial) + ": field '" + key + "': " + problem);
  };
  if (!j.contains("kind")) fail("kind", "missing");
  try {
    read(j.at("kind"), m.kind);
  } catch (const std::invalid_argument& e) {
    fail("kind", e.what());
  }
  std::set<std::string> known{"kind"};
  for_each(m, [&](const UnitField& f, auto& value) {
    if (!carried(f, m.kind, ok(m))) return;
    known.insert(f.key);
    const auto it = j.find(f.key);
    if (it == j.end()) {
      if (IsOptional<std::decay_t<decltype(value)>>::value) return;
      fail(f.key, "missing");
    }
    try {
      read(*it, value);
    } catch (const std::invalid_argument& e) {
      fail(f.key, e.what());
    }
  });
  for (const auto& item : j.items()) {
    if (!known.count(item.key())) fail(item.key(), std::string("not carried by ") + util::name_of(kUnitKindNames, m.kind) +
                                                       (what == "work unit" ? " units" : " results"));
  }
  return m;
}

void check_unit(const WorkUnit& u) {
  const std::string where = "work unit " + u.trial + ": field ";
  if ((u.kind == UnitKind::kObjective || u.kind == UnitKind::kEval) && !lora::is_runtime_composition(u.composition)) {
    throw std::invalid_argument(where + "'composition': expected lorahub or cat, found \"" +
                                util::name_of(lora::kMethodNames, u.composition) + "\"");
  }
  for (const auto& row : u.candidates) {
    if (row.size() != u.modules.size()) {
      throw std::invalid_argument(where + "'candidates': a row of " + std::to_string(row.size()) + " weights for " +
                                  std::to_string(u.modules.size()) + " modules");
    }
  }
  if (u.weights && u.weights->size() != u.modules.size()) {
    throw std::invalid_argument(where + "'weights': " + std::to_string(u.weights->size()) + " weights for " +
                                std::to_string(u.modules.size()) + " modules");
  }
}

void check_result(const UnitResult& r) {
  const std::string where = "unit result " + r.trial + ": field ";
  if (r.status != ResultStatus::kOk && r.reason.empty()) {
    throw std::invalid_argument(where + "'reason': empty for status " + util::name_of(kResultStatusNames, r.status));
  }
  if (r.losses.size() != r.objectives.size()) {
    throw std::invalid_argument(where + "'objectives': " + std::to_string(r.objectives.size()) + " for " +
                                std::to_string(r.losses.size()) + " losses");
  }
}

constexpr auto kUnitFields = [](auto& u, auto&& fn) { for_each_unit_field(u, fn); };
constexpr auto kResultFields = [](auto& r, auto&& fn) { for_each_result_field(r, fn); };

}  // namespace

std::vector<uint8_t> encode(const WorkUnit& u) { return write_message(u, true, kUnitFields); }

std::vector<uint8_t> encode(const UnitResult& r) { return write_message(r, r.status == ResultStatus::kOk, kResultFields); }

WorkUnit decode_unit(const std::vector<uint8_t>& bytes) {
  WorkUnit u = read_message<WorkUnit>(bytes, "work unit", kUnitFields, [](const WorkUnit&) { return true; });
  check_unit(u);
  return u;
}

UnitResult decode_result(const std::vector<uint8_t>& bytes) {
  UnitResult r = read_message<UnitResult>(bytes, "unit result", kResultFields,
                                          [](const UnitResult& m) { return m.status == ResultStatus::kOk; });
  check_result(r);
  return r;
}

}  // namespace lorahub::run

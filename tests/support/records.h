#pragma once
// Field-by-field comparison of records that list their fields once
// (run/trial_record.h, run/work_unit.h): `same` treats NaN as equal to NaN
// (a diverged loss must survive a round trip), and `member_of` finds the
// member of one record at the place of another's.

#include <cmath>
#include <optional>
#include <vector>

namespace lorahub::testing {

template <typename T>
bool same(const T& a, const T& b) {
  return a == b;
}
inline bool same(const double& a, const double& b) { return a == b || (std::isnan(a) && std::isnan(b)); }
template <typename T>
bool same(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i], b[i])) return false;
  }
  return true;
}
template <typename T>
bool same(const std::optional<T>& a, const std::optional<T>& b) {
  return a.has_value() == b.has_value() && (!a || same(*a, *b));
}

// b's member at the place of a's member `va` (a and b of one type).
template <typename Record, typename T>
const T& member_of(const Record& b, const Record& a, const T& va) {
  const auto offset = reinterpret_cast<const char*>(&va) - reinterpret_cast<const char*>(&a);
  return *reinterpret_cast<const T*>(reinterpret_cast<const char*>(&b) + offset);
}

}  // namespace lorahub::testing

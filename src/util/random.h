#pragma once
// The project's one source of randomness below LibTorch: a deterministic
// generator, a shuffle and a stable string hash, the same streams on every
// platform and standard library (std::normal_distribution and
// std::shuffle are implementation-defined). Header only, no dependencies:
// the `util` level sits below tasks, optim and everything else.

#include <cmath>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace lorahub::util {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  // SplitMix64.
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Standard normal, Box-Muller (both values used).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 0;
    while (u1 <= 0) u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * M_PI * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * M_PI * u2);
  }

 private:
  uint64_t state_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// Fisher-Yates in place: for i = n-1 .. 1, swap v[i] with v[next() % (i + 1)]
// (the modulo bias is below 2^-40 for any n the project shuffles).
template <class T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.next() % i]);
}

// A stable 64-bit hash of a string (FNV-1a), for deriving RNG streams and
// config hashes from names: the same value on every platform.
inline uint64_t stable_hash(std::string_view text) {
  uint64_t h = 1469598103934665603ULL;
  for (const unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace lorahub::util

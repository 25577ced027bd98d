// Checks and small shared helpers for the C++ core. Errors are exceptions, never exit/abort:
// FASTNLP_CHECK -> std::invalid_argument (Python ValueError), FASTNLP_DCHECK only in debug builds.
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

// Forced inline, the one spelling for the CPU kernels (cuda/ code uses __forceinline__): hot loops
// are SIMD clones (simd.h), and only code inlined into a clone is compiled for its instruction set.
#if defined(__GNUC__)
#define FASTNLP_INLINE inline __attribute__((always_inline))
#else
#define FASTNLP_INLINE inline
#endif

namespace fastnlp {

template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace fastnlp

// FASTNLP_CHECK(cond, "x must be ...", value, ...): the message parts are streamed together.
#define FASTNLP_CHECK(cond, ...)                                   \
  do {                                                             \
    if (!(cond)) {                                                 \
      throw std::invalid_argument(::fastnlp::str_cat(__VA_ARGS__)); \
    }                                                              \
  } while (0)

#ifdef NDEBUG
#define FASTNLP_DCHECK(cond, ...) \
  do {                            \
  } while (0)
#else
#define FASTNLP_DCHECK(cond, ...) FASTNLP_CHECK(cond, "internal check failed: " #cond " ", __VA_ARGS__)
#endif

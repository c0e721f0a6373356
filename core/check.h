// INFRATRAIL_CHECK: abort on a programmer bug (never for I/O or input;
// STYLE.md habit 4). Debian's abseil predates absl/log, hence our own.
//   INFRATRAIL_CHECK(ptr != nullptr) << "context";
#ifndef INFRATRAIL_CORE_CHECK_H_
#define INFRATRAIL_CORE_CHECK_H_

#include <sstream>

namespace infratrail::internal {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  [[noreturn]] ~CheckFailure();
  template <typename T>
  CheckFailure& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

struct Voidify {
  void operator&(const CheckFailure&) {}
};

}  // namespace infratrail::internal

// The expansion must accept a trailing "<< message", so no outer parentheses.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define INFRATRAIL_CHECK(cond)                 \
  (cond) ? (void)0                             \
         : ::infratrail::internal::Voidify() & \
               ::infratrail::internal::CheckFailure(__FILE__, __LINE__, #cond)
// NOLINTEND(bugprone-macro-parentheses)

#endif  // INFRATRAIL_CORE_CHECK_H_

// Shell-style glob patterns for policy rules, compiled once at load and
// matched on bytes without allocating.
//
//   *       any run of bytes, the empty one included
//   ?       exactly one byte
//   [abc]   one byte of the class; ranges [a-z]; [!a-z] negates; '-' first
//           or last is a member; ']' closes the class (write \] for the
//           byte), so "[]" is an empty class, which is an error
//   \c      the byte c itself (also inside a class)
//
// Bytes, not characters: '?' matches one byte of a multi-byte UTF-8
// sequence. Resource ids and principals are ASCII in practice.
//
// Immutable after Compile; safe to share between threads.
#ifndef INFRATRAIL_VERIFIER_POLICY_GLOB_H_
#define INFRATRAIL_VERIFIER_POLICY_GLOB_H_

#include <bitset>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace infratrail {

class Glob {
 public:
  // InvalidArgument (without a position: the loader adds it) for an
  // unterminated or empty class, a reversed range, or a trailing backslash.
  static absl::StatusOr<Glob> Compile(absl::string_view pattern);

  bool Match(absl::string_view s) const;

  // The pattern as written.
  const std::string& pattern() const { return pattern_; }

 private:
  enum class OpKind : uint8_t { kByte, kAny, kClass, kStar };
  struct Op {
    OpKind kind;
    uint8_t byte;    // kByte
    uint16_t klass;  // kClass: index into classes_
  };

  bool MatchOps(absl::string_view s) const;
  bool OpMatches(const Op& op, uint8_t c) const;

  std::string pattern_;
  // Patterns without metacharacters compare `literal_` exactly; patterns
  // "<literal>*" compare it as a prefix. Everything else runs `ops_`.
  enum class Shape : uint8_t { kExact, kPrefix, kGeneral } shape_ = Shape::kExact;
  std::string literal_;
  std::vector<Op> ops_;
  std::vector<std::bitset<256>> classes_;
};

// Any of several globs; an empty set matches nothing (callers treat "no
// patterns given" separately).
class GlobSet {
 public:
  void Add(Glob g);
  bool empty() const { return globs_.empty(); }
  bool Match(absl::string_view s) const;
  // The patterns, ", "-separated, for messages.
  std::string Describe() const;

 private:
  std::vector<Glob> globs_;
  bool match_all_ = false;  // one of the patterns is "*"
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_POLICY_GLOB_H_

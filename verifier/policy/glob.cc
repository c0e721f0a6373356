#include "verifier/policy/glob.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace infratrail {
namespace {

// Reads one class member byte at `i` (handling a backslash escape) into `c`.
// False if the pattern ends first.
bool ClassByte(absl::string_view p, size_t* i, uint8_t* c) {
  if (*i >= p.size()) return false;
  if (p[*i] == '\\') {
    if (*i + 1 >= p.size()) return false;
    ++*i;
  }
  *c = static_cast<uint8_t>(p[*i]);
  ++*i;
  return true;
}

}  // namespace

absl::StatusOr<Glob> Glob::Compile(absl::string_view pattern) {
  Glob g;
  g.pattern_ = std::string(pattern);
  const absl::string_view p = pattern;
  size_t i = 0;
  while (i < p.size()) {
    const char c = p[i];
    if (c == '*') {
      // Consecutive stars match what one does; keeping one keeps the
      // backtracking matcher linear in the number of stars.
      if (g.ops_.empty() || g.ops_.back().kind != OpKind::kStar)
        g.ops_.push_back({OpKind::kStar, 0, 0});
      ++i;
    } else if (c == '?') {
      g.ops_.push_back({OpKind::kAny, 0, 0});
      ++i;
    } else if (c == '\\') {
      if (i + 1 >= p.size())
        return absl::InvalidArgumentError(absl::StrCat("glob \"", p, "\": trailing backslash"));
      g.ops_.push_back({OpKind::kByte, static_cast<uint8_t>(p[i + 1]), 0});
      i += 2;
    } else if (c == '[') {
      const size_t start = i++;
      bool negate = false;
      if (i < p.size() && p[i] == '!') {
        negate = true;
        ++i;
      }
      std::bitset<256> members;
      bool closed = false;
      bool any = false;
      while (i < p.size()) {
        if (p[i] == ']') {
          closed = true;
          ++i;
          break;
        }
        uint8_t lo = 0;
        if (!ClassByte(p, &i, &lo)) break;
        uint8_t hi = lo;
        // A '-' between two members is a range; first or last it is a byte.
        if (i + 1 < p.size() && p[i] == '-' && p[i + 1] != ']') {
          ++i;
          if (!ClassByte(p, &i, &hi)) break;
          if (hi < lo)
            return absl::InvalidArgumentError(
                absl::StrCat("glob \"", p, "\": reversed range in class at byte ", start + 1));
        }
        for (int b = lo; b <= hi; ++b) members.set(b);
        any = true;
      }
      if (!closed)
        return absl::InvalidArgumentError(
            absl::StrCat("glob \"", p, "\": unterminated class at byte ", start + 1));
      if (!any)
        return absl::InvalidArgumentError(
            absl::StrCat("glob \"", p, "\": empty class at byte ", start + 1));
      if (negate) members.flip();
      if (g.classes_.size() >= 0xffff)
        return absl::InvalidArgumentError(absl::StrCat("glob \"", p, "\": too many classes"));
      g.ops_.push_back({OpKind::kClass, 0, static_cast<uint16_t>(g.classes_.size())});
      g.classes_.push_back(members);
    } else {
      g.ops_.push_back({OpKind::kByte, static_cast<uint8_t>(c), 0});
      ++i;
    }
  }

  size_t bytes = 0;
  while (bytes < g.ops_.size() && g.ops_[bytes].kind == OpKind::kByte) ++bytes;
  if (bytes == g.ops_.size() ||
      (bytes + 1 == g.ops_.size() && g.ops_.back().kind == OpKind::kStar)) {
    g.shape_ = bytes == g.ops_.size() ? Shape::kExact : Shape::kPrefix;
    for (size_t k = 0; k < bytes; ++k) g.literal_.push_back(static_cast<char>(g.ops_[k].byte));
    g.ops_.clear();
    g.classes_.clear();
  } else {
    g.shape_ = Shape::kGeneral;
  }
  return g;
}

bool Glob::OpMatches(const Op& op, uint8_t c) const {
  switch (op.kind) {
    case OpKind::kByte:
      return op.byte == c;
    case OpKind::kAny:
      return true;
    case OpKind::kClass:
      return classes_[op.klass].test(c);
    case OpKind::kStar:
      break;
  }
  return false;
}

// Greedy matching with one backtrack point, the last star: every other op
// consumes exactly one byte, so on a mismatch it is enough to let the last
// star absorb one more byte (earlier stars never need to).
bool Glob::MatchOps(absl::string_view s) const {
  const size_t n = s.size();
  const size_t m = ops_.size();
  constexpr size_t kNone = ~size_t{0};
  size_t pi = 0, si = 0, star_p = kNone, star_s = 0;
  while (si < n) {
    if (pi < m && ops_[pi].kind == OpKind::kStar) {
      star_p = pi++;
      star_s = si;
    } else if (pi < m && OpMatches(ops_[pi], static_cast<uint8_t>(s[si]))) {
      ++pi;
      ++si;
    } else if (star_p != kNone) {
      pi = star_p + 1;
      si = ++star_s;
    } else {
      return false;
    }
  }
  while (pi < m && ops_[pi].kind == OpKind::kStar) ++pi;
  return pi == m;
}

bool Glob::Match(absl::string_view s) const {
  switch (shape_) {
    case Shape::kExact:
      return s == literal_;
    case Shape::kPrefix:
      return s.size() >= literal_.size() && s.substr(0, literal_.size()) == literal_;
    case Shape::kGeneral:
      break;
  }
  return MatchOps(s);
}

void GlobSet::Add(Glob g) {
  if (g.pattern() == "*") match_all_ = true;
  globs_.push_back(std::move(g));
}

bool GlobSet::Match(absl::string_view s) const {
  if (match_all_) return true;
  for (const Glob& g : globs_) {
    if (g.Match(s)) return true;
  }
  return false;
}

std::string GlobSet::Describe() const {
  return absl::StrJoin(globs_, ", ",
                       [](std::string* out, const Glob& g) { absl::StrAppend(out, g.pattern()); });
}

}  // namespace infratrail

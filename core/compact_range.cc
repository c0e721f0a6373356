#include "core/compact_range.h"

#include "absl/strings/str_cat.h"

namespace infratrail {

absl::StatusOr<CompactRange> CompactRange::FromHashes(uint64_t begin, uint64_t end,
                                                      std::vector<Hash> hashes) {
  if (begin > end) {
    return absl::InvalidArgumentError(absl::StrCat("CompactRange: begin ", begin, " > end ", end));
  }
  std::vector<NodeId> ids = DecomposeRange(begin, end);
  if (ids.size() != hashes.size()) {
    return absl::InvalidArgumentError(absl::StrCat("CompactRange: range [", begin, ", ", end,
                                                   ") needs ", ids.size(), " hashes, got ",
                                                   hashes.size()));
  }
  CompactRange r(begin);
  r.end_ = end;
  r.ids_ = std::move(ids);
  r.hashes_ = std::move(hashes);
  return r;
}

void CompactRange::AppendLeaf(const Hash& leaf, Hasher& hasher, const Visitor& visit) {
  AppendNode(NodeId{0, end_}, leaf, hasher, visit);
}

void CompactRange::AppendNode(NodeId id, Hash hash, Hasher& hasher, const Visitor& visit) {
  if (visit) visit(id, hash);
  end_ = id.End();
  // Merge with left siblings for as long as the new node is a right child
  // whose sibling is the last node held.
  while (!ids_.empty() && (id.index & 1) == 1 && ids_.back() == id.Sibling()) {
    hash = hasher.HashChildren(hashes_.back(), hash);
    id = id.Parent();
    ids_.pop_back();
    hashes_.pop_back();
    if (visit) visit(id, hash);
  }
  ids_.push_back(id);
  hashes_.push_back(hash);
}

absl::Status CompactRange::Merge(const CompactRange& other, Hasher& hasher, const Visitor& visit) {
  if (other.begin_ != end_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "CompactRange::Merge: ranges not adjacent: end ", end_, " != begin ", other.begin_));
  }
  for (size_t i = 0; i < other.ids_.size(); ++i) {
    AppendNode(other.ids_[i], other.hashes_[i], hasher, visit);
  }
  end_ = other.end_;
  return absl::OkStatus();
}

absl::StatusOr<Hash> CompactRange::Root(Hasher& hasher) const {
  if (begin_ != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("CompactRange::Root: range starts at ", begin_, ", not 0"));
  }
  if (hashes_.empty()) return Hasher::EmptyRoot();
  return RightEdgeHash(0, hasher);
}

absl::StatusOr<Hash> CompactRange::RightEdgeHash(uint64_t from, Hasher& hasher) const {
  size_t first = 0;
  while (first < ids_.size() && ids_[first].Begin() < from) ++first;
  if (first == ids_.size() || ids_[first].Begin() != from) {
    return absl::InvalidArgumentError(absl::StrCat("CompactRange::RightEdgeHash: ", from,
                                                   " is not a node boundary of [", begin_, ", ",
                                                   end_, ")"));
  }
  Hash h = hashes_.back();
  for (size_t i = hashes_.size() - 1; i > first; --i) h = hasher.HashChildren(hashes_[i - 1], h);
  return h;
}

}  // namespace infratrail

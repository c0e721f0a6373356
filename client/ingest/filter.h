// The ingest filter: rules that drop mapped events as noise (a node's lease
// renewals, a controller reading secrets), each drop counted under the
// rule's name and never silent. Rules come from a YAML file (--filter):
//
//   rules:
//     - name: system-controllers             # required, unique
//       actor: ["system:node:*", "system:kube-*"]  # globs (verifier/policy/glob.h)
//       kind: [ACCESS, CONFIG_CHANGE]        # EventKind names
//       resource_provider: ["k8s:*"]
//       resource_type: [leases.coordination.k8s.io]
//       resource_id: ["kube-system/*"]
//       attributes: {k8s.verb: [update, patch]}
//
// A rule drops an event when every key it gives matches (a list matches when
// any item does); rules in file order, the first match names the drop. A
// rule needs at least one key besides `name`. docs/ingest.md lists each
// adapter's default rules, used when --filter is not given.
#ifndef INFRATRAIL_CLIENT_INGEST_FILTER_H_
#define INFRATRAIL_CLIENT_INGEST_FILTER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "infratrail/v1/event.pb.h"

namespace infratrail::ingest {

class EventFilter {
 public:
  // Parses rules; `name` is the file's name in errors ("FILE:LINE:COLUMN:
  // KEY: what"). InvalidArgument for anything wrong in the file.
  static absl::StatusOr<EventFilter> Parse(std::string_view yaml, const std::string& name);
  // Reads and parses a file (at most 1 MiB).
  static absl::StatusOr<EventFilter> Load(const std::string& path);
  // The default rules of an adapter (docs/ingest.md); none for most.
  static EventFilter DefaultFor(std::string_view adapter);

  EventFilter();
  ~EventFilter();
  EventFilter(EventFilter&&) noexcept;
  EventFilter& operator=(EventFilter&&) noexcept;

  // The name of the first rule that drops `event`, or nullptr to keep it.
  const std::string* Match(const v1::InfraEvent& event) const;

  // Rule names, in file order.
  std::vector<std::string> rule_names() const;

  struct Rule;  // filter.cc

 private:
  std::vector<std::unique_ptr<Rule>> rules_;
};

}  // namespace infratrail::ingest

#endif  // INFRATRAIL_CLIENT_INGEST_FILTER_H_
